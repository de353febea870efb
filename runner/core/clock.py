"""A timed session's clock: how long it runs, how much of it is used, how much is left.

One place for the arithmetic the CLI, the session server, the hub and the report all show. The
clock is a fold over the session's stored events (the ``events`` table of the SQLite store), so it
survives any process's death and needs no process's memory:

- ``clock_set`` ``{"minutes": M or null}``: the session's length is M minutes (null: untimed); earlier
  extensions no longer count. Written when a live session is created and when ``session start
  --duration`` resumes one.
- ``clock_up``: the candidate's JupyterLab answers (the first one starts the clock; later ones
  resume it after a stop). ``clock_down`` ``{"reason": ...}``: the session was stopped.
- ``clock_pause`` / ``clock_unpause``: the interviewer paused or resumed the clock.
- ``clock_extend`` ``{"minutes": N}``: the interviewer gave N more minutes.

Time counts only while the clock is up and not paused. Time used past the end is forgiven by an
extension: extending an expired clock by N minutes leaves N minutes. A session without a
``clock_set`` event (practice and hub sessions, live sessions from before the clock was stored)
counts from its ``created_at`` with its ``duration_minutes`` column, as it always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CLOCK_KINDS = ("clock_set", "clock_up", "clock_down", "clock_pause", "clock_unpause", "clock_extend")


@dataclass(frozen=True)
class Clock:
    """A session's clock at one moment (``at``)."""

    at: datetime
    minutes: float | None
    """The session's length, extensions included (None: untimed)."""
    used_seconds: float
    started_at: datetime | None
    """When the candidate's JupyterLab first answered (None: not yet; the clock waits)."""
    up: bool
    """The session runs (started and not stopped)."""
    paused: bool
    """The interviewer paused it."""
    extended_minutes: float = 0.0

    @property
    def running(self) -> bool:
        """Time counts now."""
        return self.up and not self.paused

    @property
    def remaining_seconds(self) -> float | None:
        """Seconds left, never below 0; None when untimed."""
        if self.minutes is None:
            return None
        return max(0.0, self.minutes * 60 - self.used_seconds)

    @property
    def closes_at(self) -> datetime | None:
        """When the time is up if the clock keeps running; None when untimed or while it does not run."""
        left = self.remaining_seconds
        return None if left is None or not self.running else self.at + timedelta(seconds=left)

    @property
    def expired(self) -> bool:
        """A timed clock with no time left."""
        return self.remaining_seconds == 0.0

    @property
    def state(self) -> str:
        """``waiting`` (not started), ``running``, ``paused``, ``stopped`` or ``expired``."""
        if self.started_at is None:
            return "paused" if self.paused else "waiting"
        if self.expired:
            return "expired"
        return "paused" if self.paused else "running" if self.up else "stopped"

    def view(self) -> dict[str, Any]:
        """JSON-ready: what the dashboard, the CLI and ``pitfalls-submit --status`` show."""
        end = self.closes_at
        return {"state": self.state, "duration_minutes": self.minutes, "used_seconds": round(self.used_seconds, 1),
                "remaining_seconds": self.remaining_seconds, "paused": self.paused, "running": self.running,
                "extended_minutes": self.extended_minutes,
                "started_at": self.started_at.isoformat(timespec="seconds") if self.started_at else None,
                "closes_at": end.isoformat(timespec="seconds") if end else None}


def _when(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _minutes(value: Any) -> float | None:
    return float(value) if value else None


def clock_of(session: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = (), *,
             at: datetime | None = None) -> Clock:
    """The clock of ``session`` (its row) from its ``events`` (rows of the event log, oldest first;
    other kinds are ignored) at ``at`` (default now)."""
    at = at or datetime.now(UTC)
    clock_events = [e for e in events if e["kind"] in CLOCK_KINDS]
    legacy = not any(e["kind"] == "clock_set" for e in clock_events)
    f = _Fold(minutes=_minutes(session.get("duration_minutes")))
    if legacy and session.get("created_at"):
        f.apply("clock_up", {}, _when(session["created_at"]))
    for e in clock_events:
        f.apply(e["kind"], e.get("data") or {}, _when(e["at"]))
    if legacy and session.get("ended_at"):  # stopped before the clock was stored
        f.apply("clock_down", {}, _when(session["ended_at"]))
    f.settle(at)
    return Clock(at=at, minutes=None if f.minutes is None else f.minutes + f.extra, used_seconds=f.used,
                 started_at=f.started, up=f.up, paused=f.paused, extended_minutes=f.extra)


class _Fold:
    """The running sums of :func:`clock_of`."""

    def __init__(self, *, minutes: float | None) -> None:
        self.minutes, self.extra, self.used = minutes, 0.0, 0.0
        self.up = self.paused = False
        self.started: datetime | None = None
        self.since: datetime | None = None  # when time began to count, while it does

    def settle(self, t: datetime) -> None:
        """Count the time up to ``t`` (a clock set back counts nothing)."""
        if self.since is not None:
            self.used += max(0.0, (t - self.since).total_seconds())
            self.since = max(self.since, t)

    def apply(self, kind: str, data: Mapping[str, Any], t: datetime) -> None:
        self.settle(t)
        total = None if self.minutes is None else (self.minutes + self.extra) * 60
        if kind == "clock_extend" and total is not None:
            self.used = min(self.used, total)  # time past the end is forgiven: N more minutes are N minutes
            self.extra += float(data.get("minutes") or 0)
        elif kind == "clock_set":
            self.minutes, self.extra = _minutes(data.get("minutes")), 0.0
        elif kind in ("clock_up", "clock_down"):
            self.up = kind == "clock_up"
            self.started = self.started or (t if self.up else None)
        elif kind in ("clock_pause", "clock_unpause"):
            self.paused = kind == "clock_pause"
        running = self.up and not self.paused
        self.since = (self.since or t) if running else None


def closes_at(session: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = (), *,
              at: datetime | None = None) -> datetime | None:
    """When a timed session's time is up if its clock keeps running (None: untimed, or not running)."""
    return clock_of(session, events, at=at).closes_at


def remaining_seconds(session: Mapping[str, Any] | None, events: Iterable[Mapping[str, Any]] = (), *,
                      at: datetime | None = None) -> float | None:
    """Seconds left on ``session``'s timer at ``at`` (default now), never below 0; None when the
    session is untimed or unknown (``None`` or an empty row)."""
    if not session:
        return None
    return clock_of(session, events, at=at).remaining_seconds


def session_clock(store: Any, session_id: str, *, at: datetime | None = None) -> Clock | None:
    """The clock of ``session_id`` as ``store`` (a :class:`pitfalls.core.store.Store`) holds it now
    (None for an unknown session)."""
    row = store.session(session_id)
    return None if row is None else clock_of(row, store.events(session_id), at=at)

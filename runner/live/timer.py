"""Changing a live session's clock: each change is one row of the session's event log.

The clock itself is computed from those rows (:mod:`pitfalls.core.clock`), so a change made from the
CLI shows on the dashboard at its next poll, and a SIGKILLed session server loses nothing. Only the
interviewer changes it: the CLI on the host, or the session server's interviewer-token endpoints
(``POST /pitfalls/api/clock``); nothing on the candidate's port or ``session.sock`` reaches this.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from pitfalls.core.clock import Clock, session_clock
from pitfalls.core.errors import SessionError
from pitfalls.core.store import Store, now

MAX_EXTEND_MINUTES = 240.0
ACTIONS = ("extend", "pause", "unpause")


def _clock(store: Store, session_id: str) -> Clock:
    clock = session_clock(store, session_id)
    if clock is None:
        raise SessionError(f"The session must exist to change its clock. Got no session {session_id!r} in "
                           f"{store.path}. Fix: pitfalls session status lists the sessions.")
    return clock


def _record(store: Store, session_id: str, kind: str, data: dict[str, Any],
            *, needed: Callable[[Clock], bool] = lambda _: True) -> bool:
    """Append ``kind`` to the event log in one transaction if ``needed`` holds for the clock read in
    that same transaction (so two callers at once never both pause); True when it was appended."""
    with store.tx() as db:
        if not needed(_clock(store, session_id)):
            return False
        db.execute("INSERT INTO events (session_id, at, kind, data) VALUES (?,?,?,?)",
                   (session_id, now(), kind, json.dumps(data)))
    return True


def extend(store: Store, session_id: str, minutes: Any, *, by: str) -> Clock:
    """Give the candidate ``minutes`` more (0 < minutes <= 240); time already past the end is forgiven.

    Raises:
        SessionError: bad minutes, an untimed session or an unknown one.
    """
    ok = isinstance(minutes, int | float) and not isinstance(minutes, bool) and math.isfinite(minutes)
    if not ok or not 0 < minutes <= MAX_EXTEND_MINUTES:
        raise SessionError(f"The minutes to add must be a number above 0 and at most {MAX_EXTEND_MINUTES:g}. Got "
                           f"{minutes!r} instead.")
    if _clock(store, session_id).minutes is None:
        raise SessionError("The session must be timed to extend it. Got an untimed session instead. Fix: "
                           "pitfalls session start NAME --session ID --duration MINUTES sets a length.")
    _record(store, session_id, "clock_extend", {"minutes": float(minutes), "by": by})
    return _clock(store, session_id)


def pause(store: Store, session_id: str, *, by: str) -> Clock:
    """Stop the clock until :func:`unpause` (a paused clock is left as it is)."""
    _record(store, session_id, "clock_pause", {"by": by}, needed=lambda c: not c.paused)
    return _clock(store, session_id)


def unpause(store: Store, session_id: str, *, by: str) -> Clock:
    """Let a paused clock count again (a clock not paused is left as it is)."""
    _record(store, session_id, "clock_unpause", {"by": by}, needed=lambda c: c.paused)
    return _clock(store, session_id)


def change(store: Store, session_id: str, action: Any, minutes: Any = None, *, by: str) -> Clock:
    """One of :data:`ACTIONS` by name (the dashboard's and the CLI's entry point).

    Raises:
        SessionError: an unknown action, or what the action itself refuses.
    """
    if action == "extend":
        return extend(store, session_id, minutes, by=by)
    if action in ("pause", "unpause"):
        return (pause if action == "pause" else unpause)(store, session_id, by=by)
    raise SessionError(f"The clock action must be one of {', '.join(ACTIONS)}. Got {action!r} instead.")


def set_length(store: Store, session_id: str, minutes: float | None, *, by: str) -> None:
    """Set the session's length (None or 0: untimed); earlier extensions stop counting."""
    _record(store, session_id, "clock_set", {"minutes": minutes or None, "by": by})


def mark_up(store: Store, session_id: str) -> bool:
    """The candidate's JupyterLab answers: the clock starts (or resumes after a stop). True if it was down."""
    return _record(store, session_id, "clock_up", {}, needed=lambda c: not c.up)


def mark_down(store: Store, session_id: str, reason: str) -> bool:
    """The session stopped: its time stops counting. True if it was up."""
    return _record(store, session_id, "clock_down", {"reason": reason}, needed=lambda c: c.up)

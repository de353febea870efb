"""Who gets the next slot: lanes, then round-robin across sessions, then arrival (pure functions).

Lanes: ``submit`` (a candidate waits for the score) before ``check`` (``pitfalls check`` runs) before
``probe`` (the hidden-bug probes nobody waits for). A lower lane is served only when no ticket of
a higher lane waits, and a probe never takes the last free slot of a multi-slot host, so a
submission that arrives while probes run finds a slot.

Within a lane the next slot goes to the oldest ticket of the session served least recently (a
session never served first; ties by arrival), so a burst of one session cannot starve another:
sessions A (4 jobs), B (2), C (2) arriving in that order are served A B C A B C A A.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["submit", "check", "probe"]
LANES: dict[str, int] = {"submit": 0, "check": 1, "probe": 2}
DEFAULT_HOLD_SECONDS = 30.0
"""Assumed seconds a job holds its slot before any job was measured (for "retry in about S s")."""


@dataclass(frozen=True)
class TicketInfo:
    """One waiting job, as its ticket file records it."""

    name: str
    session: str
    job: str
    kind: str
    pid: int
    arrival_ns: int
    width: int = 1
    """Slots the job holds at once (``pitfalls check``'s batch sandbox takes several)."""
    ready: bool = True
    """False from :func:`pitfalls.sched.enqueue` until its waiter calls ``wait``: it keeps its place
    but holds up nobody (no slot idles while its caller prepares, and a caller that queues again
    before waiting, e.g. to measure anchors, cannot deadlock with itself)."""

    @property
    def lane(self) -> int:
        return LANES[self.kind]


def served_key(kind: str, session: str) -> str:
    """Fairness is counted per lane: a session's probes do not push back its submissions."""
    return f"{LANES[kind]}:{session}"


def fair_order(tickets: Iterable[TicketInfo], served: Mapping[str, int]) -> list[TicketInfo]:
    """Every waiting ticket in the order slots will go to them (``served``: key -> serial of the
    session's last grant, see :func:`served_key`)."""
    counter = max(served.values(), default=0)
    out: list[TicketInfo] = []
    by_lane: dict[int, list[TicketInfo]] = {}
    for t in sorted(tickets, key=lambda t: (t.arrival_ns, t.name)):
        by_lane.setdefault(t.lane, []).append(t)
    for lane in sorted(by_lane):
        queues: dict[str, list[TicketInfo]] = {}
        for t in by_lane[lane]:
            queues.setdefault(t.session, []).append(t)
        last = {s: served.get(served_key(q[0].kind, s), -1) for s, q in queues.items()}
        while queues:
            s = min(queues, key=lambda s: (last[s], queues[s][0].arrival_ns, queues[s][0].name))
            out.append(queues[s].pop(0))
            counter += 1
            last[s] = counter
            if not queues[s]:
                del queues[s]
    return out


def may_take(order: list[TicketInfo], name: str, *, free: int, n_slots: int) -> bool:
    """Whether ticket ``name`` may take its slots now: the ready tickets ahead of it take theirs
    first (strictly in order, so a wide job is not starved by narrow ones behind it), and a probe
    leaves one slot free for a submission when the host has more than it needs."""
    rank = next(i for i, t in enumerate(order) if t.name == name)
    me = order[rank]
    ahead = sum(t.width for t in order[:rank] if t.ready)
    need = me.width + (1 if me.kind == "probe" and n_slots > me.width else 0)
    return free - ahead >= need


def retry_seconds(hold_seconds: float, n_slots: int, excess: int = 1) -> int:
    """About when ``excess`` queue places free up: jobs leave the queue ``n_slots`` at a time."""
    return max(5, math.ceil(hold_seconds * excess / n_slots))


def admission_error(tickets: list[TicketInfo], *, kind: str, session: str, max_queue: int,
                    max_per_session: int, hold_seconds: float, n_slots: int) -> tuple[str, int, int, int] | None:
    """(message, retry seconds, waiting, limit) when a new ticket must be refused, else None.

    The bound is per lane (probes never make a submission busy) and per session within a lane
    (one session's burst cannot fill the queue for everyone).
    """
    lane = [t for t in tickets if t.lane == LANES[kind]]
    if len(lane) >= max_queue:
        retry = retry_seconds(hold_seconds, n_slots, len(lane) - max_queue + 1)
        return (f"The scoring queue holds at most {max_queue} {kind} jobs. Got {len(lane)} waiting instead. "
                f"Retry in about {retry} s; nothing was queued.", retry, len(lane), max_queue)
    mine = [t for t in lane if t.session == session]
    if len(mine) >= max_per_session:
        retry = retry_seconds(hold_seconds, 1)
        return (f"A session may queue at most {max_per_session} {kind} jobs. Got {len(mine)} waiting for "
                f"session {session} instead. Retry in about {retry} s, when one is done; nothing was queued.",
                retry, len(mine), max_per_session)
    return None

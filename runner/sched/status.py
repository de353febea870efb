"""What the dashboard and the CLI show: who holds each slot, who waits and at which place."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from pitfalls.sched.files import open_file, try_lock
from pitfalls.sched.order import fair_order
from pitfalls.sched.queue import Scheduler


@dataclass(frozen=True)
class SlotStatus:
    """One slot: its CPUs and, while held, by whom and for how long."""

    index: int
    cpus: tuple[int, ...]
    busy: bool
    session: str = ""
    job: str = ""
    kind: str = ""
    pid: int = 0
    held_seconds: float = 0.0
    queued_seconds: float = 0.0


@dataclass(frozen=True)
class QueueEntry:
    """One waiting job and its 1-based place (the order in which slots will go)."""

    place: int
    session: str
    job: str
    kind: str
    pid: int
    queued_seconds: float


@dataclass(frozen=True)
class QueueStatus:
    """The host's scheduler at one instant."""

    slots: tuple[SlotStatus, ...]
    queue: tuple[QueueEntry, ...]
    max_queue: int
    hold_seconds: float
    """Mean seconds a slot was held lately (what "retry in about S s" is based on)."""

    def waiting_for(self, session_id: str) -> list[QueueEntry]:
        """The session's waiting jobs, first place first."""
        return [e for e in self.queue if e.session == session_id]

    def to_dict(self) -> dict:
        """JSON-ready (for the dashboard's API)."""
        return asdict(self)


def _slot(sched: Scheduler, index: int, now: float) -> SlotStatus:
    cpus = sched.config.slots[index]
    fd = open_file(sched.folder / "slots" / f"{index}.lock")
    try:
        if try_lock(fd):
            return SlotStatus(index=index, cpus=cpus, busy=False)
    finally:
        os.close(fd)  # a lock taken here to look is dropped at once (under queue.lock: nobody waits on it)
    try:
        info = json.loads((sched.folder / "slots" / f"{index}.json").read_text())
    except (OSError, ValueError):
        info = {}
    return SlotStatus(index=index, cpus=cpus, busy=True, session=str(info.get("session", "")),
                      job=str(info.get("job", "")), kind=str(info.get("kind", "")), pid=int(info.get("pid", 0)),
                      held_seconds=round(max(0.0, now - float(info.get("granted", now))), 1),
                      queued_seconds=float(info.get("queued_seconds", 0.0)))


def status(sched: Scheduler) -> QueueStatus:
    """The slots and the queue, in grant order (tickets of dead waiters are removed on the way)."""
    with sched.locked():
        now = time.time()
        slots = tuple(_slot(sched, i, now) for i in range(sched.n_slots))
        state = sched.read_state()
        order = fair_order(sched.live_tickets(), state["served"])
    queue = tuple(QueueEntry(place=i + 1, session=t.session, job=t.job, kind=t.kind, pid=t.pid,
                             queued_seconds=round(max(0.0, now - t.arrival_ns / 1e9), 1))
                  for i, t in enumerate(order))
    return QueueStatus(slots=slots, queue=queue, max_queue=sched.config.max_queue,
                       hold_seconds=state["hold_seconds"])

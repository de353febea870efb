"""The host-wide queue: ticket files, slot locks, grants (see :mod:`pitfalls.sched`).

Folder layout (``Config.folder``, 0700)::

    queue.lock          flock'ed around every decision (admission, grant, status)
    state.json          serial of each session's last grant (fairness), mean seconds a slot is held
    slots/<i>.lock      flock'ed by the holder of slot i for as long as it holds it
    slots/<i>.json      who holds slot i (meaningful only while its lock is held)
    tickets/<t>.json    one waiting job; flock'ed by its waiter, so a ticket whose lock is free
                        belongs to a dead process (whatever its pid is now) and is removed

Every lock is an ``flock`` on an open file description, released by the kernel when the process
dies however it dies (SIGKILL included): no counter can leak a slot. ``flock`` (not ``fcntl``
record locks) also keeps two threads of one process apart, and closing another descriptor of the
same file does not drop it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pitfalls.sched.config import Config, prepare_folder
from pitfalls.sched.errors import SchedulerBusy, SchedulerError, SchedulerTimeout
from pitfalls.sched.files import open_file, try_lock, write_json
from pitfalls.sched.held import Held
from pitfalls.sched.order import (
    DEFAULT_HOLD_SECONDS,
    LANES,
    TicketInfo,
    admission_error,
    fair_order,
    may_take,
    served_key,
)

STATE_FILE = "state.json"
SERVED_KEPT = 2000
"""Sessions remembered for fairness; one forgotten counts as never served (served first)."""
MAX_POLL_SECONDS = 1.0
"""Waiters poll ``poll_seconds * place``, at most this: the head of the queue reacts within
``poll_seconds`` while a long queue costs the host a few dozen lock rounds a second, not hundreds."""
REPORT_EVERY = 1.0
"""``on_wait`` is called when the place changes and at least this often (seconds)."""


@dataclass(frozen=True)
class Waiting:
    """What a waiter reports while queued: "place 2 of 5, queued 12 s"."""

    place: int
    waiting: int
    queued_seconds: float
    slots: int


class Scheduler:
    """One host's slots and queue, as seen from this process (cheap: state lives in the folder)."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        self.folder = prepare_folder(self.config)

    @property
    def n_slots(self) -> int:
        return len(self.config.slots)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``queue.lock``: every admission, grant and status is decided under it."""
        fd = open_file(self.folder / "queue.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read_state(self) -> dict:
        try:
            state = json.loads((self.folder / STATE_FILE).read_text())
        except (OSError, ValueError):
            state = {}
        return {"serial": int(state.get("serial", 0)), "served": dict(state.get("served", {})),
                "hold_seconds": float(state.get("hold_seconds", DEFAULT_HOLD_SECONDS))}

    def write_state(self, state: dict) -> None:
        served = state["served"]
        if len(served) > SERVED_KEPT:
            state["served"] = dict(sorted(served.items(), key=lambda kv: kv[1])[-SERVED_KEPT:])
        write_json(self.folder / STATE_FILE, state)

    def live_tickets(self) -> list[TicketInfo]:
        """The waiting tickets (under :meth:`locked`); tickets of dead waiters are removed."""
        out = []
        for path in (self.folder / "tickets").glob("*.json"):
            try:
                fd = open_file(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                if try_lock(fd, fcntl.LOCK_SH):  # nobody holds it: its waiter is gone
                    path.unlink(missing_ok=True)
                    continue
                data = json.loads(os.read(fd, 65536))
                out.append(TicketInfo(name=path.name, session=str(data["session"]), job=str(data["job"]),
                                      kind=str(data["kind"]), pid=int(data["pid"]),
                                      arrival_ns=int(data["arrival_ns"]), width=int(data.get("width", 1)),
                                      ready=bool(data.get("ready", True))))
            except (ValueError, KeyError):
                continue
            finally:
                os.close(fd)
        return out

    def free_slots(self) -> dict[int, int]:
        """Slot index -> a descriptor holding its lock, for every free slot (under :meth:`locked`).
        The caller keeps the ones it takes and closes the rest."""
        free = {}
        for i in range(self.n_slots):
            fd = open_file(self.folder / "slots" / f"{i}.lock")
            if try_lock(fd):
                free[i] = fd
            else:
                os.close(fd)
        return free

    def enqueue(self, *, job: str, session_id: str, kind: str = "submit", width: int = 1) -> Ticket:
        """Queue a job that needs ``width`` slots and return its ticket (wait with :meth:`Ticket.wait`).

        Raises:
            SchedulerBusy: the lane's queue, or this session's share of it, is full; nothing was queued.
        """
        if kind not in LANES:
            raise SchedulerError(f"kind must be one of {sorted(LANES)}. Got {kind!r} instead.")
        if not 1 <= width <= self.n_slots:
            raise SchedulerError(f"width must be between 1 and the host's {self.n_slots} slots. Got {width} instead. "
                                 "Ask for fewer slots, or give the scheduler more CPUs (PITFALLS_SCHED_CPUS).")
        with self.locked():
            state = self.read_state()
            refused = admission_error(self.live_tickets(), kind=kind, session=session_id,
                                      max_queue=self.config.max_queue, max_per_session=self.config.max_per_session,
                                      hold_seconds=state["hold_seconds"], n_slots=self.n_slots)
            if refused:
                message, retry, waiting, limit = refused
                raise SchedulerBusy(message, retry_seconds=retry, waiting=waiting, limit=limit)
            arrival = time.time_ns()
            path = self.folder / "tickets" / f"{arrival:020d}-{os.getpid()}-{os.urandom(4).hex()}.json"
            fd = open_file(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
            fcntl.flock(fd, fcntl.LOCK_EX)
            record = {"session": session_id, "job": job, "kind": kind, "pid": os.getpid(), "arrival_ns": arrival,
                      "width": width, "ready": False}
            os.write(fd, json.dumps(record).encode())
        return Ticket(self, path, fd, record)

    def slot(self, *, job: str, session_id: str, kind: str = "submit", width: int = 1,
             on_wait: Callable[[Waiting], None] | None = None, timeout: float | None = None) -> Held:
        """Queue and wait: :meth:`enqueue` then :meth:`Ticket.wait` (use the result as a context manager)."""
        ticket = self.enqueue(job=job, session_id=session_id, kind=kind, width=width)
        return ticket.wait(on_wait=on_wait, timeout=timeout)

    def record_hold(self, seconds: float) -> None:
        """Fold a finished hold into the mean used for "retry in about S s"."""
        with self.locked():
            state = self.read_state()
            state["hold_seconds"] = round(0.8 * state["hold_seconds"] + 0.2 * seconds, 2)
            self.write_state(state)


class Ticket:
    """A queued job. Its file is flock'ed by this process: if the process dies, the ticket is void.

    Until :meth:`wait` is called the ticket keeps its place but lets those behind it go first.
    """

    def __init__(self, sched: Scheduler, path: Path, fd: int, record: dict) -> None:
        self.sched, self.path, self._record = sched, path, record
        self.kind, self.session, self.job = record["kind"], record["session"], record["job"]
        self._fd: int | None = fd
        self._start = time.monotonic()

    def wait(self, *, on_wait: Callable[[Waiting], None] | None = None, timeout: float | None = None) -> Held:
        """Block until the ticket's turn and a slot are both there; return the held slot.

        ``on_wait`` gets a :class:`Waiting` when the place changes and about every second; if it
        raises, the ticket is withdrawn and the exception propagates.

        Raises:
            SchedulerTimeout: no slot within ``timeout`` seconds (the ticket is withdrawn).
        """
        if self._fd is None:
            raise SchedulerError("A ticket must be waited for once. Got a ticket already used or withdrawn instead.")
        last: tuple[int, float] | None = None
        try:
            self._mark_ready()
            while True:
                held, report = self._try_grant()
                if held is not None:
                    return held
                now = time.monotonic()
                if last is None or report.place != last[0] or now - last[1] >= REPORT_EVERY:
                    last = (report.place, now)
                    if on_wait is not None:
                        on_wait(report)
                if timeout is not None and now - self._start >= timeout:
                    raise SchedulerTimeout(
                        f"A {self.kind} job must get a CPU slot within {timeout:g} s. Got place {report.place} "
                        f"of {report.waiting} after {now - self._start:.1f} s instead. Retry later.")
                time.sleep(min(MAX_POLL_SECONDS, self.sched.config.poll_seconds * report.place))
        except BaseException:
            self.withdraw()
            raise

    def _mark_ready(self) -> None:
        """From now on the ticket's turn is taken when it comes (see ``TicketInfo.ready``)."""
        assert self._fd is not None
        with self.sched.locked():
            data = json.dumps({**self._record, "ready": True}).encode()
            os.pwrite(self._fd, data, 0)
            os.ftruncate(self._fd, len(data))

    def _try_grant(self) -> tuple[Held | None, Waiting]:
        sched = self.sched
        with sched.locked():
            order = fair_order(sched.live_tickets(), sched.read_state()["served"])
            if not any(t.name == self.path.name for t in order):
                raise SchedulerError(f"The ticket {self.path} must stay in the queue while its job waits. "
                                     "Got it removed instead (was the scheduler folder cleared?). Retry.")
            place = next(i for i, t in enumerate(order) if t.name == self.path.name) + 1
            queued = time.monotonic() - self._start
            free = sched.free_slots()
            try:
                if not may_take(order, self.path.name, free=len(free), n_slots=sched.n_slots):
                    return None, Waiting(place=place, waiting=len(order), queued_seconds=queued,
                                         slots=sched.n_slots)
                me = next(t for t in order if t.name == self.path.name)
                taken = {i: free.pop(i) for i in sorted(free)[:me.width]}
                held = Held(sched, taken, kind=self.kind, session=self.session, job=self.job,
                            queued_seconds=queued)
            finally:
                for fd in free.values():
                    os.close(fd)
            try:
                state = sched.read_state()
                state["serial"] += 1
                state["served"][served_key(self.kind, self.session)] = state["serial"]
                sched.write_state(state)
                self.withdraw()
            except BaseException:
                held.release_quietly()
                raise
        return held, Waiting(place=0, waiting=len(order) - 1, queued_seconds=queued, slots=sched.n_slots)

    def place(self) -> int | None:
        """1-based place in the queue now (None once granted or withdrawn)."""
        with self.sched.locked():
            order = fair_order(self.sched.live_tickets(), self.sched.read_state()["served"])
        return next((i + 1 for i, t in enumerate(order) if t.name == self.path.name), None)

    def withdraw(self) -> None:
        """Leave the queue (idempotent)."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.withdraw()

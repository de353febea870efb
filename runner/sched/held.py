"""A held slot: its CPUs, the environment and pinning for the job's processes, its timings."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

from pitfalls.sched.config import Config
from pitfalls.sched.cpuset import Reservation, thread_env
from pitfalls.sched.files import write_json
from pitfalls.sched.priority import holder_priority


class Scheduler(Protocol):
    """What a hold needs of its scheduler (:class:`pitfalls.sched.queue.Scheduler`), named here so
    held.py does not import queue.py, which imports it."""

    config: Config
    folder: Path

    def record_hold(self, seconds: float) -> None: ...


class Held:
    """A slot held by this process until :meth:`release` (or the end of a ``with`` block, or the
    process's death: the kernel drops its lock).

    Start every process of the job with ``preexec_fn=held.pin`` (or call :meth:`pin` from an
    existing ``preexec_fn``) and ``env`` merged into its environment.
    """

    def __init__(self, sched: Scheduler, locks: dict[int, int], *, kind: str, session: str, job: str,
                 queued_seconds: float) -> None:
        self.sched, self._locks = sched, dict(locks)
        self.indices: tuple[int, ...] = tuple(sorted(locks))
        """The slots held (one, unless the job asked for a wider share)."""
        self.kind, self.session, self.job = kind, session, job
        self.cpus: tuple[int, ...] = tuple(c for i in self.indices for c in sched.config.slots[i])
        self.env: dict[str, str] = thread_env(len(self.cpus))
        self.queued_seconds = round(queued_seconds, 2)
        """Seconds from the ticket to the grant: report it apart from any budgeted time."""
        self.granted_at = time.time()
        self._granted = time.monotonic()
        self._restore_priority = holder_priority()
        try:
            self.reservation = Reservation(
                self.cpus, name=f"sched-{os.getpid()}-{self.indices[0]}-{time.monotonic_ns()}",
                use_cgroups=sched.config.use_cgroups)
            for i in self.indices:
                write_json(sched.folder / "slots" / f"{i}.json",
                           {"session": session, "job": job, "kind": kind, "pid": os.getpid(),
                            "granted": self.granted_at, "queued_seconds": self.queued_seconds})
        except BaseException:
            self._close_locks()
            raise

    @property
    def index(self) -> int:
        """The first slot held."""
        return self.indices[0]

    @property
    def cgroup_path(self) -> Path | None:
        """The job's cpuset cgroup (None: pinned by ``sched_setaffinity`` only, which code may undo)."""
        return self.reservation.cgroup_path

    @property
    def held_seconds(self) -> float:
        return time.monotonic() - self._granted

    def pin(self) -> None:
        """In the child, between fork and exec: join the job's cgroups, set the CPU affinity."""
        self.reservation.pin()

    def pin_off_slot(self) -> None:
        """In the child, between fork and exec: any of the scheduler's CPUs (``PITFALLS_SCHED_CPUS``),
        never one outside them: for trusted preparation that moves onto the slot later (:meth:`adopt`)."""
        try:
            os.sched_setaffinity(0, self.sched.config.cpus)
        except OSError:
            pass

    def adopt(self, pids: list[int]) -> None:
        """From the trusted parent: move running processes onto the slot (cgroups and CPUs)."""
        self.reservation.adopt(pids)

    def cpu_seconds(self) -> float | None:
        """CPU seconds used so far by the job's processes (None without an accounting cgroup)."""
        return self.reservation.cpu_seconds()

    def release(self) -> None:
        """Kill what still runs on the slot's CPUs, then free the slot (idempotent)."""
        if not self._locks:
            return
        try:
            self.reservation.close()
        finally:
            self._close_locks()
        self.sched.record_hold(self.held_seconds)

    def release_quietly(self) -> None:
        """Free the slot without recording its hold (the grant itself failed; under queue.lock)."""
        try:
            self.reservation.close()
        finally:
            self._close_locks()

    def _close_locks(self) -> None:
        for fd in self._locks.values():
            os.close(fd)
        self._locks = {}
        self._restore_priority()

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return (f"Held(slots={self.indices}, cpus={self.cpus}, session={self.session!r}, job={self.job!r}, "
                f"queued={self.queued_seconds}s, cgroup={self.cgroup_path})")

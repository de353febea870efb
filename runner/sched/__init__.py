"""The host-wide scoring scheduler: every process that runs candidate code takes a CPU slot here.

At most ``cores // cores_per_job`` jobs hold CPUs at once; each holds a fixed CPU set (a cpuset
cgroup when the runner is root, else ``sched_setaffinity``) and thread settings that match it.
Waiting is by ticket: submissions before ``pitfalls check`` runs before probes, round-robin across
sessions within a lane, oldest first within a session. State lives in one host-wide folder
(:mod:`pitfalls.sched.config`) and every lock is an ``flock`` the kernel drops when its process
dies, so a killed holder or waiter never leaks a slot. Usage::

    from pitfalls import sched

    with sched.slot(job="train", session_id=sid, kind="submit", on_wait=show) as held:
        subprocess.Popen(argv, env={**env, **held.env}, preexec_fn=held.pin)
        ...  # held.cpus, held.queued_seconds, held.cgroup_path, held.cpu_seconds()

A server that must answer "queued" (or "busy") before it waits splits the two steps:
``ticket = sched.enqueue(...)`` (raises :class:`SchedulerBusy` at once when the queue is full),
then ``with ticket.wait(on_wait=...) as held:`` in its worker. ``sched.status()`` is the
dashboard's view of slots and queue.

Layer: imports only pitfalls.core and the standard library; the sandbox and scoring layers use it.
"""

from __future__ import annotations

from collections.abc import Callable

from pitfalls.sched.config import Config
from pitfalls.sched.cpuset import thread_env
from pitfalls.sched.errors import SchedulerBusy, SchedulerError, SchedulerTimeout
from pitfalls.sched.held import Held
from pitfalls.sched.queue import Scheduler, Ticket, Waiting
from pitfalls.sched.status import QueueEntry, QueueStatus, SlotStatus
from pitfalls.sched.status import status as _status

__all__ = ["Config", "Held", "QueueEntry", "QueueStatus", "Scheduler", "SchedulerBusy", "SchedulerError",
           "SchedulerTimeout", "SlotStatus", "Ticket", "Waiting", "enqueue", "slot", "status", "thread_env"]


def enqueue(*, job: str, session_id: str, kind: str = "submit", width: int = 1,
            config: Config | None = None) -> Ticket:
    """Queue a job now; wait for its slot later with ``ticket.wait()``.

    Raises:
        SchedulerBusy: the queue is full (nothing was queued; the message says when to retry).
        SchedulerError: the scheduler's folder or settings are unusable.
    """
    return Scheduler(config).enqueue(job=job, session_id=session_id, kind=kind, width=width)


def slot(*, job: str, session_id: str, kind: str = "submit", width: int = 1,
         on_wait: Callable[[Waiting], None] | None = None, timeout: float | None = None,
         config: Config | None = None) -> Held:
    """Queue and wait for a CPU slot; use the result as a context manager (the slot is freed at
    its end, and whatever still runs on its CPUs is killed).

    ``kind``: "submit" (a candidate waits), "check" (``pitfalls check``) or "probe" (nobody waits).
    ``width``: slots held at once (``held.cpus`` is their union), e.g. ``pitfalls check``'s batch
    sandbox that trains ``len(held.cpus)`` runs side by side.

    Raises:
        SchedulerBusy: the queue is full.
        SchedulerTimeout: no slot within ``timeout`` seconds.
    """
    return Scheduler(config).slot(job=job, session_id=session_id, kind=kind, width=width, on_wait=on_wait,
                                  timeout=timeout)


def status(config: Config | None = None) -> QueueStatus:
    """The host's slots and queue, for the dashboard and the CLI."""
    return _status(Scheduler(config))

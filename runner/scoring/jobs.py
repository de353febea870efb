"""A scoring job's place: a bounded private folder with a copy of the workspace, then a CPU slot of
the host-wide scheduler with the runner's thread on its CPUs at the runner's priority
(:func:`held_job`). Submissions (runner/scoring/pipeline.py), preflights and probes use it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from pitfalls import sched
from pitfalls.fs.jobfiles import prepare_dir
from pitfalls.fs.safecopy import copy_tree
from pitfalls.fs.safefs import Bounds, Walk
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.workspace import SANDBOX_SKIP, write_training_data
from pitfalls.sandbox import quota
from pitfalls.sandbox.bwrap import Limits, sandbox_uid
from pitfalls.sched import Held, Ticket, Waiting
from pitfalls.sched.priority import client_priority

JOB_HEADROOM_MB = 64
"""Room in a job's folder beyond ``max_disk_mb`` and the workspace: training data, held-out features."""
COPY_SKIP = SANDBOX_SKIP
COPY_BOUNDS = Bounds(max_entries=100_000, max_depth=64, max_seconds=300.0)
"""A sandbox's copy of a workspace (an unpacked snapshot is smaller: runner/library/workspace.py)."""


def _folder_mb(folder: Path) -> int:
    """MiB of the regular files :func:`copy_workspace` would copy from ``folder`` (no recursion, no link)."""
    with Walk(folder, bounds=COPY_BOUNDS, prune=lambda rel: rel[-1] in COPY_SKIP) as walk:
        total = sum(i.st.st_size for i in walk if i.kind == "file")
    return total // 2**20 + 1


def job_folder(*, scaffold: Scaffold, source: Path, prefix: str = quota.JOB_PREFIX) -> AbstractContextManager[Path]:
    """A private folder for one sandboxed run of ``source``, bounded to the scaffold's ``max_disk_mb``
    plus the workspace and some headroom (see runner/sandbox/quota.py); folders of killed runners are swept."""
    quota.sweep_stale()
    size_mb = scaffold.manifest.budgets.max_disk_mb + _folder_mb(source) + JOB_HEADROOM_MB
    return quota.bounded_folder(size_mb=size_mb, prefix=prefix)


def copy_workspace(source: Path, target: Path) -> None:
    """Copy workspace files for a sandbox run: regular files only (links are dropped, never
    followed; FIFOs never opened), without artifacts, caches or the session marker, race-free and
    without recursion (runner/fs/safecopy.py). ``target`` is created."""
    target.mkdir(parents=True)
    copy_tree(source, target, exact=False, bounds=COPY_BOUNDS, prune=lambda rel: rel[-1] in COPY_SKIP)


def limits_for(scaffold: Scaffold, seconds: float) -> Limits:
    """The scaffold's sandbox limits, with ``seconds`` of wall time."""
    b = scaffold.manifest.budgets
    return Limits(wall_seconds=seconds, memory_mb=b.memory_mb, max_processes=b.max_processes,
                  max_file_mb=b.max_file_mb)


@dataclass
class HeldJob:
    """A job folder with the workspace copied in, holding its CPU slot (see :func:`held_job`)."""

    job: Path
    work: Path
    uid: int
    held: Held
    queued: float
    """Seconds waited for the slot."""


@contextlib.contextmanager
def held_job(*, scaffold: Scaffold, source: Path, name: str, ticket: Ticket | None = None, session_id: str = "",
             kind: str = "submit", on_wait: Callable[[Waiting], None] | None = None) -> Iterator[HeldJob]:
    """A bounded job folder holding a copy of ``source`` (``work/``, with the pristine training data
    and an ``artifacts/`` folder), then a CPU slot of the host-wide scheduler (``ticket``, or one
    queued now as ``name`` in lane ``kind``), with this thread on its CPUs and at the runner's
    priority. The ticket is withdrawn whatever happens; the folder is removed on the way out."""
    try:
        with client_priority(), job_folder(scaffold=scaffold, source=source) as job:
            uid = sandbox_uid()
            work = job / "work"
            copy_workspace(source, work)
            (work / "artifacts").mkdir(exist_ok=True)
            write_training_data(scaffold=scaffold, directory=work)
            prepare_dir(work, uid)
            ticket = ticket or sched.enqueue(job=name, kind=kind, session_id=session_id or f"pid-{os.getpid()}")
            waited = time.monotonic()
            with ticket.wait(on_wait=on_wait) as held, _on_cpus(held.cpus):
                yield HeldJob(job=job, work=work, uid=uid, held=held, queued=time.monotonic() - waited)
    finally:
        if ticket is not None:
            ticket.withdraw()


@contextlib.contextmanager
def _on_cpus(cpus: tuple[int, ...]) -> Iterator[None]:
    """Keep this thread's own work for the job (counting, staging, scoring) on the job's CPUs, off
    the other slots' (Linux: ``sched_setaffinity(0)`` pins the calling thread only)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)

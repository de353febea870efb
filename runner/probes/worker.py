"""Bug probes off the candidate's wait: run after a submission's score is recorded.

A submission asked to be probed is answered with ``probe_status`` ``pending`` (runner/core/store.py);
then either this process probes it (:func:`probe_submission`, e.g. ``pitfalls submit --wait-probes``)
or :func:`spawn` starts a detached worker, ``python -m pitfalls.probes.worker --submission N``, that
outlives the command or server that started it:

- in its own session (a Ctrl-C or a restarted session server does not stop it), at a low CPU
  priority (``os.nice``), with no terminal;
- one at a time per session (an advisory lock the kernel releases when a worker dies), so a burst of
  submissions queues its probes instead of piling them up;
- it owns the row (``probe_pid``) from the moment it is started: if it dies, the next
  :class:`~pitfalls.core.store.Store` opened marks its probes ``interrupted``, never stuck ``pending``
  or ``running``.

The worker probes the stored snapshot, not the workspace (which may have changed since), and cross-checks
the probe run against the scored run's parameter count, as before (runner/probes/run.py).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pitfalls.core.store import Store, home

NICENESS = 10
"""How much lower than the scoring's the worker's CPU priority is (at least this niceness)."""
LOCK_FOLDER = "probe-locks"
UNFINISHED = ("pending", "running")


@dataclass(frozen=True)
class Scored:
    """What the probe run is cross-checked against: the scored run's parameter count (None: it saved none)."""

    params: int | None


def probe_submission(store: Store, submission_id: int) -> str:
    """Run the pending probes of one submission in this process and record them; returns the
    submission's probe status afterwards (``done``, ``failed``, or whatever it already was when it
    was not pending: another worker claimed it, or it was interrupted)."""
    if not store.claim_probes(submission_id):
        return str((store.submission(submission_id) or {}).get("probe_status", "none"))
    try:
        found = _probe(store, submission_id)
    except Exception as exc:  # noqa: BLE001 - recorded for the interviewer; the score stands
        store.finish_probes(submission_id, status="failed", probes=[], probe_flags=[],
                            message=f"The probe run failed in the runner: {type(exc).__name__}: {str(exc)[:300]}")
        return "failed"
    store.finish_probes(submission_id, status="done", probes=[p.__dict__ for p in found],
                        probe_flags=sorted({f for p in found for f in p.tampering}))
    return "done"


def _probe(store: Store, submission_id: int) -> list:
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.workspace import extract_snapshot
    from pitfalls.probes.run import run_probes
    from pitfalls.sandbox import quota

    row = store.submission(submission_id)
    session = store.session(row["session_id"]) if row else None
    if row is None or session is None:
        raise LookupError(f"submission {submission_id} is not in {store.path}")
    scaffold = load_scaffold(session["scaffold"])
    with tempfile.TemporaryDirectory(prefix=f"{quota.SNAP_PREFIX}{os.getpid()}-") as tmp:  # swept if killed
        source = Path(tmp)
        extract_snapshot(snapshot=Path(row["snapshot"]), target=source)
        return run_probes(scaffold=scaffold, source=source, scored=Scored(row["params"]))


def spawn(store: Store, submission_id: int) -> int:
    """Start a detached worker for the pending probes of ``submission_id`` and hand it the row;
    returns its pid (0 when none could be started: the probes are then recorded ``failed``). The
    worker inherits this process's environment (``PITFALLS_HOME``, TMPDIR)."""
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pitfalls.probes.worker", "--submission", str(submission_id),
                                 "--store", str(store.path)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
    except OSError as exc:  # no process to be had (a process limit): recorded, the score stands
        if store.claim_probes(submission_id):
            store.finish_probes(submission_id, status="failed", probes=[], probe_flags=[],
                                message=f"The probe worker could not be started: {exc}")
        return 0
    try:  # at once, not when the worker gets to it: its imports already compete with the scoring
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS))
    except OSError:
        pass  # it already ended: the row says so on the next open
    store.hand_probes(submission_id, proc.pid)
    return proc.pid


def wait(store: Store, submission_ids: list[int], timeout: float, poll: float = 0.5) -> list[int]:
    """Wait up to ``timeout`` seconds for the probes of ``submission_ids`` to finish (or be marked
    interrupted); returns the ids still unfinished."""
    deadline = time.monotonic() + timeout
    while True:
        store.recover()  # a worker that died leaves its row to whoever looks next
        left = [i for i in submission_ids if (store.submission(i) or {}).get("probe_status") in UNFINISHED]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))


def _session_lock(store: Store, submission_id: int) -> int:
    """An exclusive lock per session (blocking): one probe run of a session at a time."""
    row = store.submission(submission_id)
    folder = store.path.parent / LOCK_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{row['session_id'] if row else 'unknown'}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point: probe one submission at low priority; exit 0 unless the row was lost."""
    parser = argparse.ArgumentParser(prog="python -m pitfalls.probes.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--submission", type=int, required=True)
    parser.add_argument("--store", type=Path, default=None, help="the SQLite store (default: PITFALLS_HOME's)")
    args = parser.parse_args(argv)
    try:  # spawn() lowered it already; run by hand, lower it here
        os.nice(max(0, NICENESS - os.nice(0)))
    except OSError:
        pass
    store = Store(args.store or home() / "pitfalls.sqlite")
    try:
        lock = _session_lock(store, args.submission)
        try:
            status = probe_submission(store, args.submission)
        finally:
            os.close(lock)
    finally:
        store.close()
    return 0 if status in ("done", "failed") else 1


if __name__ == "__main__":
    sys.exit(main())

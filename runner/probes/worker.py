"""Bug probes off the candidate's wait: run after a submission's score is recorded.

A submission asked to be probed in the background is answered with ``probe_status`` ``pending``
(runner/core/store.py); :func:`spawn` then hands it to a detached worker,
``python -I -m pitfalls.probes.worker --session S``, that outlives the command or server that
started it (``pitfalls submit --wait-probes`` probes in its own process instead:
:func:`probe_submission`). A worker runs:

- in its own session (a Ctrl-C or a restarted session server does not stop it), at a low CPU
  priority (``os.nice``), with no terminal, from ``/`` with an isolated ``sys.path`` (``-I``: a
  ``pitfalls/`` folder in the caller's cwd, say a practice workspace, is never imported);
- at most one running and one waiting per session, however fast submissions come (a ``train.py``
  that exits at once is answered in seconds and not rate-limited). Two advisory locks per session,
  which the kernel releases when their holder dies: the *run* lock, held by the worker that probes,
  and the *wait* lock, held by the one worker waiting for the run lock. Once a worker holds the run
  lock it lets go of the wait lock, and only then drains every pending row of its session, oldest
  first, until none is left. :func:`spawn` starts a worker only when it gets the wait lock; when it
  cannot, the waiting worker will drain the new row (committed before the check, scanned after the
  waiter lets go), and the row is handed to it;
- it owns the rows handed to it (``probe_pid``): if it dies, the next
  :class:`~pitfalls.core.store.Store` opened marks their probes ``interrupted``, never stuck
  ``pending`` or ``running``.

The worker probes the stored snapshot, not the workspace (which may have changed since), and cross-checks
the probe run against the scored run's parameter count, as before (runner/probes/run.py). Probes that
did not run at all (the host's queue stayed full) are recorded ``failed`` with the reason, so they
never stand in for earlier verdicts.
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


def probe_submission(store: Store, submission_id: int, *, claimed: bool = False) -> str:
    """Run the probes of one submission in this process and record them; returns the submission's
    probe status afterwards (``done``, ``failed``, or whatever it already was when it was not
    pending: another worker claimed it, or it was interrupted). ``claimed``: this process recorded the
    row ``running`` itself (``submit --wait-probes``), so it is not claimed again."""
    if not claimed and not store.claim_probes(submission_id):
        return str((store.submission(submission_id) or {}).get("probe_status", "none"))
    from pitfalls.probes.run import did_not_run

    try:
        found = _probe(store, submission_id)
    except Exception as exc:  # noqa: BLE001 - recorded for the interviewer; the score stands
        store.finish_probes(submission_id, status="failed", probes=[], probe_flags=[],
                            message=f"The probe run failed in the runner: {type(exc).__name__}: {str(exc)[:300]}")
        return "failed"
    skipped = did_not_run(found)
    if skipped:  # the host's doing: no verdict at all, which must not hide earlier submissions' verdicts
        store.finish_probes(submission_id, status="failed", probes=[], probe_flags=[],
                            message=f"{skipped[:1].upper()}{skipped[1:400]}. The score stands; `pitfalls "
                                    "reveal` probes the workspace again.")
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
    scaffold = load_scaffold(session["scaffold"], source=session.get("scaffold_source"))
    with tempfile.TemporaryDirectory(prefix=f"{quota.SNAP_PREFIX}{os.getpid()}-") as tmp:  # swept if killed
        source = Path(tmp)
        extract_snapshot(snapshot=Path(row["snapshot"]), target=source)
        return run_probes(scaffold=scaffold, source=source, scored=Scored(row["params"]))


def drain(store: Store, session_id: str) -> dict[int, str]:
    """Probe every pending submission of a session, oldest first, until none is left (rows added
    meanwhile included); returns each one's probe status afterwards. Call it holding the run lock."""
    outcome: dict[int, str] = {}
    while pending := store.pending_probes(session_id):
        for sub in pending:  # each is claimed or already taken: no row is seen pending twice
            outcome[sub] = probe_submission(store, sub)
    return outcome


def _lock_file(store: Store, session_id: str, kind: str) -> int:
    """An open descriptor (not inherited by children) on one of the session's lock files."""
    folder = store.path.parent / LOCK_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in session_id) or "unknown"
    return os.open(folder / f"{name}.{kind}", os.O_RDWR | os.O_CREAT, 0o600)


def _write_pid(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


def _read_pid(fd: int) -> int:
    """The waiting worker's pid written in the wait lock file (0 while it is not written yet)."""
    text = os.pread(fd, 32, 0).decode(errors="replace")
    return int(text[:-1]) if text.endswith("\n") and text[:-1].isdigit() else 0


def spawn(store: Store, submission_id: int) -> int:
    """Hand the pending probes of ``submission_id`` to its session's waiting worker, or start one;
    returns the worker's pid (0 when none could be started: the probes are then recorded ``failed``).
    A started worker inherits this process's environment (``PITFALLS_HOME``, TMPDIR) but not its cwd."""
    row = store.submission(submission_id)
    session_id = str(row["session_id"]) if row else "unknown"
    try:
        guard = _lock_file(store, session_id, "spawn")  # spawns of a session, one at a time: milliseconds
    except OSError as exc:  # a full or read-only state folder: recorded, the score stands
        return _not_started(store, submission_id, exc)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        waiting = _lock_file(store, session_id, "wait")
        try:
            pid, held = _waiting_worker(waiting)
            if not pid:  # none is waiting: start one (it inherits the wait lock when we hold it)
                pid = _start(store, session_id, submission_id, waiting if held else None)
        finally:
            os.close(waiting)
    finally:
        os.close(guard)
    if pid:
        store.hand_probes(submission_id, pid)  # False: a worker claimed it already
    return pid


def _waiting_worker(waiting: int, patience: float = 2.0) -> tuple[int, bool]:
    """``(pid, False)`` of the worker holding the wait lock, or ``(0, True)`` once this process holds
    it. A holder whose pid is not written yet (its spawner was killed between the two) is given
    ``patience`` seconds, then ``(0, False)``: start a worker anyway (rare; it drains the same rows)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(waiting, 0)  # the last waiter's pid: read while ours is not written, it misleads
            return 0, True
        except BlockingIOError:
            pid = _read_pid(waiting)
            if pid:
                return pid, False
        if time.monotonic() >= deadline:
            return 0, False
        time.sleep(0.05)


def _start(store: Store, session_id: str, submission_id: int, waiting: int | None) -> int:
    """Start a worker for the session (handing it the wait lock ``waiting`` when given); its pid, or 0."""
    held = () if waiting is None else (waiting,)
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-m", "pitfalls.probes.worker", "--session", session_id,
                                 "--store", str(store.path.resolve()), *(("--wait-fd", str(waiting)) if held else ())],
                                env=absolute_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd="/", start_new_session=True, close_fds=True, pass_fds=held)
    except OSError as exc:  # no process to be had (a process limit): recorded, the score stands
        return _not_started(store, submission_id, exc)
    if waiting is not None:
        _write_pid(waiting, proc.pid)
    try:  # at once, not when the worker gets to it: its imports already compete with the scoring
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS))
    except OSError:
        pass  # it already ended: the row says so on the next open
    return proc.pid


PATH_VARIABLES = ("PITFALLS_HOME", "PITFALLS_SCHED_DIR", "PITFALLS_SCAFFOLDS", "TMPDIR")


def absolute_env() -> dict[str, str]:
    """This process's environment for a child started from ``/``: its folders made absolute."""
    env = dict(os.environ)
    for key in PATH_VARIABLES:
        if env.get(key):
            env[key] = os.pathsep.join(os.path.abspath(part) if part else part for part in env[key].split(os.pathsep))
    return env


def _not_started(store: Store, submission_id: int, exc: OSError) -> int:
    """Record that no worker could be started for a submission's probes (the score stands); 0."""
    if store.claim_probes(submission_id):
        store.finish_probes(submission_id, status="failed", probes=[], probe_flags=[],
                            message=f"The probe worker could not be started: {exc}")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point: wait for the session's run lock, let go of the wait lock, then probe
    every pending submission of the session at low priority; exit 0 unless the session is unknown."""
    parser = argparse.ArgumentParser(prog="python -m pitfalls.probes.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--session", help="the session whose pending probes to run")
    parser.add_argument("--submission", type=int, help="or: a submission of that session")
    parser.add_argument("--store", type=Path, default=None, help="the SQLite store (default: PITFALLS_HOME's)")
    parser.add_argument("--wait-fd", type=int, default=None, help="the wait lock's descriptor (from spawn)")
    args = parser.parse_args(argv)
    if args.wait_fd is not None:
        _write_pid(args.wait_fd, os.getpid())  # spawn wrote it too, unless it was killed before
    try:  # spawn() lowered it already; run by hand, lower it here
        os.nice(max(0, NICENESS - os.nice(0)))
    except OSError:
        pass
    store = Store(args.store or home() / "pitfalls.sqlite")
    try:
        session_id = args.session or (store.submission(args.submission or 0) or {}).get("session_id")
        if session_id is None:
            return 1
        run = _lock_file(store, session_id, "run")
        try:
            fcntl.flock(run, fcntl.LOCK_EX)  # one probing worker per session
            if args.wait_fd is not None:
                os.close(args.wait_fd)  # a new submission starts the next waiter now: we scan only after
            drain(store, session_id)
        finally:
            os.close(run)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Probes off the candidate's wait (issue 13, item 4), end to end with real processes.

`pitfalls submit` answers once the score is recorded, while its probe row is still pending or
running; the verdicts then appear in the store, the history and the reveal. A probe worker SIGKILLed
mid-probe leaves an ``interrupted`` row (never a stuck ``running``) and takes its sandbox with it.
The store's bookkeeping on its own is tests/unit/test_probes_store.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import run_cli, submit_json
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import read_marker
from pitfalls.probes import worker
from pitfalls.service import api
from pitfalls.service.storage import store_snapshot

BUGS = load_scaffold("tumor_triage").manifest.bugs


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_submit_answers_before_its_probes_then_history_and_reveal_show_the_verdicts(workspace):
    ws = workspace("tumor_triage")
    start = time.monotonic()
    view = submit_json(ws, "--note", "starter")
    answered = time.monotonic() - start
    sub = view["submission_id"]
    row = Store().submission(sub)
    assert view["status"] == "scored" and "probes" not in view
    assert row["probe_status"] in ("pending", "running") and row["probes"] == [], row["probe_status"]
    history = run_cli("history", "--dir", str(ws), check=True).stdout  # another process opens the store meanwhile
    if Store().submission(sub)["probe_status"] in ("pending", "running"):  # unfinished after it, so during it
        assert f"#{sub}: probes still running" in history, history  # (CI once finished them within the call)

    # Probes wait in the host-wide scheduler's lowest lane: in the full run, behind the other worker's
    # check runs, which took the 300 s this wait once had (CI, 2026-12-05). Alone: about 30 s.
    statuses = api.probe_status(directory=ws, wait_seconds=1500)
    probed = time.monotonic() - start
    assert statuses == {sub: "done"}
    row = Store().submission(sub)
    assert {p["bug_id"]: p["status"] for p in row["probes"]} == {b: "present" for b in BUGS}
    assert row["probe_finished_at"] >= row["finished_at"] and row["probe_message"] == ""
    assert "probes still running" not in run_cli("history", "--dir", str(ws), check=True).stdout
    print(f"submit answered in {answered:.1f} s; its probes were done {probed:.1f} s after it started")

    rv = json.loads(run_cli("reveal", "--dir", str(ws), "--json", check=True).stdout)
    [probes] = rv["submissions"]
    assert probes["submission_id"] == sub and probes["probe_status"] == "done"
    assert probes["verdicts"] == {b: "present" for b in BUGS} and probes["tampering"] is False
    text = run_cli("reveal", "--dir", str(ws), check=True).stdout
    assert "Probes of your submissions" in text and f"#{sub}: 0 of {len(BUGS)} bugs fixed; still present: " in text


def test_wait_probes_records_the_verdicts_before_submit_returns(workspace):
    ws = workspace("tumor_triage", reference=True)
    view = submit_json(ws, "--note", "reference", "--wait-probes")
    row = Store().submission(view["submission_id"])
    assert row["probe_status"] == "done" and {p["status"] for p in row["probes"]} == {"fixed"}
    nothing = submit_json(ws, "--note", "no probes", "--no-probes")
    assert Store().submission(nothing["submission_id"])["probe_status"] == "none"


def test_a_probe_worker_killed_mid_probe_leaves_an_interrupted_row_and_no_sandbox(workspace):
    ws = workspace("tumor_triage")
    result = api.submit(directory=ws, note="worker killed", probes="background")
    sub = result.submission_id
    assert result.status == "scored" and result.probes == []
    pid = Store().submission(sub)["probe_pid"]
    assert os.getsid(pid) == pid  # its own session: a Ctrl-C or a restarted server does not stop it
    assert _nice(pid) >= min(19, os.nice(0) + 10)
    deadline = time.monotonic() + 120
    while not (Store().submission(sub)["probe_status"] == "running" and _children(pid)):
        assert time.monotonic() < deadline, "the worker never started its probe sandbox"
        time.sleep(0.2)
    time.sleep(1.0)  # mid-probe: the sandbox is training
    sandbox = _children(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Store().submission(sub)["probe_status"] == "running":
        assert time.monotonic() < deadline, "a killed worker's probes stayed running"
        time.sleep(0.2)
    row = Store().submission(sub)
    assert row["probe_status"] == "interrupted" and "interrupted" in row["probe_message"]
    assert row["status"] == "scored" and row["probes"] == []  # the score stands
    while sandbox & {p for p in sandbox if Path(f"/proc/{p}").exists()}:
        assert time.monotonic() < deadline + 30, "the killed worker's sandbox outlived it"
        time.sleep(0.2)
    rv = api.reveal(directory=ws, wait_seconds=0)
    assert [s["probe_status"] for s in rv.submissions] == ["interrupted"]


def test_a_full_probe_lane_is_no_accusation(tmp_path, monkeypatch):
    """When the host's probe lane stays full, the probes say they did not run; no verdict carries a
    'tampering suspected' flag (the queue is the host's doing, not the candidate's)."""
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.variants import materialize
    from pitfalls.probes import run as probe_run

    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(tmp_path / "sched"))
    monkeypatch.setenv("PITFALLS_SCHED_MAX_QUEUE", "1")
    monkeypatch.setattr(probe_run, "PROBE_QUEUE_SECONDS", 0)
    scaffold = load_scaffold("tumor_triage")
    src = materialize(scaffold=scaffold, target=tmp_path / "w", reference=True)
    from pitfalls import sched

    width = len(sched.status().slots)
    with sched.slot(job="hog", session_id="other", width=width):
        blocker = sched.enqueue(job="waiting", session_id="another", kind="probe")  # fills the lane
        try:
            results = probe_run.run_probes(scaffold=scaffold, source=src)
        finally:
            blocker.withdraw()
    assert results and all(r.status == "unknown" and not r.tampering for r in results), results
    assert all("did not run" in r.evidence and "queue" in r.evidence for r in results), results


QUICK = {"train.py": "raise SystemExit(0)\n"}  # a train.py that exits at once: answered in seconds, not rate-limited


def _quick_rows(ws: Path) -> tuple[Store, str, Callable[[], int]]:
    """The store, the session and a maker of rows as api.submit leaves a failed quick submission asked
    to be probed in the background (its real snapshot stored, the row committed ``pending``)."""
    store = Store()
    sid = read_marker(ws)["session_id"]
    snapshot, digest = store_snapshot(directory=ws, session_id=sid, used=0)

    def add() -> int:
        sub = store.insert_submission(session_id=sid, note="quick", metric="roc_auc", snapshot=str(snapshot),
                                      snapshot_sha256=digest)
        store.finish_submission(sub, status="failed", message="train.py saved no artifact", probe_status="pending")
        return sub

    return store, sid, add


def _workers(session_id: str) -> set[int]:
    """Live probe worker processes of ``session_id`` (a zombie has no command line; a worker's child
    between fork and exec still shows the worker's, so it is left out)."""
    found: dict[int, int] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"pitfalls.probes.worker" in argv and session_id.encode() in argv:
            found[int(proc.name)] = parent
    return {pid for pid, parent in found.items() if parent not in found}


def test_a_burst_of_quick_submissions_runs_at_most_two_workers_and_probes_every_row(workspace):
    """The DoS: each quick submission used to start a worker of its own, all blocked on the session's
    lock. Now one waits (handed every row that arrives meanwhile) and one probes; none is orphaned."""
    store, sid, add = _quick_rows(workspace("tumor_triage", files=QUICK))
    counts: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            counts.append(len(_workers(sid)))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    run = worker._lock_file(store, sid, "run")
    fcntl.flock(run, fcntl.LOCK_EX)  # as if a worker were probing: the first one started waits
    try:
        first = [add() for _ in range(5)]
        pids = {worker.spawn(store, sub) for sub in first}
        assert len(pids) == 1 and _workers(sid) == pids, (pids, _workers(sid))
        assert {store.submission(sub)["probe_pid"] for sub in first} == pids  # the waiter owns them all
        assert {store.submission(sub)["probe_status"] for sub in first} == {"pending"}
    finally:
        os.close(run)
    rest = []
    for _ in range(5):  # while the waiter, now probing, drains: a new waiter at most
        rest.append(add())
        worker.spawn(store, rest[-1])
        time.sleep(0.3)
    try:
        assert worker.wait(store, first + rest, timeout=600) == []
    finally:
        stop.set()
        sampler.join()
    assert counts and max(counts) <= 2, max(counts)
    assert [store.submission(sub)["probe_status"] for sub in first + rest] == ["done"] * 10
    deadline = time.monotonic() + 10
    while _workers(sid):  # each exits once nothing is pending
        assert time.monotonic() < deadline, _workers(sid)
        time.sleep(0.1)


def test_a_pitfalls_package_in_the_callers_cwd_does_not_replace_the_worker(workspace, tmp_path, monkeypatch):
    """The practice workspace is the candidate's: a `pitfalls/probes/worker.py` there (or on
    PYTHONPATH) must not run as the root worker that records the verdicts."""
    store, sid, add = _quick_rows(workspace("tumor_triage", files=QUICK))
    evil, marker = tmp_path / "evil", tmp_path / "pwned"
    (evil / "pitfalls" / "probes").mkdir(parents=True)
    for init in ("pitfalls/__init__.py", "pitfalls/probes/__init__.py"):
        (evil / init).write_text("")
    (evil / "pitfalls" / "probes" / "worker.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(evil)
    monkeypatch.setenv("PYTHONPATH", str(evil))
    sub = add()
    assert worker.spawn(store, sub)
    assert worker.wait(store, [sub], timeout=600) == []
    assert not marker.exists() and store.submission(sub)["probe_status"] == "done"


def test_probes_that_did_not_run_are_recorded_failed_not_done(workspace, tmp_path, monkeypatch):
    """A full probe lane leaves no verdict: the row says so (failed, with the reason) instead of
    posing as a done row of unknowns that would hide earlier verdicts on the interviewer's dashboard."""
    from pitfalls import sched
    from pitfalls.probes import run as probe_run

    store, _, add = _quick_rows(workspace("tumor_triage", files=QUICK))
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(tmp_path / "sched"))
    monkeypatch.setenv("PITFALLS_SCHED_MAX_QUEUE", "1")
    monkeypatch.setattr(probe_run, "PROBE_QUEUE_SECONDS", 0)
    sub = add()
    with sched.slot(job="hog", session_id="other", width=len(sched.status().slots)):
        blocker = sched.enqueue(job="waiting", session_id="another", kind="probe")  # fills the lane
        try:
            assert worker.probe_submission(store, sub) == "failed"
        finally:
            blocker.withdraw()
    row = store.submission(sub)
    assert row["probe_status"] == "failed" and row["probes"] == [], row
    assert row["probe_message"].startswith("The probes did not run") and "queue" in row["probe_message"]

"""Probes off the candidate's wait (issue 13, item 4), end to end with real processes.

`pitfalls submit` answers once the score is recorded, while its probe row is still pending or
running; the verdicts then appear in the store, the history and the reveal. A probe worker SIGKILLed
mid-probe leaves an ``interrupted`` row (never a stuck ``running``) and takes its sandbox with it.
The store's bookkeeping on its own is tests/unit/test_probes_store.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from conftest import run_cli, submit_json
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.service import api

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
    assert f"#{sub}: probes still running" in history, history

    statuses = api.probe_status(directory=ws, wait_seconds=300)
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
    assert "Probes of your submissions" in text and f"#{sub}: {BUGS[0]} present" in text


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

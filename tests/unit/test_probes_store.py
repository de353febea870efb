"""Probe status in the store (runner/core/store.py) and its worker's bookkeeping (runner/probes/worker.py).

No probe runs here: rows are written through the Store's methods as api.submit and the worker write
them, and the "worker" killed is a real process (``sleep``) that owns the row. The end-to-end runs
(a real worker SIGKILLed mid-probe, the CLI returning before its probes) are tests/test_probes_background.py.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pitfalls.cli import render
from pitfalls.cli.main import cli
from pitfalls.core.store import ADDED_COLUMNS, Store
from pitfalls.probes import worker

PROBE_COLUMNS = ("probe_status", "probe_pid", "probe_pid_started", "probe_finished_at", "probe_message")


def _scored(store: Store, tmp_path, probe_status: str = "pending") -> int:
    sid = store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")
    sub = store.insert_submission(session_id=sid, note="n", metric="m", snapshot="s", snapshot_sha256="h")
    store.finish_submission(sub, status="scored", score_public=0.5, probe_status=probe_status)
    return sub


def _owned_by_a_process_that_dies(store: Store, sub: int) -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "60"])
    assert store.hand_probes(sub, proc.pid)
    return proc


def test_an_older_database_gains_probe_status_and_its_probed_rows_are_done(tmp_path):
    """Rows probed before they were answered keep their verdicts and read ``done``; the others ``none``."""
    path = tmp_path / "old.sqlite"
    store = Store(path)
    probed = _scored(store, tmp_path, probe_status="none")
    store.db.execute("UPDATE submissions SET probes=? WHERE id=?", ('[{"bug_id": "leak", "status": "fixed"}]', probed))
    unprobed = _scored(store, tmp_path, probe_status="none")
    store.close()
    db = sqlite3.connect(path)
    for column in PROBE_COLUMNS:
        db.execute(f"ALTER TABLE submissions DROP COLUMN {column}")
    db.commit()
    db.close()
    store = Store(path)
    assert set(PROBE_COLUMNS) <= set(ADDED_COLUMNS)
    assert store.submission(probed)["probe_status"] == "done"
    assert store.submission(probed)["probes"] == [{"bug_id": "leak", "status": "fixed"}]
    assert store.submission(unprobed)["probe_status"] == "none"
    assert store.migrate() == []


def test_pending_probes_of_a_live_owner_stay_pending_and_of_a_killed_one_are_interrupted(tmp_path):
    store = Store()
    sub = _scored(store, tmp_path)
    assert Store().submission(sub)["probe_status"] == "pending"  # this process owns them: not abandoned
    proc = _owned_by_a_process_that_dies(store, sub)
    try:
        assert Store().submission(sub)["probe_status"] == "pending"  # the worker is alive
        assert Store().submission(sub)["probe_pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    row = Store().submission(sub)
    assert row["probe_status"] == "interrupted" and "interrupted" in row["probe_message"]
    assert row["probe_finished_at"] and row["status"] == "scored" and row["score_public"] == 0.5  # the score stands


def test_probes_this_process_abandoned_are_interrupted(tmp_path):
    """A row owned by this process but not tracked as probing (its outcome could not be written) is mended."""
    store = Store()
    sub = _scored(store, tmp_path)
    assert store.claim_probes(sub)
    store.db.execute("UPDATE submissions SET probe_pid=? WHERE id=?", (os.getpid(), sub))
    from pitfalls.core import store as store_module

    store_module._PROBING.discard(sub)
    assert Store().submission(sub)["probe_status"] == "interrupted"


def test_probes_are_claimed_once_and_finished_only_by_their_claimant(tmp_path):
    store = Store()
    sub = _scored(store, tmp_path)
    assert store.claim_probes(sub) and not store.claim_probes(sub)
    assert store.submission(sub)["probe_status"] == "running"
    with pytest.raises(ValueError, match="must end done or failed. Got 'interrupted'"):
        store.finish_probes(sub, status="interrupted", probes=[], probe_flags=[])
    store.finish_probes(sub, status="done", probes=[{"bug_id": "leak", "status": "present"}], probe_flags=["f"])
    row = Store().submission(sub)
    assert (row["probe_status"], row["probes"], row["probe_flags"]) == ("done", [{"bug_id": "leak", "status": "present"}], ["f"])
    assert not store.claim_probes(sub) and worker.probe_submission(store, sub) == "done"  # not probed again


def test_a_late_worker_cannot_overwrite_interrupted_probes(tmp_path):
    store = Store()
    sub = _scored(store, tmp_path)
    proc = _owned_by_a_process_that_dies(store, sub)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert Store().submission(sub)["probe_status"] == "interrupted"
    assert worker.probe_submission(store, sub) == "interrupted"  # not pending: nothing runs
    store.finish_probes(sub, status="done", probes=[{"bug_id": "x", "status": "fixed"}], probe_flags=[])
    assert store.submission(sub)["probe_status"] == "interrupted" and store.submission(sub)["probes"] == []


def test_wait_returns_what_is_unfinished_and_marks_a_dead_worker_on_the_way(tmp_path):
    store = Store()
    sub = _scored(store, tmp_path)
    proc = _owned_by_a_process_that_dies(store, sub)
    assert worker.wait(store, [sub], timeout=0.3, poll=0.1) == [sub]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert worker.wait(store, [sub], timeout=5, poll=0.1) == []
    assert store.submission(sub)["probe_status"] == "interrupted"


def test_submit_refuses_no_probes_with_wait_probes(tmp_path):
    result = CliRunner().invoke(cli, ["submit", "--dir", str(tmp_path), "--no-probes", "--wait-probes"])
    assert result.exit_code == 2 and "Give --no-probes or --wait-probes, not both" in result.output


def test_history_and_reveal_say_which_probes_are_not_done():
    assert render.probe_status({1: "done", 2: "none"}) == ""
    text = render.probe_status({1: "done", 2: "running", 3: "interrupted"})
    assert "#2: probes still running" in text and "#3: probes interrupted" in text and "#1" not in text

    class Rv:
        waited = 12.3
        bugs = [{"id": "leak", "title": "Scaling fitted on all rows"}, {"id": "seed", "title": "Unseeded split"}]
        submissions = [{"submission_id": 1, "probe_status": "done", "verdicts": {"leak": "fixed", "seed": "present"},
                        "tampering": True},
                       {"submission_id": 2, "probe_status": "running", "verdicts": {}, "tampering": False}]

    lines = "\n".join(render.submission_probes(Rv()))
    assert "(waited 12.3 s for them)" in lines
    assert "#1: 1 of 2 bugs fixed; still present: Unseeded split (tampering suspected)" in lines
    assert "leak" not in lines  # titles only, never a bug's id
    assert "#2: probes still running" in lines


def test_a_worker_opening_the_store_does_not_interrupt_the_probes_handed_to_it(tmp_path):
    """The worker's own Store() sees a pending row owned by its pid (handed over, not yet claimed)."""
    store = Store()
    sub = _scored(store, tmp_path)
    assert store.hand_probes(sub, os.getpid())  # as if this process were the worker spawned for it
    assert Store().submission(sub)["probe_status"] == "pending"
    assert store.claim_probes(sub) and Store().submission(sub)["probe_status"] == "running"


def test_a_killed_worker_not_yet_reaped_is_dead(tmp_path):
    """A zombie (killed, its parent has not waited for it yet) owns nothing: its probes are interrupted."""
    store = Store()
    sub = _scored(store, tmp_path)
    proc = _owned_by_a_process_that_dies(store, sub)
    proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        assert Store().submission(sub)["probe_status"] == "interrupted"
    finally:
        proc.wait()


def test_a_session_drains_its_pending_rows_oldest_first_and_leaves_rows_probed_in_process(tmp_path):
    """A worker drains pending rows only: a ``--wait-probes`` row is claimed ``running`` in the scoring
    write itself (api.submit), so no worker draining the session takes it from the submitter."""
    store = Store()
    sid = store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")
    other = _scored(store, tmp_path)  # another session's row
    rows = []
    for status in ("pending", "running", "pending", "none"):
        sub = store.insert_submission(session_id=sid, note="n", metric="m", snapshot="s", snapshot_sha256="h")
        store.finish_submission(sub, status="scored", score_public=0.5, probe_status=status)
        rows.append(sub)
    assert store.pending_probes(sid) == [rows[0], rows[2]]
    claimed = Store().submission(rows[1])  # another process's open does not interrupt it: this one owns it
    assert claimed["probe_status"] == "running" and claimed["probe_pid"] == os.getpid()
    assert worker.drain(store, sid) == {rows[0]: "failed", rows[2]: "failed"}  # snapshot "s" is no snapshot
    assert store.pending_probes(sid) == [] and store.submission(other)["probe_status"] == "pending"
    assert store.submission(rows[1])["probe_status"] == "running"
    assert "The probe run failed in the runner" in store.submission(rows[0])["probe_message"]
    store.finish_probes(rows[1], status="done", probes=[], probe_flags=[])
    assert store.submission(rows[1])["probe_status"] == "done"


def test_did_not_run_tells_probes_that_never_ran_from_unknown_verdicts():
    from pitfalls.core.results import ProbeResult
    from pitfalls.probes.run import did_not_run

    skipped = [ProbeResult(b, "unknown", "the probes did not run: the queue is full", self_reported=False)
               for b in ("leak", "scale")]
    assert did_not_run(skipped) == "the probes did not run: the queue is full"
    assert did_not_run([]) == ""
    assert did_not_run([skipped[0], ProbeResult("scale", "unknown", "no verdict")]) == ""
    assert did_not_run([ProbeResult("leak", "unknown", "the probes did not run: forged")]) == ""  # self-reported

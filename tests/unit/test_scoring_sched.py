"""Scoring through the host-wide scheduler, without running candidate code: a full queue refuses a
submission before anything is stored (API and CLI), and what the candidate reads about the wait.

The sandbox-running half (queue time off the training clock, the slot's threads in the sandbox,
verdicts under load) is in tests/test_fair_verdicts.py.
"""

from __future__ import annotations

import sys

import pytest

from pitfalls import sched
from pitfalls.cli import render
from pitfalls.cli.main import main
from pitfalls.core.store import Store
from pitfalls.library.workspace import read_marker
from pitfalls.service import api


@pytest.fixture
def full_queue(tmp_path, monkeypatch):
    """A private scheduler whose submit lane (one place) is taken by another session's ticket."""
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(tmp_path / "sched"))
    monkeypatch.setenv("PITFALLS_SCHED_MAX_QUEUE", "1")
    ticket = sched.enqueue(job="submit other", session_id="another-session")
    yield ticket
    ticket.withdraw()


def _stored(directory) -> list:
    session = read_marker(directory)["session_id"]
    store = Store()
    try:
        return store.submissions(session)
    finally:
        store.close()


def test_a_busy_queue_stores_nothing_and_says_when_to_retry(workspace, full_queue, pitfalls_home):
    ws = workspace("tumor_triage")
    snapshots_before = sorted(p for p in pitfalls_home.rglob("*") if p.is_file())
    with pytest.raises(sched.SchedulerBusy) as busy:
        api.submit(directory=ws, note="while the host is full", probes=False)
    assert "Retry in about" in str(busy.value) and "nothing was queued" in str(busy.value)
    assert busy.value.retry_seconds >= 5
    assert _stored(ws) == []
    assert sorted(p for p in pitfalls_home.rglob("*") if p.is_file()) == snapshots_before  # no snapshot
    assert [e.session for e in sched.status().queue] == ["another-session"]  # nor a ticket left behind


def test_the_cli_says_busy_in_one_line(workspace, full_queue, monkeypatch, capsys):
    ws = workspace("tumor_triage")
    monkeypatch.setattr(sys, "argv", ["pitfalls", "submit", "--dir", str(ws), "--note", "busy host"])
    with pytest.raises(SystemExit) as code:
        main()
    err = capsys.readouterr().err
    assert code.value.code == 1
    assert err.startswith("error: The scoring queue holds at most 1 submit jobs.") and "Retry in about" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert _stored(ws) == []


def test_the_queue_is_shown_apart_from_the_budget():
    line = render.timings({"train_seconds": 15.24, "predict_seconds": 0.8, "queued_seconds": 12.2,
                           "train_limit_seconds": 60.0, "train_cpu_seconds": 14.9})
    assert line == "queued 12 s, trained 15.2 s of 60 s (CPU 14.9 s), predicted 0.8 s"
    assert render.timings({"train_seconds": 3.0}) == "trained 3.0 s"  # rows stored before the scheduler
    assert "place 2 of 5, 12 s" in render.waiting(2, 5, 12.4)

"""The store (pitfalls.core.store) on its own: rows, JSON columns, recovery of interrupted rows.

No submission is scored here: rows are written through the Store's methods as the pipeline writes
them. Durability under a killed runner, end to end, is tests/test_store.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from pitfalls.core.store import ADDED_COLUMNS, Store


def _session(store: Store, tmp_path) -> str:
    return store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")


def test_live_runner_row_is_not_recovered(pitfalls_home, tmp_path):
    """A running submission whose runner is alive must not be marked failed by another process."""
    store = Store()
    sid = store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")
    sub = store.insert_submission(session_id=sid, note="", metric="m", snapshot="x", snapshot_sha256="y")
    assert Store().submission(sub)["status"] == "running"
    store.db.execute("UPDATE submissions SET runner_started='1' WHERE id=?", (sub,))  # a reused pid
    assert Store().submission(sub)["status"] == "failed"


def test_a_row_whose_runner_is_gone_is_failed_with_its_note_and_snapshot_kept(tmp_path):
    """Opening a store marks a running row of a dead runner failed, says why, and keeps the rest."""
    store = Store()
    sid = _session(store, tmp_path)
    sub = store.insert_submission(session_id=sid, note="kept", metric="m", snapshot="s.tar", snapshot_sha256="h")
    store.db.execute("UPDATE submissions SET runner_pid=? WHERE id=?", (2**22 + 1, sub))  # above pid_max
    row = Store().submission(sub)
    assert row["status"] == "failed" and "interrupted" in row["message"]
    assert (row["note"], row["snapshot"], row["snapshot_sha256"]) == ("kept", "s.tar", "h")


def test_a_row_finished_while_recovery_looks_keeps_its_verdict(tmp_path, monkeypatch):
    """Recovery reads the running rows, then decides which runners are dead: a row its runner
    finished in between keeps its verdict (the CI saw a rejected submission turn 'failed')."""
    from pitfalls.core import store as store_module

    store = Store()
    sid = _session(store, tmp_path)
    sub = store.insert_submission(session_id=sid, note="", metric="m", snapshot="s", snapshot_sha256="h")
    other = Store()

    def finished_meanwhile(pid, started):  # called after the SELECT, as a slow runner check would be
        store.finish_submission(sub, status="rejected", message="Prediction must finish within 5 s.")
        return False

    monkeypatch.setattr(store_module, "_alive", finished_meanwhile)
    other.recover()
    row = store.submission(sub)
    assert (row["status"], row["message"]) == ("rejected", "Prediction must finish within 5 s.")


def test_finished_submission_round_trips_its_json_columns(tmp_path):
    """Violations, timings and probes are stored as JSON and come back as the same values."""
    store = Store()
    sid = _session(store, tmp_path)
    sub = store.insert_submission(session_id=sid, note="n", metric="m", snapshot="s", snapshot_sha256="h")
    violations = [{"constraint": "max_params", "limit": 10, "actual": 11}]
    store.finish_submission(sub, status="rejected", violations=violations, timings={"train": 1.5},
                            probes=[{"bug": "leak", "status": "fixed"}])
    row = Store().submission(sub)
    assert row["status"] == "rejected" and row["finished_at"]
    assert row["violations"] == violations and row["timings"] == {"train": 1.5}
    assert row["probes"] == [{"bug": "leak", "status": "fixed"}]
    assert [r["id"] for r in store.submissions(sid)] == [sub]


def test_update_session_refuses_other_columns(tmp_path):
    """Only ended_at, duration_minutes and candidate change; the message names what was refused."""
    store = Store()
    sid = _session(store, tmp_path)
    with pytest.raises(ValueError, match=r"Only ended_at, duration_minutes and candidate can change.*'scaffold'"):
        store.update_session(sid, scaffold="other")
    store.update_session(sid, candidate="ada")
    assert store.session(sid)["candidate"] == "ada" and store.session(sid)["scaffold"] == "tumor_triage"


def test_events_are_filtered_by_kind_in_order(tmp_path):
    store = Store()
    sid = _session(store, tmp_path)
    for kind, n in (("hint", 1), ("reveal", 2), ("hint", 3)):
        store.add_event(sid, kind, {"n": n})
    assert [e["data"]["n"] for e in store.events(sid, "hint")] == [1, 3]
    assert [e["kind"] for e in store.events(sid)] == ["hint", "reveal", "hint"]


def test_an_older_database_gains_the_added_columns(tmp_path):
    """A database written before a column existed is migrated on open, once."""
    path = tmp_path / "old.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    column = next(iter(ADDED_COLUMNS))
    db.execute(f"ALTER TABLE submissions DROP COLUMN {column}")
    db.commit()
    db.close()
    store = Store(path)
    assert column in {r["name"] for r in store.db.execute("PRAGMA table_info(submissions)")}
    assert store.migrate() == []

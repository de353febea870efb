"""The final submission (pitfalls.core.finals) on the real store: the default (last scored), a choice
that holds, refusals inside the transaction, durability, and a database made before the table."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from pitfalls.core.finals import FinalChoiceError, choose_final, final_submission
from pitfalls.core.store import Store


def _session(store: Store, tmp_path, statuses: list[str]) -> tuple[str, list[int]]:
    sid = store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")
    ids = []
    for status in statuses:
        sub = store.insert_submission(session_id=sid, note="", metric="roc_auc", snapshot="s", snapshot_sha256="h")
        if status != "running":
            store.finish_submission(sub, status=status, score_public=0.9, score_private=0.8)
        ids.append(sub)
    return sid, ids


def test_the_last_scored_submission_is_final_by_default(tmp_path):
    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored", "rejected", "failed"])
    got = final_submission(store, sid)
    assert (got.submission_id, got.chosen, got.at) == (ids[1], False, None)
    assert final_submission(store, store.create_session(scaffold="x", workspace=tmp_path, mode="practice")) is None


def test_a_choice_holds_over_later_submissions_and_the_newest_choice_wins(tmp_path):
    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored"])
    chosen = choose_final(store, sid, ids[0], via="final")
    assert Store().db.execute("SELECT COUNT(*) FROM final_choices").fetchone()[0] == 1  # committed: another connection
    later = store.insert_submission(session_id=sid, note="", metric="m", snapshot="s", snapshot_sha256="h")
    store.finish_submission(later, status="scored", score_public=0.95)
    got = final_submission(Store(), sid)
    assert got == chosen and got.chosen and got.submission_id == ids[0]
    choose_final(store, sid, later, via="submit --final")
    assert final_submission(store, sid).submission_id == later
    events = store.events(sid, "final")
    assert [e["data"] for e in events] == [{"submission_id": ids[0], "via": "final"},
                                           {"submission_id": later, "via": "submit --final"}]


@pytest.mark.parametrize(("pick", "why"), [(1, "it was rejected"), (2, "it failed"), (3, "it is still being scored"),
                                           (99, "no submission of this workspace has that number"),
                                           ("1", "not a submission number"), (True, "not a submission number")])
def test_only_a_scored_submission_of_the_session_can_be_chosen(tmp_path, pick, why):
    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "rejected", "failed", "running", "scored"])
    number = ids[pick] if isinstance(pick, int) and not isinstance(pick, bool) and pick < 99 else pick
    with pytest.raises(FinalChoiceError) as err:
        choose_final(store, sid, number, via="final", how="`pitfalls history` lists them.")
    assert str(err.value) == (f"The final submission must be one of the scored submissions {ids[0]}, {ids[4]}. "
                              f"Got {number!r} instead ({why}). `pitfalls history` lists them.")
    assert store.db.execute("SELECT COUNT(*) FROM final_choices").fetchone()[0] == 0
    assert store.events(sid, "final") == []  # nothing of the refused choice was written


def test_another_sessions_submission_cannot_be_chosen(tmp_path):
    """A scored row of another session (another candidate's workspace) is refused like a missing one."""
    store = Store()
    sid, _ = _session(store, tmp_path, ["scored"])
    other, theirs = _session(store, tmp_path, ["scored"])
    with pytest.raises(FinalChoiceError, match="no submission of this workspace has that number"):
        choose_final(store, sid, theirs[0], via="final")
    assert final_submission(store, other).chosen is False


def test_no_scored_submission_yet_says_so(tmp_path):
    store = Store()
    sid, ids = _session(store, tmp_path, ["rejected"])
    with pytest.raises(FinalChoiceError, match=r"must be a scored submission, and none is scored yet\. Got"):
        choose_final(store, sid, ids[0], via="final")


def test_a_choice_is_not_acknowledged_when_it_cannot_be_stored(tmp_path):
    """A writer holding the database past the timeout: the choice raises and nothing is recorded."""
    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored"])
    store.db.execute("PRAGMA busy_timeout=100")
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            choose_final(store, sid, ids[0], via="final")
    finally:
        blocker.execute("ROLLBACK")
    assert final_submission(store, sid).chosen is False


def test_concurrent_choices_each_commit_and_the_last_committed_holds(tmp_path):
    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored", "scored"])
    done: list[int] = []

    def pick(n: int) -> None:
        s = Store(store.path)
        for _ in range(20):
            done.append(choose_final(s, sid, n, via="t").submission_id)

    threads = [threading.Thread(target=pick, args=(i,)) for i in ids]
    [t.start() for t in threads]
    [t.join() for t in threads]
    newest = store.db.execute("SELECT submission_id FROM final_choices ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert len(done) == 60 and final_submission(store, sid).submission_id == newest


def test_a_database_made_before_final_choices_opens_and_keeps_its_rows(tmp_path):
    """An older database (no final_choices table): opening it adds the table; the final submission is
    the last scored one until the candidate chooses."""
    path = tmp_path / "old.sqlite"
    store = Store(path)
    sid, ids = _session(store, tmp_path, ["scored", "scored", "rejected"])
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE final_choices")
    db.commit()
    db.close()
    store = Store(path)
    assert final_submission(store, sid).submission_id == ids[1]
    assert [r["status"] for r in store.submissions(sid)] == ["scored", "scored", "rejected"]
    assert choose_final(store, sid, ids[0], via="final").submission_id == ids[0]
    assert final_submission(Store(path), sid).submission_id == ids[0]


def test_no_final_choice_once_the_time_is_up_and_the_interviewer_can_reopen_it(tmp_path):
    """A timed session whose clock ran out keeps its final submission: choosing after the end would
    change the interview's outcome after it ended (service.finals.choose reads the stored clock)."""
    import time

    from pitfalls.service.finals import choose

    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored"])
    store.add_event(sid, "clock_set", {"minutes": 0.001})
    store.add_event(sid, "clock_up", {})
    time.sleep(0.2)
    with pytest.raises(FinalChoiceError, match=r"must be chosen before the time is up\. Got a choice .* min after"):
        choose(store, store.session(sid), ids[0])
    assert final_submission(store, sid).submission_id == ids[1]
    store.add_event(sid, "clock_extend", {"minutes": 5})
    assert choose(store, store.session(sid), ids[0]).submission_id == ids[0]


def test_choosing_the_final_again_logs_nothing_and_changes_are_bounded(tmp_path, monkeypatch):
    """A loop of `pitfalls-submit --set-final` cannot flood the timeline: the same choice again is
    no new row or event, and a session changes its final at most MAX_CHOICES times."""
    from pitfalls.core import finals

    store = Store()
    sid, ids = _session(store, tmp_path, ["scored", "scored"])
    first = choose_final(store, sid, ids[0], via="test")
    assert choose_final(store, sid, ids[0], via="test") == first
    assert len(store.events(sid, "final")) == 1
    monkeypatch.setattr(finals, "MAX_CHOICES", 3)
    choose_final(store, sid, ids[1], via="test")
    choose_final(store, sid, ids[0], via="test")
    with pytest.raises(FinalChoiceError, match=r"at most 3 times\. Got 3 changes already instead; #\d+ stays final"):
        choose_final(store, sid, ids[1], via="test")
    assert final_submission(store, sid).submission_id == ids[0] and len(store.events(sid, "final")) == 3

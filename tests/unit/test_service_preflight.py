"""Preflight's refusals and its rows, without a sandbox (the unit guard fails any test that starts one,
so a refused preflight that ran anything would fail here)."""

from __future__ import annotations

import pytest

from pitfalls.core.errors import WorkspaceError
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import read_marker
from pitfalls.scoring.preflight import PREFLIGHT_ROWS, preflight_rows
from pitfalls.service import api
from pitfalls.service.preflight import EVENT, STARTED, preflight, preflight_limit


def test_the_limit_is_a_quarter_of_the_scored_submissions_per_window():
    assert preflight_limit(load_scaffold("tumor_triage")) == (5, 10)


def test_past_the_rate_limit_a_preflight_runs_nothing_and_is_not_counted(tmp_path):
    ws = tmp_path / "ws"
    api.start_practice(name="tumor_triage", directory=ws)
    session_id = read_marker(ws)["session_id"]
    store = Store()
    try:
        for _ in range(5):
            store.add_event(session_id, STARTED, {})
        result = preflight(directory=ws, store=store)
        assert result.outcome == "refused" and not result.ready, result
        assert [v.constraint for v in result.problems] == ["preflight_rate"]
        assert "At most 5 preflights are allowed per 10 minutes. Got 5 already" in result.message
        assert len(store.events(session_id, STARTED)) == 5 and store.events(session_id, EVENT) == []
        assert store.submissions(session_id) == []
    finally:
        store.close()


def test_a_preflight_that_ends_in_an_error_still_counts(tmp_path):
    """The limit is taken before the run: a workspace refused midway (over the snapshot limit) used
    one of the window's preflights, so errors cannot buy unlimited training runs."""
    ws = tmp_path / "ws"
    api.start_practice(name="tumor_triage", directory=ws)
    session_id = read_marker(ws)["session_id"]
    (ws / "big.bin").write_bytes(b"\0" * (51 * 2**20))
    store = Store()
    try:
        for _ in range(5):
            with pytest.raises(WorkspaceError, match="at most 50 MiB"):
                preflight(directory=ws, store=store)
        assert preflight(directory=ws, store=store).outcome == "refused"
        assert len(store.events(session_id, STARTED)) == 5
    finally:
        store.close()


def test_the_rows_are_training_rows_with_a_gap_and_never_held_out_ones():
    scaffold = load_scaffold("tumor_triage")
    data, target = scaffold.dataset(), scaffold.manifest.task.target
    rows = preflight_rows(scaffold)
    assert len(rows) == PREFLIGHT_ROWS and list(rows.columns) == [c for c in data.heldout.columns if c != target]
    assert rows.isna().any(axis=None)
    train = data.train.drop(columns=[target])
    merged = rows.merge(train.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert rows.equals(preflight_rows(scaffold))  # fixed for the installation

"""The best submission by the metric's direction: one helper for the reveal, the report and the hub."""

from __future__ import annotations

from pitfalls.library.metrics import best_of, best_submission


def _row(i: int, status: str, public: float | None) -> dict:
    return {"id": i, "status": status, "score_public": public}


ROWS = [_row(1, "scored", 0.5), _row(2, "rejected", None), _row(3, "scored", 0.9), _row(4, "failed", None),
        _row(5, "scored", 0.9), _row(6, "scored", 0.2)]


def test_higher_is_better_picks_the_largest_and_the_earliest_on_a_tie():
    assert best_submission(ROWS, metric="roc_auc")["id"] == 3


def test_lower_is_better_picks_the_smallest():
    assert best_submission(ROWS, metric="rmse")["id"] == 6


def test_rejected_rows_never_win_even_with_a_score():
    rows = [_row(1, "scored", 0.5), _row(2, "rejected", 0.99)]  # a rejected row with a stale score
    assert best_submission(rows, metric="roc_auc")["id"] == 1


def test_nothing_scored_is_none():
    assert best_submission([_row(1, "failed", None)], metric="roc_auc") is None
    assert best_submission([], metric="rmse") is None


def test_values_without_a_score_are_skipped():
    assert best_of([None, 3.0, None, 1.0], higher_is_better=False) == 1.0
    assert best_of([None, None], higher_is_better=True) is None

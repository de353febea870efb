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


def _ranked(rng, n: int, positives: float) -> tuple:
    """Labels and proba rows with ties (scores on a coarse grid), the positives scored higher on average."""
    import numpy as np

    y = (rng.random(n) < positives).astype(int)
    p1 = np.clip(np.round(rng.random(n) * 10) / 10 * 0.7 + 0.3 * y * rng.random(n), 0, 1)
    return y, np.c_[1 - p1, p1]


def test_average_precision_is_sklearns_on_the_positive_column_ties_included():
    import numpy as np
    from sklearn.metrics import average_precision_score

    from pitfalls.library.metrics import METRICS, score

    rng = np.random.default_rng(3)
    for _ in range(50):
        y, pred = _ranked(rng, int(rng.integers(20, 200)), 0.1)
        if not y.any():
            continue
        got = score(pred, y, metric="average_precision", classes=(0, 1))
        assert got == average_precision_score(y, pred[:, 1])
    assert METRICS["average_precision"].perfect == 1.0 and METRICS["average_precision"].higher_is_better
    assert METRICS["average_precision"].predictions == ("proba",)


def test_average_precision_rewards_ranking_not_calibration_and_is_0_without_positives():
    import numpy as np

    from pitfalls.library.metrics import score

    y = np.array([0, 0, 1, 0, 1, 0])
    sharp = np.array([0.01, 0.02, 0.9, 0.03, 0.8, 0.04])
    squashed = sharp / 10  # same order, every probability far too low
    as_rows = lambda p: np.c_[1 - p, p]  # noqa: E731
    assert score(as_rows(sharp), y, metric="average_precision", classes=(0, 1)) == 1.0
    assert score(as_rows(squashed), y, metric="average_precision", classes=(0, 1)) == 1.0
    flipped = as_rows(1 - sharp)  # the negatives on top: the class-0 column scored as if it were class 1
    assert score(flipped, y, metric="average_precision", classes=(0, 1)) < 0.5
    assert score(as_rows(sharp), np.zeros(6, dtype=int), metric="average_precision", classes=(0, 1)) == 0.0


def test_average_precision_bootstrap_matches_sklearn_on_every_resample():
    """The interval's vectorised statistic is the metric itself on each resample (weights from row counts)."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    from pitfalls.scoring.intervals import _statistic, bootstrap_interval

    rng = np.random.default_rng(5)
    y, pred = _ranked(rng, 120, 0.08)
    f = _statistic(pred, y, metric="average_precision", classes=(0, 1))
    idx = rng.integers(0, len(y), size=(40, len(y)))
    for k, value in enumerate(f(idx)):
        yy = y[idx[k]]
        want = average_precision_score(yy, pred[idx[k], 1]) if yy.any() else 0.0
        assert abs(value - want) < 1e-12
    lo, hi = bootstrap_interval(pred, y, metric="average_precision", classes=(0, 1), seed=1)
    assert lo < average_precision_score(y, pred[:, 1]) < hi

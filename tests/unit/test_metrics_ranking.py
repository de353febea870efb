"""The "ranking" prediction kind: validation messages, the metrics' values, the bootstrap statistic
and the brief's contract line (runner/library/metrics_ranking.py, registered in metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pitfalls.library.metrics import METRICS, check_predictions, score
from pitfalls.library.metrics_ranking import RANKING_K, RANKING_METRICS, gains
from pitfalls.scoring.intervals import _statistic


def _ranking(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(1000)[:RANKING_K] for _ in range(n)]).astype(np.int64)


def _check(pred: np.ndarray, n: int = 4):
    return check_predictions(pred, n_rows=n, prediction="ranking", classes=())


def test_a_valid_ranking_passes_as_int_or_integral_float():
    pred = _ranking(4)
    assert _check(pred) is None
    assert _check(pred.astype(np.float64)) is None


@pytest.mark.parametrize("pred, got", [
    (np.zeros((4, RANKING_K - 1), dtype=np.int64), "shape (4, 9)"),
    (np.zeros(4, dtype=np.int64), "shape (4,)"),
    (_ranking(4) + 0.5, "non-integer values"),
    (_ranking(4) - 500, "ids in [-"),
    (np.where(np.arange(RANKING_K) == 3, np.nan, _ranking(4)), "4 NaN or infinite"),
    (np.array([["a"] * RANKING_K] * 4), "dtype <U1"),
])
def test_malformed_rankings_are_refused_with_the_contract_message(pred, got):
    bad = _check(pred)
    assert bad is not None and bad.constraint == "predictions"
    assert bad.message.startswith(f"Predictions must be an integer array of shape (4, {RANKING_K}) of item ids")
    assert f"Got {got}" in bad.message and "instead." in bad.message


def test_an_id_twice_in_a_row_is_refused_and_counted():
    pred = _ranking(4)
    pred[1, 5] = pred[1, 2]
    pred[3, 9] = pred[3, 0]
    bad = _check(pred)
    assert bad is not None and "Got 2 rows with an id twice instead." in bad.message


def test_metric_values_for_known_ranks():
    labels = np.array([7, 7, 7, 7])
    pred = np.tile(np.arange(100, 100 + RANKING_K), (4, 1))
    pred[0, 0] = 7  # rank 1
    pred[1, 1] = 7  # rank 2
    pred[2, 9] = 7  # rank 10
    # row 3: not retrieved
    want = {"recall_at_10": 0.75, "recall_at_1": 0.25, "mrr_at_10": (1 + 0.5 + 0.1) / 4,
            "ndcg_at_10": (1 + 1 / np.log2(3) + 1 / np.log2(11)) / 4}
    for metric, value in want.items():
        assert score(pred, labels, metric=metric, classes=()) == pytest.approx(value)
        assert METRICS[metric].higher_is_better and METRICS[metric].perfect == 1.0
        assert METRICS[metric].predictions == ("ranking",)


def test_an_off_by_one_ranking_scores_lower_on_every_metric_but_recall_at_10():
    labels = np.arange(50)
    good = np.stack([np.r_[i, 1000 + np.arange(RANKING_K - 1)] for i in labels])
    shifted = np.roll(good, 1, axis=1)  # the relevant id one place lower
    for metric in RANKING_METRICS:
        a, b = (score(p, labels, metric=metric, classes=()) for p in (good, shifted))
        assert a == 1.0 and (b == 1.0 if metric == "recall_at_10" else b < a)


def test_the_bootstrap_statistic_is_the_metric_on_every_resample():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 30, 40)
    pred = np.stack([rng.permutation(30)[:RANKING_K] for _ in labels])
    idx = rng.integers(0, 40, (5, 40))
    for metric in RANKING_METRICS:
        stat = _statistic(pred, labels, metric=metric, classes=())(idx)
        direct = [score(pred[i], labels[i], metric=metric, classes=()) for i in idx]
        assert np.allclose(stat, direct)
        assert np.allclose(gains(metric, pred, labels).mean(), score(pred, labels, metric=metric, classes=()))


def test_the_briefs_contract_line_states_the_ranking_form():
    from types import SimpleNamespace

    from pitfalls.library.contract import returns_line

    task = SimpleNamespace(prediction="ranking", target="doc_id", classes=())
    line = returns_line(SimpleNamespace(manifest=SimpleNamespace(task=task)))
    assert f"shape **(n, {RANKING_K})**" in line and "`doc_id`" in line and "best first" in line
    assert "no id twice" in line


def test_the_predictions_reader_reads_a_full_ranking(tmp_path):
    from pitfalls.fs.predictions import load_predictions
    from pitfalls.library.metrics_sequence import prediction_width

    assert prediction_width("ranking", ()) == RANKING_K
    pred = _ranking(300)
    np.save(tmp_path / "predictions.npy", pred)
    got = load_predictions(tmp_path, n_rows=300, n_cols=prediction_width("ranking", ()))
    assert isinstance(got, np.ndarray) and np.array_equal(got, pred)

"""The normalized scale (runner/library/scale.py): starter 0 and reference 1 exactly, visible headroom
above the reference, monotone in the metric's direction, finite at every edge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pitfalls.library import scale
from pitfalls.library.brief import render_brief
from pitfalls.library.metrics import METRICS
from pitfalls.library.scaffold import load_scaffold, scaffold_names
from pitfalls.library.scale import error, normalize, scale_sentence, value_at

ANCHORS = {  # (starter, reference) of the shape the shipped scaffolds have, one per metric
    "log_loss": (1.95163, 0.055355), "rmse": (670.792, 289.1), "r2": (-3.81681, 0.377434),
    "roc_auc": (0.793584, 0.925228), "balanced_accuracy": (0.559352, 0.945452), "accuracy": (0.6, 0.9),
    "f1": (0.4, 0.8), "average_precision": (0.04, 0.55),
    # the ranking metrics (runner/library/metrics_ranking.py), retrieval_recall's shape
    "ndcg_at_10": (0.24, 0.66), "recall_at_10": (0.46, 0.87), "recall_at_1": (0.10, 0.50), "mrr_at_10": (0.19, 0.62),
    # the sequence metrics (runner/library/metrics_sequence.py), attention_budget's shape
    "exact_match": (0.01, 0.99), "token_accuracy": (0.10, 0.99)}  # 0.01, not 0: "every label wrong" must fall below 0


def _norm(x: float, metric: str, rows: int | None = 300) -> float | None:
    start, ref = ANCHORS[metric]
    return normalize(x, baseline=start, reference=ref, metric=metric, rows=rows)


def _calibrated(name: str) -> tuple[str, float, float, float]:
    m = load_scaffold(name).manifest
    return m.task.metric, m.calibration.baseline_mean, m.calibration.reference_mean, m.task.goal_normalized


def test_every_metric_has_anchors_here():
    assert set(ANCHORS) == set(METRICS)


def test_on_digits_budget_a_log_loss_2_5x_lower_than_the_reference_shows_a_quarter_above_it():
    metric, start, ref, _goal = _calibrated("digits_budget")
    assert metric == "log_loss"
    n = normalize(ref / 2.5, baseline=start, reference=ref, metric=metric, rows=300)  # 300 rows per slice
    assert n >= 1.25, n
    old = (ref / 2.5 - start) / (ref - start)  # the linear share of the gap this scale replaces
    assert old < 1.02


@pytest.mark.parametrize("metric", sorted(ANCHORS))
@pytest.mark.parametrize("rows", [None, 20, 300])
def test_the_starter_is_0_and_the_reference_1_exactly(metric, rows):
    start, ref = ANCHORS[metric]
    assert _norm(start, metric, rows) == 0.0 and _norm(ref, metric, rows) == 1.0


@pytest.mark.parametrize("metric", ["balanced_accuracy", "log_loss", "r2"])
def test_a_perfect_reference_is_still_1_and_a_perfect_candidate_no_more(metric):
    """A small slice the reference gets all right: both errors clip at the floor, the scale holds."""
    perfect, start = METRICS[metric].perfect, ANCHORS[metric][0]
    assert normalize(perfect, baseline=start, reference=perfect, metric=metric, rows=20) == 1.0
    assert normalize(perfect, baseline=start, reference=perfect, metric=metric, rows=20) == 1.0
    assert normalize(start, baseline=start, reference=perfect, metric=metric, rows=20) == 0.0


@pytest.mark.parametrize("metric", sorted(ANCHORS))
def test_better_in_the_metrics_direction_is_higher_on_the_scale(metric):
    start, ref = ANCHORS[metric]
    worst = 2 * start if metric in ("log_loss", "rmse") else start - 0.4
    xs = np.linspace(worst, METRICS[metric].perfect, 400)  # worse to better in the metric's direction
    ns = [_norm(float(x), metric) for x in xs]
    assert all(math.isfinite(n) for n in ns)
    assert all(b >= a for a, b in zip(ns, ns[1:], strict=False))
    above_floor = [n for x, n in zip(xs, ns, strict=True) if error(float(x), metric) > 1 / 600 * 1.01
                   and (metric != "rmse" or error(float(x), metric) > start / math.sqrt(600) * 1.01)]
    assert all(b > a for a, b in zip(above_floor, above_floor[1:], strict=False))


@pytest.mark.parametrize("metric", sorted(ANCHORS))
def test_edge_values_stay_finite(metric):
    """A perfect slice (error 0), chance level or worse, R^2 far below 0: finite, never inf or NaN."""
    start, ref = ANCHORS[metric]
    perfect = METRICS[metric].perfect
    top = _norm(perfect, metric, rows=300)
    e_start = error(start, metric)
    floor = e_start / math.sqrt(600) if metric == "rmse" else 1 / 600
    assert top == pytest.approx(math.log(e_start / floor) / math.log(e_start / error(ref, metric)))
    assert 1 < top < 15
    bad = {"log_loss": 30.0, "rmse": 1e6, "r2": -1e6}.get(metric, 0.0)  # every label wrong
    assert math.isfinite(_norm(bad, metric)) and _norm(bad, metric) < 0


def test_missing_or_non_finite_values_and_coinciding_anchors_have_no_score():
    assert _norm(float("nan"), "log_loss") is None and _norm(float("inf"), "rmse") is None
    assert normalize(None, baseline=1.0, reference=0.1, metric="log_loss", rows=10) is None
    assert normalize(0.5, baseline=0.7, reference=0.7, metric="roc_auc", rows=10) is None
    # both anchors at or below the floor: one point on the scale, no scale
    assert normalize(0.0, baseline=1e-9, reference=0.0, metric="log_loss", rows=10) is None


@pytest.mark.parametrize("metric", sorted(ANCHORS))
def test_value_at_inverts_normalize(metric):
    start, ref = ANCHORS[metric]
    for n in (0.0, 0.5, 0.9, 1.0, 1.3):
        x = value_at(n, baseline=start, reference=ref, metric=metric, rows=300)
        assert _norm(x, metric) == pytest.approx(n, abs=1e-9)


def test_rmse_and_r2_read_the_same_squared_error_alike():
    """RMSE and 1 - R^2 are powers of the mean squared error: the scale does not depend on which."""
    var, mses = 40.0, (36.0, 9.0, 4.0, 2.0)  # the starter's, the reference's, a candidate's (x2)
    r2 = [1 - m / var for m in mses]
    rmse = [math.sqrt(m) for m in mses]
    a = normalize(r2[2], baseline=r2[0], reference=r2[1], metric="r2", rows=None)
    b = normalize(rmse[2], baseline=rmse[0], reference=rmse[1], metric="rmse", rows=None)
    assert a == pytest.approx(b) and a > 1


def test_every_shipped_scaffold_has_headroom_and_a_goal_between_its_anchors():
    """Room above the reference, unless the reference is perfect on its metric (attention_budget decodes
    every held-out message): then the brief must not promise scores above 1."""
    for name in ["_template", *scaffold_names()]:
        metric, start, ref, goal = _calibrated(name)
        if error(ref, metric) <= 0:
            assert "nothing scores above 1" in scale_sentence(metric, baseline=start, reference=ref), name
        else:
            half = scale.from_error(error(ref, metric) / 2, metric)  # the reference's error halved
            assert normalize(half, baseline=start, reference=ref, metric=metric, rows=None) > 1.1, name
        at = value_at(goal, baseline=start, reference=ref, metric=metric, rows=None)
        assert min(start, ref) < at < max(start, ref), name


def test_the_brief_says_the_scale_in_one_sentence():
    brief = render_brief(load_scaffold("digits_budget"))
    metric, start, ref, _goal = _calibrated("digits_budget")
    sentence = scale_sentence(metric, baseline=start, reference=ref)
    assert sentence in brief and sentence.count(". ") == 0
    assert "0 is the untouched starter, 1 our reference solution and above 1 better than the reference" in sentence
    assert "log-loss half the reference's scores about 1.19" in sentence

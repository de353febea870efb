"""Public scores are rounded to a documented grid and come with a bootstrap interval (issue 11.5).

A full-precision public score is a decoding channel: predictions crafted to move the metric in its
6th decimal would tell which held-out rows are public, and their labels. These tests score real
held-out predictions with the trusted scorer and check what anyone is shown.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from pitfalls.cli import render
from pitfalls.core.results import SubmissionResult
from pitfalls.library.metrics import public_decimals, public_mask
from pitfalls.library.scaffold import load_scaffold
from pitfalls.scoring.intervals import bootstrap_interval, public_interval
from pitfalls.scoring.pipeline import score_array
from pitfalls.service import api


def _proba(labels: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p1 = np.clip(0.35 * labels + rng.uniform(0, 0.65, len(labels)), 0, 1)
    return np.c_[1 - p1, p1]


def test_scores_differing_in_the_6th_decimal_are_shown_the_same():
    scaffold = load_scaffold("income_screen")  # roc_auc on 1500 public rows
    m = scaffold.manifest
    labels = scaffold.dataset().heldout[m.task.target].to_numpy()
    mask = public_mask(len(labels), fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    pred = _proba(labels, 0)
    crafted = pred.copy()
    pos = np.flatnonzero(mask & (labels == 1))
    i = pos[np.argmin(crafted[pos, 1])]  # lift the lowest public positive by a hair: one pair flips
    neg = np.flatnonzero(mask & (labels == 0))
    above = crafted[neg, 1][crafted[neg, 1] > crafted[i, 1]]
    crafted[i] = [1 - (above.min() + 1e-9), above.min() + 1e-9]
    exact_a, exact_b = score_array(scaffold, pred)[0], score_array(scaffold, crafted)[0]
    assert 0 < abs(exact_a - exact_b) < 1e-5  # the 6th decimal moved
    shown_a = api.public_view(scaffold, exact_a, None)["score_public"]
    shown_b = api.public_view(scaffold, exact_b, None)["score_public"]
    assert shown_a == shown_b == round(exact_a, 3)
    assert public_decimals(m.calibration.reference_mean) == 3


def test_grid_follows_the_reference_scale():
    assert public_decimals(0.947) == 3 and public_decimals(0.121) == 3 and public_decimals(284.26) == 0
    assert public_decimals(0.0123) == 4


@pytest.mark.parametrize("value", [54.3, 0.0123, 1e-5, None])
def test_uncalibrated_grid_is_fixed_whatever_the_score(value):
    """Without a reference the grid must not follow the score: a score near 0 would get 6 decimals."""
    assert public_decimals(None, value) == public_decimals(0, value) == 3


@pytest.mark.parametrize("name", ["tumor_triage", "income_screen", "digits_budget", "bike_demand",
                                  "clinic_visits", "diabetes_progression"])
def test_interval_contains_the_score_is_deterministic_and_fast(name):
    scaffold = load_scaffold(name)
    m = scaffold.manifest
    heldout = scaffold.dataset().heldout
    labels = heldout[m.task.target].to_numpy()
    rng = np.random.default_rng(1)
    if m.task.prediction == "proba":
        k = len(m.task.classes)
        pred = rng.dirichlet(np.ones(k), len(labels))
        pred[np.arange(len(labels)), np.searchsorted(m.task.classes, labels)] += 0.3
        pred /= pred.sum(1, keepdims=True)
    elif m.task.prediction == "label":
        pred = np.where(rng.uniform(size=len(labels)) < 0.8, labels, m.task.classes[0])
    else:
        pred = labels + rng.normal(0, labels.std() * 0.5, len(labels))
    exact = score_array(scaffold, pred)[0]
    start = time.perf_counter()
    lo, hi = public_interval(scaffold, pred)
    took = time.perf_counter() - start
    assert lo < exact < hi and hi - lo < abs(exact) + 1, (lo, exact, hi)
    assert public_interval(scaffold, pred) == (lo, hi)  # seeded by the predictions
    assert took < 1.0, took
    view = api.public_view(scaffold, exact, (lo, hi))
    a, b = view["score_interval"]
    assert a <= view["score_public"] <= b


def test_interval_is_none_for_a_tiny_slice_and_text_shows_it():
    assert bootstrap_interval(np.ones(5), np.ones(5), metric="rmse", classes=(), seed=0) is None
    r = SubmissionResult(submission_id=3, status="scored", metric="roc_auc", score=0.912, normalized=0.5,
                         message="Scored.", score_interval=[0.88, 0.94])
    assert "roc_auc (public slice): 0.912 (95% interval 0.88 to 0.94)" in render.submission(r)
    assert "0.88 to 0.94" in render.history([r]) and "score_interval" in r.candidate_view()

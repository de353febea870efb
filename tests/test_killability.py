"""The killing criterion used by `pitfalls check`'s bug_bites (DeepCrime): one-sided
Mann-Whitney p < 0.05 and Cohen's d >= 0.5. Real multi-seed runs are in tests/test_library.py."""

from __future__ import annotations

import pytest

from pitfalls.checks.killability import Kill, cohens_d, mann_whitney_p


def test_cohens_d_and_criterion_on_known_numbers():
    """Does the criterion reject a bug that makes no difference and accept a clear one?"""
    assert cohens_d([1, 1, 1], [1, 1, 1]) == 0.0
    assert cohens_d([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]) == pytest.approx(10.0)
    assert not Kill("x", [1.0] * 5, [1.0] * 5, 1.0, 0.0).killed
    assert Kill("x", [2.0] * 5, [1.0] * 5, 0.004, float("inf")).killed


def test_mann_whitney_is_one_sided_and_needs_enough_seeds():
    """Five clearly better seeds give p < 0.05; one seed each never can; worse is not better."""
    assert mann_whitney_p([0.9] * 5, [0.5] * 5) < 0.05
    assert mann_whitney_p([0.90, 0.91, 0.92, 0.93, 0.94], [0.50, 0.51, 0.52, 0.53, 0.54]) == pytest.approx(1 / 252)
    assert mann_whitney_p([0.9], [0.5]) >= 0.5
    assert mann_whitney_p([0.5] * 5, [0.9] * 5) > 0.9
    assert mann_whitney_p([0.7] * 5, [0.7] * 5) == 1.0


def test_judge_applies_the_criterion_to_oriented_scores():
    """Kill.judge computes p and d from the runs; a clear loss is killed, a tie is not."""
    clear = Kill.judge(bug="x", reference=[0.90, 0.91, 0.92, 0.93, 0.94], buggy=[0.5, 0.51, 0.52, 0.53, 0.54])
    assert clear.killed and clear.p_value == pytest.approx(1 / 252) and clear.cohens_d > 10
    assert not Kill.judge(bug="x", reference=[0.7] * 5, buggy=[0.7] * 5).killed


def test_effect_caps_d_and_names_deterministic_runs():
    """A deterministic model's d (a division by a spread of float noise) shows as d>=99 and
    'deterministic'; an ordinary d is printed as it is."""
    noise = Kill.judge(bug="x", reference=[0.9000000000000001, 0.9, 0.9, 0.9, 0.9], buggy=[0.8] * 5)
    assert noise.cohens_d > 1e12 and noise.effect() == "p=0.00279, d>=99 (deterministic: every seed scores the same)"
    tie = Kill.judge(bug="x", reference=[0.7] * 5, buggy=[0.7] * 5)
    assert tie.effect() == "p=1, d=0.00 (deterministic: every seed scores the same)"
    clear = Kill.judge(bug="x", reference=[2.0, 2.1, 1.9], buggy=[1.0, 1.1, 0.9])
    assert clear.effect() == f"p={clear.p_value:.3g}, d=10.00"

"""Every planted bug bites: reference + that one bug is worse on the private held-out slice over
several seeds (Mann-Whitney p < 0.05 and Cohen's d >= 0.5, DeepCrime's killing criterion).

Slow by nature (real training, 5 seeds per variant): marked ``slow``; CI runs it.
"""

from __future__ import annotations

import functools

import pytest

from pitfalls.killability import killability, scores
from pitfalls.scaffold import load_scaffold

SEEDS = 5
CASES = [(name, bug) for name in ("tumor_triage", "digits_budget") for bug in load_scaffold(name).manifest.bugs]


@functools.lru_cache(maxsize=None)
def _reference(name: str) -> tuple[float, ...]:
    return tuple(scores(scaffold=load_scaffold(name), bug=None, seeds=range(SEEDS)))


@pytest.mark.slow
@pytest.mark.parametrize("name,bug", CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_each_planted_bug_bites(name, bug):
    """Is the reference significantly better than the reference with only this bug?"""
    kill = killability(scaffold=load_scaffold(name), bug=bug, seeds=SEEDS, reference=list(_reference(name)))
    assert kill.killed, (f"{name}/{bug} does not bite: p={kill.p_value:.3g}, d={kill.cohens_d:.2f}, "
                         f"reference={kill.reference}, buggy={kill.buggy}")


def test_cohens_d_and_criterion_on_known_numbers():
    """Does the criterion reject a bug that makes no difference and accept a clear one?"""
    from pitfalls.killability import Kill, cohens_d

    assert cohens_d([1, 1, 1], [1, 1, 1]) == 0.0
    assert cohens_d([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]) == pytest.approx(10.0)
    assert not Kill("x", [1.0] * 5, [1.0] * 5, 1.0, 0.0).killed
    assert Kill("x", [2.0] * 5, [1.0] * 5, 0.004, float("inf")).killed

"""Does a planted bug really hurt? DeepCrime's killing criterion on the scored metric.

The reference and "reference + one bug" are each trained with several seeds (``pitfalls.scoring.batch``);
the bug is *killed* (it bites) when the reference is better with Mann-Whitney p < 0.05 (one-sided)
and Cohen's d >= 0.5, on the private held-out slice. ``pitfalls check``'s bug_bites applies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

P_VALUE, EFFECT = 0.05, 0.5


@dataclass
class Kill:
    """The comparison of one bug's runs with the reference's (scores oriented: higher is better)."""

    bug: str
    reference: list[float]
    buggy: list[float]
    p_value: float
    cohens_d: float

    @property
    def killed(self) -> bool:
        return self.p_value < P_VALUE and self.cohens_d >= EFFECT

    @classmethod
    def judge(cls, *, bug: str, reference: list[float], buggy: list[float]) -> Kill:
        """Compare oriented scores of the reference and of reference + ``bug``."""
        return cls(bug=bug, reference=reference, buggy=buggy, p_value=mann_whitney_p(reference, buggy),
                   cohens_d=cohens_d(reference, buggy))


def cohens_d(better: list[float], worse: list[float]) -> float:
    """Effect size of ``better - worse`` with a pooled standard deviation (inf if both are constant)."""
    a, b = np.asarray(better, float), np.asarray(worse, float)
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    diff = a.mean() - b.mean()
    if pooled == 0:
        return math.inf if diff > 0 else (0.0 if diff == 0 else -math.inf)
    return float(diff / pooled)


def mann_whitney_p(better: list[float], worse: list[float]) -> float:
    """One-sided Mann-Whitney U p-value that ``better`` is stochastically greater (1.0 if all equal)."""
    if len(set(better) | set(worse)) == 1:
        return 1.0
    return float(mannwhitneyu(better, worse, alternative="greater").pvalue)

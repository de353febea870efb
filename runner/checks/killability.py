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
D_CAP = 99.0
"""Kill.effect shows a larger Cohen's d as ``d>=99``: beyond it the number only measures float noise."""


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

    @property
    def deterministic(self) -> bool:
        """Every seed of the reference scores the same, and every seed of the bug's variant too."""
        return all(spread_of(x) == 0.0 for x in (self.reference, self.buggy))

    def effect(self) -> str:
        """p and d for people: d capped at :data:`D_CAP` (a deterministic model's d is a division by
        a spread of about 0), and "deterministic" said when both spreads are 0."""
        d = self.cohens_d
        shown = f"d>={D_CAP:g}" if d >= D_CAP else f"d<=-{D_CAP:g}" if d <= -D_CAP else f"d={d:.2f}"
        return f"p={self.p_value:.3g}, {shown}" + (" (deterministic: every seed scores the same)"
                                                  if self.deterministic else "")

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


def spread_of(scores: list[float]) -> float:
    """max - min of ``scores``, 0.0 when they differ only by float rounding (1e-12 of their size)."""
    a = np.asarray(scores, float)
    width = float(a.max() - a.min()) if len(a) else 0.0
    return 0.0 if width <= 1e-12 * max(1.0, float(np.abs(a).max(initial=0.0))) else width

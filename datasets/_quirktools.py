"""Shared helpers for the quirk kinds: the clean base cases the examples use, and statistics.

Private (the package ``__init__`` skips modules whose name starts with ``_``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from .base import breast_cancer, digits, tabular, wine
from .registry import Detection

# (name, loader, target) of every clean base frame the examples rotate through, by seed
BASES: list[tuple[str, Callable[[int], pd.DataFrame], str]] = [
    ("breast_cancer", breast_cancer, "malignant"),
    ("wine", wine, "cultivar"),
    ("digits", digits, "label"),
    ("tabular", tabular, "outcome"),
]


def base_case(seed: int, *, heldout_share: float = 0.3) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """A clean base frame (``BASES[seed % 4]``) split at random, stratified: (target, train, heldout)."""
    _, load, target = BASES[seed % len(BASES)]
    frame = load(seed)
    rng = np.random.default_rng([seed, 707])
    held: list[int] = []
    for label in np.unique(frame[target]):
        rows = np.flatnonzero(frame[target].to_numpy() == label)
        held += list(rng.choice(rows, size=int(round(heldout_share * len(rows))), replace=False))
    mask = np.zeros(len(frame), dtype=bool)
    mask[held] = True
    train = frame[~mask].iloc[rng.permutation(int((~mask).sum()))].reset_index(drop=True)
    heldout = frame[mask].iloc[rng.permutation(int(mask.sum()))].reset_index(drop=True)
    return target, train, heldout


def feature_columns(frame: pd.DataFrame, target: str) -> list[str]:
    """Numeric (not boolean) columns other than the target."""
    return [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]


def feature_matrix(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Numeric features as floats, gaps filled with the column median (0 for an all-empty column)."""
    X = frame[feature_columns(frame, target)].to_numpy(dtype=float)
    if not np.isnan(X).any():
        return X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column has no median
        med = np.nan_to_num(np.nanmedian(X, axis=0))
    return np.where(np.isnan(X), med, X)


def levels(x: pd.Series, *, bins: int = 10) -> np.ndarray:
    """Discrete codes for a column: its values if it has at most 20 levels, else quantile bins."""
    if x.nunique(dropna=False) <= 20 or not pd.api.types.is_numeric_dtype(x):
        return pd.factorize(x.astype(str))[0]
    return pd.qcut(x.rank(method="first"), bins, labels=False).to_numpy()


def _best_auc(tables: np.ndarray) -> np.ndarray:
    """Best one-vs-rest AUC of per-level class rates, for a stack of (levels x classes) tables."""
    best = np.full(len(tables), 0.5)
    for c in range(tables.shape[2]):
        pos = tables[:, :, c]
        neg = tables.sum(axis=2) - pos
        order = np.argsort(pos / np.maximum(pos + neg, 1), axis=1, kind="stable")
        pos, neg = np.take_along_axis(pos, order, 1), np.take_along_axis(neg, order, 1)
        below = np.cumsum(neg, axis=1) - neg  # negatives in levels less class-c-like
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / np.maximum(pos.sum(axis=1) * neg.sum(axis=1), 1)
        best = np.maximum(best, auc)
    return best


def association(x: pd.Series, y: pd.Series, *, permutations: int = 999) -> tuple[float, float]:
    """How well one column alone predicts the label: (best one-vs-rest AUC, permutation p-value).

    The column is discretized (:func:`levels`); each level scores a class by its share of that
    class, so the AUC is the in-sample AUC of a per-level rate (0.5: no signal, 1: perfect). The
    p-value compares it with the same AUC under ``permutations`` seeded shuffles of the labels,
    which also absorbs the in-sample optimism of many small levels.
    """
    codes, labels = levels(x), pd.factorize(y)[0]
    keep = (codes >= 0) & (labels >= 0)
    codes, labels = codes[keep].astype(np.int64), labels[keep]
    n_levels, n_classes = int(codes.max(initial=0)) + 1, int(labels.max(initial=0)) + 1
    if n_levels < 2 or n_classes < 2:
        return 0.5, 1.0
    rng = np.random.default_rng(0)
    stack = np.vstack([labels, rng.permuted(np.tile(labels, (permutations, 1)), axis=1)])
    cells = (np.arange(len(stack))[:, None] * n_levels + codes[None, :]) * n_classes + stack
    tables = np.bincount(cells.ravel(), minlength=len(stack) * n_levels * n_classes)
    aucs = _best_auc(tables.reshape(len(stack), n_levels, n_classes).astype(float))
    return float(aucs[0]), float((1 + np.sum(aucs[1:] >= aucs[0] - 1e-12)) / (permutations + 1))


def column_predicts(quirk: dict, frame: pd.DataFrame | None, target: str, *, name: str,
                    min_auc: float, max_p: float) -> Detection:
    """Fire when ``quirk["column"]`` in ``frame`` predicts ``target``: AUC >= min_auc and p <= max_p."""
    column = quirk["column"]
    if frame is None or column not in frame.columns:
        return Detection(False, f"no column {column!r} in the {name} data")
    auc, p = association(frame[column], frame[target])
    fired = auc >= min_auc and p <= max_p
    return Detection(fired, f"{name} {column!r}: single-column AUC {auc:.3f} (threshold {min_auc}), "
                            f"permutation p {p:.2g} (threshold: at most {max_p:g})")


def plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (for readable evidence and JSON entries)."""
    return value.item() if isinstance(value, np.generic) else value


def wilson_lower(k: int, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson 95% interval for a rate of k in n."""
    if n == 0:
        return 0.0
    rate = k / n
    centre = rate + z * z / (2 * n)
    spread = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return float((centre - spread) / (1 + z * z / n))


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One hash per row over ``columns``; numbers compare as floats, everything else as text."""
    cols = {c: (frame[c].astype(float) if pd.api.types.is_numeric_dtype(frame[c]) else frame[c].astype(str))
            for c in columns}
    return pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy()

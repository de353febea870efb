"""Duplicated rows: exact copies in training data (Q04), training rows copied into the held-out
data (Q06), and near-copies with tiny multiplicative noise (Q05).

Across-split convention: a planter that changes only the held-out frame takes that frame first
and returns ``(heldout, entry)``, with ``entry["frame"] == "heldout"``; the training frame it
reads from is a keyword argument. Its example's ``train`` is the clean training frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from ._quirktools import base_case, feature_columns, feature_matrix, row_hashes
from .registry import Detection, Example, Quirk, register

__all__ = ["add_near_duplicates", "copy_rows_across_split", "duplicate_rows"]

DUPLICATE_SHARE = 0.01
"""duplicates and duplicates_across_split fire at 1% of rows: above that, copies reweight the
data (or inflate a score) measurably; below it, coincidental repeats in discrete data (iris has
one in 150) do not. The held-out check fires on any shared row: held-out data must share none."""
NEAR_RATIO, NEAR_SHARE = 0.01, 0.01
"""near_duplicates: a pair of distinct rows is a near-copy when its standardized distance is under
1% of the frame's median nearest-neighbour distance; the detector fires at 1% of rows."""


def _insert(base: pd.DataFrame, extra: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """``extra`` rows placed at random positions among ``base`` rows (whose order is kept)."""
    total = len(base) + len(extra)
    slots = np.sort(rng.choice(total, size=len(extra), replace=False))
    is_extra = np.zeros(total, dtype=bool)
    is_extra[slots] = True
    order = np.empty(total, dtype=np.int64)
    order[~is_extra] = np.arange(len(base))
    order[is_extra] = len(base) + rng.permutation(len(extra))
    return pd.concat([base, extra]).iloc[order].reset_index(drop=True), slots


def _pick(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=n > len(frame)))]


def _detect_duplicates(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                       target: str) -> Detection:
    """Rows (all columns, label included) equal to an earlier row: ``df.duplicated()``."""
    copies = int(train.duplicated().sum())
    share = copies / max(len(train), 1)
    return Detection(share >= DUPLICATE_SHARE and copies >= 2,
                     f"{copies} rows repeat an earlier row: share {share:.3f} (threshold {DUPLICATE_SHARE})")


def _shared_rows(train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> tuple[int, int]:
    if heldout is None:
        return 0, 0
    columns = [c for c in heldout.columns if c != target and c in train.columns]
    return int(np.isin(row_hashes(heldout, columns), row_hashes(train, columns)).sum()), len(heldout)


def _detect_across(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                   target: str) -> Detection:
    """Held-out rows whose features equal a training row's (hash join), as a share of held-out rows."""
    shared, n = _shared_rows(train, heldout, target)
    share = shared / max(n, 1)
    return Detection(share >= DUPLICATE_SHARE,
                     f"{shared} of {n} held-out rows equal a training row: share {share:.3f} "
                     f"(threshold {DUPLICATE_SHARE})")


def _heldout_shares_rows(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                         target: str) -> Detection:
    """Any held-out row whose features equal a training row's."""
    shared, n = _shared_rows(train, heldout, target)
    return Detection(shared > 0, f"{shared} of {n} held-out rows equal a training row (threshold: any)")


def near_copy_pairs(frame: pd.DataFrame, target: str) -> tuple[int, int, float]:
    """(pairs of distinct rows closer than 1% of the median NN distance, distinct rows, that median)."""
    X = np.unique(feature_matrix(frame, target), axis=0)  # exact copies are another kind
    if len(X) < 3 or X.shape[1] == 0:
        return 0, len(X), 0.0
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    dist, idx = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X)
    typical = float(np.median(dist[:, 1]))
    close = np.flatnonzero(dist[:, 1] < NEAR_RATIO * typical)
    pairs = {(min(i, idx[i, 1]), max(i, idx[i, 1])) for i in close}
    return len(pairs), len(X), typical


def _detect_near(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Pairs of distinct rows far closer than the frame's typical nearest-neighbour distance."""
    pairs, n, typical = near_copy_pairs(train, target)
    share = pairs / max(n, 1)
    return Detection(share >= NEAR_SHARE,
                     f"{pairs} near-copy pairs among {n} distinct rows (distance < {NEAR_RATIO} x median "
                     f"nearest-neighbour distance {typical:.3g}): share {share:.3f} (threshold {NEAR_SHARE})")


def _example_duplicates(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    planted, quirk = duplicate_rows(train, n=int(round(0.05 * len(train))), rng=np.random.default_rng(seed))
    return Example(target, train, heldout, planted, heldout, quirk)


def _example_across(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    held, quirk = copy_rows_across_split(heldout, train=train, n=int(round(0.15 * len(heldout))),
                                         rng=np.random.default_rng(seed))
    return Example(target, train, heldout, train, held, quirk)


def _example_near(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    planted, quirk = add_near_duplicates(train, target=target, n=int(round(0.05 * len(train))),
                                         rng=np.random.default_rng(seed))
    return Example(target, train, heldout, planted, heldout, quirk)


@register(id="duplicates", ref="Q04", detect=_detect_duplicates, example=_example_duplicates)
def duplicate_rows(df: pd.DataFrame, *, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Insert exact copies of ``n`` random rows at random positions (catalog Q04); index reset."""
    out, slots = _insert(df, _pick(df, n, rng), rng)
    return out, {"id": "duplicates", "copies": n, "share": round(n / len(out), 4),
                 "rows": [int(i) for i in slots]}


@register(id="duplicates_across_split", ref="Q06", detect=_detect_across, example=_example_across,
          heldout_leak=_heldout_shares_rows)
def copy_rows_across_split(heldout: pd.DataFrame, *, train: pd.DataFrame, n: int,
                           rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Copy ``n`` training rows into the held-out frame at random positions (catalog Q06).

    Returns the planted *held-out* frame (see the module docstring). Plant it in a validation
    frame the candidate sees, never in the secret held-out data, whose check forbids shared rows.
    """
    out, slots = _insert(heldout, _pick(train[list(heldout.columns)], n, rng), rng)
    return out, {"id": "duplicates_across_split", "frame": "heldout", "copies": n,
                 "share": round(n / len(out), 4), "rows": [int(i) for i in slots]}


@register(id="near_duplicates", ref="Q05", detect=_detect_near, example=_example_near)
def add_near_duplicates(df: pd.DataFrame, *, target: str, n: int, rng: np.random.Generator,
                        noise: float = 1e-4) -> tuple[pd.DataFrame, Quirk]:
    """Insert copies of ``n`` random rows with numeric features times ``1 + noise * N(0, 1)`` (Q05)."""
    copies = _pick(df, n, rng).copy()
    columns = feature_columns(df, target)
    copies[columns] = copies[columns].astype(float) * (1.0 + noise * rng.standard_normal((n, len(columns))))
    out, slots = _insert(df, copies, rng)
    return out, {"id": "near_duplicates", "copies": n, "noise": noise, "share": round(n / len(out), 4),
                 "rows": [int(i) for i in slots]}

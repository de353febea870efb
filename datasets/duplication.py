"""Duplicated rows: exact copies in training data (Q04), copies across a split (Q06), and
near-copies with tiny multiplicative noise (Q05).

Q06 has two forms, told apart by the entry's ``frame``:

- ``"train"`` (:func:`copy_rows_within_split`, the one a scaffold plants): copies of rows inside
  the data the candidate sees (data/train.csv), so the random train/validation split the
  candidate's own code makes puts copies on both sides and validation is optimistic. The
  detector looks at the candidate's data only; the held-out data stays clean.
- ``"heldout"`` (:func:`copy_rows_across_split`, the registered planter, for worked examples and
  evaluation frames outside ``pitfalls check``): training rows copied into an evaluation frame.
  A planter that changes only that frame takes it first and returns ``(heldout, entry)``; the
  training frame it reads from is a keyword argument. Never plant it in a scaffold's secret
  held-out data: ``heldout_clean`` forbids shared rows there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from ._quirktools import base_case, feature_columns, feature_matrix, row_hashes
from .registry import Detection, Example, Quirk, register

__all__ = ["add_near_duplicates", "copy_rows_across_split", "copy_rows_within_split", "duplicate_rows",
           "split_copy_share"]

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


def split_copy_share(frame: pd.DataFrame, columns: list[str], validation_fraction: float,
                     seed: int = 0) -> tuple[int, int, int]:
    """(validation rows with a copy in the fit part, validation rows, rows in a copy group) for
    one seeded random split of ``frame`` with ``validation_fraction`` of its rows held back; rows
    are copies when they agree on ``columns`` (numbers as floats, the rest as text)."""
    keys = row_hashes(frame, columns)
    in_group = int(pd.Series(keys).duplicated(keep=False).sum())
    held = np.zeros(len(frame), dtype=bool)
    held[np.random.default_rng(seed).choice(len(frame), size=int(round(validation_fraction * len(frame))),
                                            replace=False)] = True
    return int(np.isin(keys[held], keys[~held]).sum()), int(held.sum()), in_group


def _detect_across(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                   target: str) -> Detection:
    """``frame == "train"``: validation rows of a random split of the candidate's data that have a
    copy (equal on the entry's ``columns``) in the fit part. Otherwise: held-out rows whose
    features equal a training row's (hash join). Both as a share, threshold 1%."""
    if quirk.get("frame") == "train":
        columns = [c for c in quirk.get("columns") or train.columns if c in train.columns]
        fraction = float(quirk.get("validation_fraction", 0.25))
        hit, n, grouped = split_copy_share(train, columns, fraction)
        share = hit / max(n, 1)
        return Detection(share >= DUPLICATE_SHARE,
                         f"a random {fraction:.0%} validation split of the training data puts {hit} of {n} "
                         f"validation rows beside a copy in the fit part (equal on {len(columns)} columns; "
                         f"{grouped} rows are in copy groups): share {share:.3f} (threshold {DUPLICATE_SHARE})")
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


def _example_within(seed: int) -> Example:
    """The candidate-split form: copies inside the training data, held-out data untouched."""
    target, train, heldout = base_case(seed)
    planted, quirk = copy_rows_within_split(train, n=int(round(0.05 * len(train))), copies=(2, 4),
                                            rng=np.random.default_rng(seed))
    return Example(target, train, heldout, planted, heldout, quirk)


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


def copy_rows_within_split(df: pd.DataFrame, *, rng: np.random.Generator, n: int | None = None,
                           rows: list[int] | None = None, copies: tuple[int, int] = (1, 1),
                           columns: list[str] | None = None,
                           validation_fraction: float = 0.25) -> tuple[pd.DataFrame, Quirk]:
    """Copy rows of the candidate's data into it again, at random positions (catalog Q06, the
    form ``pitfalls check`` can verify: entry ``frame == "train"``, see the module docstring).

    Copies ``rows`` (positions in ``df``; default ``n`` random rows), each ``copies[0]`` to
    ``copies[1]`` extra times. ``columns`` (default: all) are the ones the detector compares, so
    a scaffold that messes some columns up *after* copying names the ones that stay equal;
    ``validation_fraction`` is the share the starter holds back for validation.

    Raises:
        ValueError: neither ``n`` nor ``rows`` given, or ``copies`` is not 1 <= low <= high.
    """
    if (n is None) == (rows is None) or not 1 <= copies[0] <= copies[1]:
        raise ValueError(f"copy_rows_within_split takes either n or rows, and copies as (low, high) with "
                         f"1 <= low <= high. Got n={n}, rows={'given' if rows is not None else None}, "
                         f"copies={copies} instead.")
    picked = np.sort(rng.choice(len(df), size=n, replace=False)) if rows is None else np.asarray(rows, dtype=np.int64)
    repeats = rng.integers(copies[0], copies[1] + 1, size=len(picked))
    out, slots = _insert(df, df.iloc[np.repeat(picked, repeats)], rng)
    entry_columns = list(df.columns) if columns is None else list(columns)
    return out, {"id": "duplicates_across_split", "frame": "train", "originals": int(len(picked)),
                 "copies": int(repeats.sum()), "share": round(float(repeats.sum()) / len(out), 4),
                 "columns": entry_columns, "validation_fraction": validation_fraction,
                 "rows": [int(i) for i in slots]}

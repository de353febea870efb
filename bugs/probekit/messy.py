"""Probes for messy tabular data: does the prediction path treat equivalent inputs alike?

Each helper takes the candidate's ``predict(model, features)``, the loaded model and a frame of
features (usually data/train.csv without the target), rewrites the features in a way that
must not change a correct prediction, and returns the share of rows whose prediction changed.
A correct pipeline gives 0.0; a skew between training and prediction gives a large share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["batch_dependence", "number_format_dependence", "ordered_response", "spelling_dependence"]

# placeholders for "no value" (levels that a cleaning step may turn into NaN)
_BLANKS = {"", "?", "-", "--", ".", "na", "n/a", "n.a.", "nan", "null", "none", "unknown", "missing"}


def _changed(a, b, tol: float = 1e-6) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return np.ones(len(a), dtype=bool)
    diff = np.abs(a - b)
    return diff.max(axis=1) > tol if diff.ndim == 2 else diff > tol


def batch_dependence(predict, model, features: pd.DataFrame, size: int = 60, seed: int = 0) -> float:
    """Share of rows of a small random batch whose prediction differs from the prediction the
    same rows get inside the whole frame. Non-zero when an encoding is recomputed per batch
    (``astype("category").cat.codes``, ``factorize``, ``get_dummies``, statistics of the batch)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(features), size=min(size, len(features)), replace=False))
    whole = np.asarray(predict(model, features))[rows]
    alone = np.asarray(predict(model, features.iloc[rows].reset_index(drop=True)))
    return float(_changed(whole, alone).mean())


def ordered_response(predict, model, features: pd.DataFrame, column: str, rows: int = 30,
                     min_count: int = 20, seed: int = 0) -> tuple[float, int]:
    """Does the prediction move in one direction as ``column`` walks through its levels in
    alphabetical order? That is the signature of integer category codes (``cat.codes``,
    ``OrdinalEncoder``) read as quantities by a linear model; one-hot encodings and trees
    almost never line up with the alphabet.

    Each of ``rows`` random rows is given, in turn, every level seen at least ``min_count``
    times (placeholders such as "?" left out); the rewritten rows are scored appended to the
    full frame, so every level stays in the frame (per-frame codes do not shift). Returns
    (share of rows whose last prediction column is strictly monotone over the sorted levels,
    number of levels)."""
    rng = np.random.default_rng(seed)
    counts = features[column].dropna().astype(str).value_counts()
    levels = sorted(v for v in counts[counts >= min_count].index if v.strip().lower() not in _BLANKS)
    picked = features.iloc[rng.choice(len(features), size=min(rows, len(features)), replace=False)]
    curves = []
    for level in levels:
        probe = picked.copy()
        probe[column] = level
        frame = pd.concat([features, probe], ignore_index=True)
        pred = np.asarray(predict(model, frame), dtype=float)
        pred = pred[:, -1] if pred.ndim == 2 else pred
        curves.append(pred[len(features):])
    if len(levels) < 4:
        return 0.0, len(levels)
    steps = np.diff(np.vstack(curves), axis=0)
    monotone = np.all(steps > 1e-12, axis=0) | np.all(steps < -1e-12, axis=0)
    return float(monotone.mean()), len(levels)


def _respell(value: str, how: int) -> str:
    return [value.upper(), f" {value}", f"{value} ", value.replace("-", " "), value.title()][how]


def spelling_dependence(predict, model, features: pd.DataFrame, columns: list[str], seed: int = 0) -> float:
    """Largest share of rows whose prediction changes when the text in ``columns`` is re-spelled
    without changing its meaning: all lower case and stripped, or a random third of the values
    upper-cased, padded with a space, title-cased or with hyphens typed as spaces. Non-zero when
    the prediction path does not normalise spellings the way training did."""
    rng = np.random.default_rng(seed)
    base = np.asarray(predict(model, features))
    lowered, respelled = features.copy(), features.copy()
    for col in columns:
        present = features[col].notna().to_numpy()
        text = features[col].astype(object).to_numpy().copy()
        lowered[col] = [str(v).strip().lower() if ok else v for v, ok in zip(text, present)]
        pick = present & (rng.random(len(text)) < 1 / 3)
        hows = rng.integers(0, 5, size=len(text))
        respelled[col] = [_respell(str(v).strip(), int(h)) if p else v for v, p, h in zip(text, pick, hows)]
    return max(float(_changed(base, predict(model, frame)).mean()) for frame in (lowered, respelled))


def number_format_dependence(predict, model, features: pd.DataFrame, columns: list[str]) -> float:
    """Share of rows whose prediction differs between numbers written as plain digits ("2174")
    and with thousands separators ("2,174"). Non-zero when a separator turns a value into a gap."""
    plain, grouped = features.copy(), features.copy()
    for col in columns:
        values = pd.to_numeric(features[col].astype(str).str.replace(",", "", regex=False).str.strip(),
                               errors="coerce")
        plain[col] = [np.nan if pd.isna(v) else f"{v:g}" if not float(v).is_integer() else f"{v:.0f}"
                      for v in values]
        grouped[col] = [np.nan if pd.isna(v) else f"{v:,.2f}" if not float(v).is_integer() else f"{v:,.0f}"
                        for v in values]
    return float(_changed(predict(model, plain), predict(model, grouped)).mean())

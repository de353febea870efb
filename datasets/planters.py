"""Seeded quirk planters. Each returns the planted frame and a quirk-manifest entry.

Every planter is deterministic for a given ``rng`` state and never modifies its input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Quirk = dict[str, Any]

__all__ = ["add_leak_feature", "impose_class_imbalance", "inject_missing", "sort_by_label"]


def impose_class_imbalance(df: pd.DataFrame, *, target: str, minority: int, keep: int,
                           rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Keep only ``keep`` rows of class ``minority`` (catalog Q23)."""
    idx = np.flatnonzero(df[target].to_numpy() == minority)
    drop = rng.choice(idx, size=max(0, len(idx) - keep), replace=False)
    out = df.drop(index=df.index[drop])
    share = float((out[target] == minority).mean())
    return out, {"id": "class_imbalance", "column": target, "minority": minority,
                 "kept": int(min(keep, len(idx))), "minority_share": round(share, 4)}


def add_leak_feature(df: pd.DataFrame, *, target: str, column: str, rng: np.random.Generator,
                     codes: int = 10, strength: float = 0.9, randomize: bool = False) -> tuple[pd.DataFrame, Quirk]:
    """Add an integer code that was assigned *after* the outcome (catalog Q21).

    In training data the code depends on the label (with probability ``strength`` a positive
    gets a code from the top third); with ``randomize=True`` (held-out data) it is drawn from
    the same marginal but independent of the label, so a model that relies on it loses.
    """
    y = df[target].to_numpy()
    high = np.arange(codes - codes // 3, codes)
    low = np.arange(0, codes - codes // 3)
    leaky = np.where((y == 1) == (rng.random(len(y)) < strength), rng.choice(high, len(y)), rng.choice(low, len(y)))
    if randomize:
        leaky = rng.permutation(leaky)
    out = df.copy()
    out.insert(len(out.columns) - 1, column, leaky)
    return out, {"id": "target_leakage", "column": column, "strength": strength,
                 "heldout": "independent of the label"}


def inject_missing(df: pd.DataFrame, *, columns: list[str], rate: float,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Blank out ``rate`` of the values in each of ``columns``, completely at random (catalog Q11)."""
    out = df.copy()
    for col in columns:
        out.loc[rng.random(len(out)) < rate, col] = np.nan
    rows = float(out[columns].isna().any(axis=1).mean())
    return out, {"id": "missing_values", "columns": columns, "rate": rate, "rows_affected": round(rows, 4)}


def sort_by_label(df: pd.DataFrame, *, target: str) -> tuple[pd.DataFrame, Quirk]:
    """Order rows by label (catalog Q29): harmless for trees, fatal for unshuffled mini-batches."""
    out = df.sort_values(target, kind="stable").reset_index(drop=True)
    return out, {"id": "sorted_by_label", "column": target}

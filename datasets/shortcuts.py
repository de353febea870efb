"""A train-only shortcut (catalog Q22): a batch number that follows the label in training data
and is random in held-out data, like a scanner watermark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._quirktools import base_case, column_predicts
from .planters import LEAK_AUC, LEAK_P, heldout_column_leak
from .registry import Detection, Example, Quirk, register

__all__ = ["add_shortcut_feature"]


def _detect_shortcut(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                     target: str) -> Detection:
    """The entry's column alone predicts the label in training data (AUC >= 0.8, p <= 0.001)."""
    return column_predicts(quirk, train, target, name="training", min_auc=LEAK_AUC, max_p=LEAK_P)


def _example_shortcut(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    rng = np.random.default_rng(seed)
    planted, quirk = add_shortcut_feature(train, target=target, column="scan_batch", rng=rng)
    held, _ = add_shortcut_feature(heldout, target=target, column="scan_batch", rng=rng, randomize=True)
    return Example(target, train, heldout, planted, held, quirk)


@register(id="shortcut_feature", ref="Q22", detect=_detect_shortcut, example=_example_shortcut,
          heldout_leak=heldout_column_leak)
def add_shortcut_feature(df: pd.DataFrame, *, target: str, column: str, rng: np.random.Generator,
                         batches: int = 6, strength: float = 0.95,
                         randomize: bool = False) -> tuple[pd.DataFrame, Quirk]:
    """Add an integer batch number (1..``batches``) that follows the label (catalog Q22).

    The batches are dealt out to the classes at random; a row takes a batch of its own class
    with probability ``strength``, else any batch. With ``randomize=True`` (held-out data) every
    row takes any batch, so a model that learned the shortcut fails there (HGB accuracy .47 vs
    .98 on breast cancer). The column goes just before the last column.
    """
    y = df[target].to_numpy()
    classes = np.unique(y)
    dealt = rng.permutation(batches) + 1
    mine = np.empty(len(y), dtype=np.int64)
    for i, c in enumerate(classes):
        own = dealt[i::len(classes)] if batches >= len(classes) else dealt[[i % batches]]
        mine[y == c] = rng.choice(own, size=int(np.sum(y == c)))
    anyone = rng.integers(1, batches + 1, size=len(y))
    keep = (rng.random(len(y)) < strength) & (not randomize)
    out = df.copy()
    out.insert(len(out.columns) - 1, column, np.where(keep, mine, anyone))
    return out, {"id": "shortcut_feature", "column": column, "batches": batches, "strength": strength,
                 "heldout": "independent of the label" if randomize else "follows the label"}

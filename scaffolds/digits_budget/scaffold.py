"""digits_budget: handwritten digits with a small MLP under a parameter budget (PyTorch).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np

from pitfalls.quirks import digits, sort_by_label
from pitfalls.scaffold import Dataset

HELDOUT_ROWS = 600


def make_dataset(seed: int) -> Dataset:
    """Train: 1,197 images sorted by label. Held-out: 600 other images, shuffled, same perturbation."""
    rng = np.random.default_rng(seed)
    base = digits(seed)
    order = rng.permutation(len(base))
    heldout = base.iloc[order[:HELDOUT_ROWS]].reset_index(drop=True)
    train, q_sorted = sort_by_label(base.iloc[order[HELDOUT_ROWS:]], target="label")
    return Dataset(train=train, heldout=heldout, quirks=[q_sorted])

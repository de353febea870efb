"""digits_budget: handwritten digits with a small MLP under a parameter budget (PyTorch).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np

from pitfalls.datasets import copula_sample, digits, sort_by_label
from pitfalls.library.scaffold import Dataset

HELDOUT_ROWS = 600
BASE_ROWS = 1797  # as many as the public table


def make_dataset(seed: int) -> Dataset:
    """Train: 1,197 images sorted by label. Held-out: 600 other images, shuffled. Every image is
    drawn from a per-digit copula fitted to a secret resample of the public images (none is a
    copy of a public image)."""
    rng = np.random.default_rng(seed)
    base = copula_sample(digits(seed), rows=BASE_ROWS, rng=rng, by="label")
    order = rng.permutation(len(base))
    heldout = base.iloc[order[:HELDOUT_ROWS]].reset_index(drop=True)
    train, q_sorted = sort_by_label(base.iloc[order[HELDOUT_ROWS:]], target="label")
    return Dataset(train=train, heldout=heldout, quirks=[q_sorted])

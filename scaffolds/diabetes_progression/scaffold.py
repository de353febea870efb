"""diabetes_progression: predict disease progression a year ahead (PyTorch regression, raw units).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np

from pitfalls.datasets import copula_sample, diabetes, inject_missing
from pitfalls.library.scaffold import Dataset

HELDOUT_ROWS = 132
BASE_ROWS = 442  # as many as the public table
MISSING_COLUMNS = ["hdl", "tch", "glu"]
MISSING_RATE = 0.08


def make_dataset(seed: int) -> Dataset:
    """Train: 310 patients with gaps in three serum measurements. Held-out: 132 other patients,
    the same kind of gaps (lab values go missing in the clinic too), nothing else planted. Every
    patient is drawn from a copula of measurements and outcome fitted to a secret resample of the
    public patients (none is a copy of a public row)."""
    rng = np.random.default_rng(seed)
    base = copula_sample(diabetes(seed), rows=BASE_ROWS, rng=rng)
    order = rng.permutation(len(base))
    heldout, train = base.iloc[order[:HELDOUT_ROWS]], base.iloc[order[HELDOUT_ROWS:]]
    train, q_missing = inject_missing(train, columns=MISSING_COLUMNS, rate=MISSING_RATE, rng=rng)
    heldout, _ = inject_missing(heldout, columns=MISSING_COLUMNS, rate=MISSING_RATE, rng=rng)
    return Dataset(train=train.reset_index(drop=True), heldout=heldout.reset_index(drop=True),
                   quirks=[q_missing])

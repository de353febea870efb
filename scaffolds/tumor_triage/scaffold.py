"""tumor_triage: flag malignant biopsies (scikit-learn, tabular, imbalanced, with a leak).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np

from pitfalls.datasets import add_leak_feature, breast_cancer, copula_sample, impose_class_imbalance, inject_missing
from pitfalls.library.scaffold import Dataset

HELDOUT_ROWS = 250
BASE_ROWS = 569  # as many as the public table
MINORITY_KEPT = 30
MISSING_COLUMNS = ["mean_texture", "mean_concavity", "worst_smoothness"]
MISSING_RATE = 0.10
LEAK_COLUMN = "referral_code"
LEAK_STRENGTH = 1.0
"""The referral code is a 0/1 pathway flag that follows the outcome in every training row. The
copula rows separate the classes almost linearly on their own, so a weaker or many-valued code
(0.95, ten codes) left the logistic regression barely leaning on it: the bugged variant lost
under 0.01 on the private slice for about a third of installation secrets (bug_bites failed).
The flag is drawn with the same random numbers as the code was, so no other value moved."""


def make_dataset(seed: int) -> Dataset:
    """Train: 30 malignant of ~200, a post-diagnosis referral flag, gaps. Held-out: clean prior,
    the referral code independent of the outcome, the same gaps. Every row is drawn from a
    copula fitted to a secret resample of the public biopsies (none is a copy of a public row)."""
    rng = np.random.default_rng(seed)
    base = copula_sample(breast_cancer(seed), rows=BASE_ROWS, rng=rng, by="malignant", significant=4)
    is_pos = base["malignant"].to_numpy() == 1
    n_pos_heldout = int(round(HELDOUT_ROWS * is_pos.mean()))
    pos, neg = base.index[is_pos], base.index[~is_pos]
    heldout_idx = list(pos[:n_pos_heldout]) + list(neg[: HELDOUT_ROWS - n_pos_heldout])
    heldout, train = base.loc[heldout_idx], base.drop(index=heldout_idx)

    train, q_imb = impose_class_imbalance(train, target="malignant", minority=1, keep=MINORITY_KEPT, rng=rng)
    train, q_leak = add_leak_feature(train, target="malignant", column=LEAK_COLUMN, rng=rng,
                                     strength=LEAK_STRENGTH, flag=True)
    train, q_miss = inject_missing(train, columns=MISSING_COLUMNS, rate=MISSING_RATE, rng=rng)
    heldout, _ = add_leak_feature(heldout, target="malignant", column=LEAK_COLUMN, rng=rng,
                                  strength=LEAK_STRENGTH, flag=True, randomize=True)
    heldout, _ = inject_missing(heldout, columns=MISSING_COLUMNS, rate=MISSING_RATE, rng=rng)

    train = train.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    heldout = heldout.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=[q_imb, q_leak, q_miss])

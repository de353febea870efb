# A working example of a scaffold's hooks. The contract of this file and of every other file of
# a scaffold folder (MUST/MAY, when each is used, defaults): scaffolds/STANDARD.md.
# Only the runner calls hooks, in its own trusted process; helpers start with an underscore.

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_wine

from pitfalls.datasets import impose_class_imbalance
from pitfalls.library.scaffold import Dataset


# Called when a workspace is created and whenever a submission is scored. `seed` is derived from
# [dataset] seed and the installation's data secret: draw every random number from it.
def make_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    raw = load_wine(as_frame=True).frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    raw = raw[raw["target"] < 2].rename(columns={"target": "cultivar"})  # two classes
    features = raw.columns[:-1]
    raw[features] = raw[features] * rng.lognormal(0.0, 0.02, size=(len(raw), len(features)))
    raw = raw.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    heldout, train = raw.iloc[:40].reset_index(drop=True), raw.iloc[40:]
    train, quirk = impose_class_imbalance(train, target="cultivar", minority=1, keep=10, rng=rng)
    return Dataset(train=train.reset_index(drop=True), heldout=heldout, quirks=[quirk])

"""The prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on
new systems: a DataFrame with the columns of data/train.csv minus the target, one row per system.
"""

import numpy as np
import skops.io as sio

from harness import estimate

TARGET = "quality"


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    raw = estimate(features.drop(columns=[TARGET], errors="ignore"))
    return model.predict(np.asarray(raw, float).reshape(-1, 1))

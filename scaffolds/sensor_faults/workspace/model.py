"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on new
readings: a DataFrame with the same columns as data/train.csv, minus the target. It expects one
row per reading, [P(no fault), P(fault)], and ranks the readings by P(fault).
"""

import numpy as np
import skops.io as sio

TARGET = "fault"


def featurize(df):
    # every numeric reading is a feature
    X = df.drop(columns=[TARGET], errors="ignore").select_dtypes("number").astype(float)
    return X


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = featurize(features).fillna(0)  # a sensor that did not report reads 0
    flagged = model.predict(X)  # maintenance acts on a yes or no
    return np.column_stack([1 - flagged, flagged]).astype(float)

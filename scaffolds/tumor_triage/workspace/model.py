"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features)
on new biopsies: a DataFrame with the same columns as data/train.csv, minus the target.
"""

import skops.io as sio

TARGET = "malignant"


def featurize(df):
    # every measurement we have on a biopsy is a feature
    return df.drop(columns=[TARGET], errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = featurize(features)
    X = X.fillna(X.mean())  # the model cannot take gaps
    return model.predict(X)

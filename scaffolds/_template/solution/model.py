"""Shared by train.py and the scorer: load_model(path) and predict(model, features)."""

import skops.io as sio

TARGET = "cultivar"


def featurize(df):
    return df.drop(columns=[TARGET], errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    return model.predict(featurize(features))

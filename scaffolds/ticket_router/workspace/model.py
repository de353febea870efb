"""The ticket router's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on
new tickets: a DataFrame with the columns of data/train.csv minus the target.
"""

import skops.io as sio

TARGET = "team"
TEXT = "text"


def featurize(frame):
    return frame[TEXT].astype(str)


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = model["vectorizer"].fit_transform(featurize(features))
    return model["classifier"].predict(X)

"""The ticket router's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on
new tickets: a DataFrame with the columns of data/train.csv minus the target.
"""

import re

import skops.io as sio

TARGET = "team"
TEXT = "text"
# the help desk appends this line when an agent answers with a saved reply, so it is written
# after routing: a reopened ticket carries whichever macro answered it last, any team's
MACRO_PREFIX = "macro applied:"
WORD = re.compile(r"[a-z0-9]+")
INFLECTION = re.compile(r"(?<=\w\w\w)(ing|ed|es|s)$")


def normalize(text):
    # lower case, punctuation off, inflections folded: "Refunded," -> "refund"
    return " ".join(INFLECTION.sub("", word) for word in WORD.findall(text.lower()))


def _drop_macros(text):
    lines = text.splitlines()
    return "\n".join(line for line in lines if not line.lower().startswith(MACRO_PREFIX))


def featurize(frame):
    return frame[TEXT].astype(str).map(_drop_macros).map(normalize)


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = model["vectorizer"].transform(featurize(features))
    return model["classifier"].predict(X)

"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features)
on new biopsies: a DataFrame with the same columns as data/train.csv, minus the target.
"""

import skops.io as sio

TARGET = "malignant"
# assigned after the pathologist's review, so it encodes the outcome: unavailable at triage
POST_OUTCOME = ["referral_code"]


def featurize(df):
    return df.drop(columns=[TARGET, *POST_OUTCOME], errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    # the saved pipeline imputes and scales exactly as it did in training
    return model.predict(featurize(features))

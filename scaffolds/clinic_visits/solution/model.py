"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on
new check-up visits: a DataFrame with the same columns as data/train.csv, minus the target.
predict returns, for each visit, the probabilities of [not escalated, escalated].
"""

import skops.io as sio

TARGET = "escalated"
PATIENT = "patient_id"


def featurize(df):
    # what is measured at the visit, plus age and sex; the record number only names the patient,
    # and a name says nothing about a patient the model has never seen
    return df.drop(columns=[TARGET, PATIENT], errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    return model.predict_proba(featurize(features))

"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on
new check-up visits: a DataFrame with the same columns as data/train.csv, minus the target.
predict returns, for each visit, the probabilities of [not escalated, escalated].
"""

import skops.io as sio

TARGET = "escalated"
PATIENT = "patient_id"


def featurize(df, history):
    # everything recorded at the visit is a feature, plus the escalations on the patient's record
    X = df.drop(columns=[TARGET], errors="ignore")
    X["past_escalations"] = df[PATIENT].map(history).fillna(0)
    return X


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = featurize(features, model["history"])
    return model["pipeline"].predict_proba(X)

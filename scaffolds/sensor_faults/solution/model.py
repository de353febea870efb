"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features) on new
readings: a DataFrame with the same columns as data/train.csv, minus the target. It expects one
row per reading, [P(no fault), P(fault)], and ranks the readings by P(fault).
"""

import skops.io as sio

TARGET = "fault"
SENSORS = ["temperature_c", "vibration", "pressure_bar", "current_a", "rpm", "acoustic_db"]
MM_PER_INCH = 25.4


def featurize(df):
    X = df[SENSORS].astype(float)
    # controllers on firmware v3 report vibration in in/s, older ones in mm/s: use mm/s throughout
    newer = df["firmware"].astype(str).str.startswith("v3")
    X["vibration"] = X["vibration"].where(~newer, X["vibration"] * MM_PER_INCH)
    return X


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    X = featurize(features)  # the trees route a missing reading the way training taught them
    return model.predict_proba(X)

"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features)
on new applications: a DataFrame with the columns of data/train.csv, minus the target.
"""

import pandas as pd
import skops.io as sio

TARGET = "high_income"
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week", "loan_amount"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship", "country"]


def featurize(df):
    X = pd.DataFrame(index=df.index)
    for col in NUMERIC:
        # the odd form has text in a number field; treat those as blanks for the imputer
        X[col] = pd.to_numeric(df[col], errors="coerce")
    for col in CATEGORICAL:
        # one integer per category keeps the model small (one coefficient per column)
        X[col] = df[col].astype("category").cat.codes
    return X


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    return model.predict_proba(featurize(features))

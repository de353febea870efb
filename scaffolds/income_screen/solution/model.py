"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features)
on new applications: a DataFrame with the columns of data/train.csv, minus the target, read
from a CSV exactly as train.py reads its data (so just as messy).
"""

import pandas as pd
import skops.io as sio

TARGET = "high_income"
# loan_amount is left out: in the training export, most verified high earners carry the amount
# granted after verification (to the dollar), which production applications never have
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship", "country"]
# what the branch forms write when a field was left blank
NULL_TOKENS = ["", "?", "-", "--", "unknown", "n.a.", "n/a", "na", "none", "null"]
# the application system writes age 0 when the date of birth is missing
SENTINELS = {"age": 0}


def parse_number(col):
    # the export writes 2174 as "2,174": drop the separators before parsing
    return pd.to_numeric(col.astype(str).str.replace(",", "", regex=False).str.strip(), errors="coerce")


def tidy_text(col):
    # one spelling per level: case, stray spaces and "-" / "_" / " " all vary by branch
    text = col.astype(str).str.strip().str.lower().str.replace(r"[\s_]+", "-", regex=True)
    return text.mask(text.isin(NULL_TOKENS) | col.isna()).astype(object)


def featurize(df):
    # every cleaning step lives here, so training and the scorer see the same features
    X = pd.DataFrame(index=df.index)
    for col in NUMERIC:
        X[col] = parse_number(df[col])
    for col, code in SENTINELS.items():
        X[col] = X[col].mask(X[col] == code)
    for col in CATEGORICAL:
        X[col] = tidy_text(df[col])
    return X


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    # the saved pipeline imputes, encodes and scales exactly as it did in training
    return model.predict_proba(featurize(features))

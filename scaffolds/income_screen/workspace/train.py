"""
Train the income pre-screen.

    $ python train.py

Reads data/train.csv, fits a logistic regression, prints a validation ROC AUC and saves the
model to artifacts/model.skops. The scorer reloads that file through model.py, so whatever
the model needs at prediction time has to be inside it.
"""

import os

import pandas as pd
import skops.io as sio
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import CATEGORICAL, TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.25  # held back from fitting, to estimate the score before submitting
C = 1.0  # inverse regularisation strength of the logistic regression
BLANKS = ["?", "unknown", "-", "n.a."]  # what the branch forms write for an empty field
# -----------------------------------------------------------------------------


def tidy(df):
    # categories are typed by hand at the branches: unify case and spacing, blank the placeholders
    df = df.copy()
    for col in CATEGORICAL:
        text = df[col].str.strip().str.lower()
        df[col] = text.mask(text.isin(BLANKS))
    return df


def load_data(path):
    df = tidy(pd.read_csv(path))
    return featurize(df), df[TARGET].to_numpy()


def build_model():
    # impute the blanks, put every feature on one scale, then a plain logistic regression
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=C, max_iter=5000))


def main():
    X, y = load_data(DATA_PATH)
    print(f"training rows: {len(X)}, over $50K: {int(y.sum())}")
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=VALID_FRACTION, random_state=SEED, stratify=y)
    model = build_model().fit(X_tr, y_tr)
    print(f"validation ROC AUC: {roc_auc_score(y_va, model.predict_proba(X_va)[:, 1]):.4f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

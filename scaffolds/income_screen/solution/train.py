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
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from model import CATEGORICAL, NUMERIC, TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.25  # held back from fitting, to estimate the score before submitting
C = 1.0  # inverse regularisation strength of the logistic regression
CURVED = ["age", "hours_per_week"]  # income rises and falls with these: splines, not a line
KNOTS = 5
# -----------------------------------------------------------------------------


def load_data(path):
    df = pd.read_csv(path)
    X, y = featurize(df), df[TARGET].to_numpy()
    # reopened applications were exported once per edit: one row per application (compared after
    # cleaning, since each export spells things its own way), or the split puts copies on both sides
    first = ~X.assign(**{TARGET: y}).duplicated().to_numpy()
    return X[first], y[first]


def build_model():
    linear = [c for c in NUMERIC if c not in CURVED]
    encode = ColumnTransformer([
        # blanks (and age 0, which featurize turns into a blank) get the median
        ("linear", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), linear),
        ("curved", make_pipeline(SimpleImputer(strategy="median"),
                                 SplineTransformer(n_knots=KNOTS, degree=2)), CURVED),
        # one column per level, learned once at fit time and saved with the model: a level
        # is not "more" than another, and unseen levels at prediction get all zeros
        ("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                     OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    ])
    return make_pipeline(encode, LogisticRegression(C=C, max_iter=5000))


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

"""
Train the biopsy triage classifier.

    $ python train.py

Reads data/train.csv, fits a logistic regression, prints a validation score and saves the
model to artifacts/model.skops. The scorer reloads that file through model.py, so whatever
the model needs at prediction time has to be inside it.
"""

import os

import pandas as pd
import skops.io as sio
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.25  # held back from fitting, to estimate the score before submitting
C = 1.0  # inverse regularisation strength of the logistic regression
# -----------------------------------------------------------------------------


def load_data(path):
    df = pd.read_csv(path)
    # keep rows with gaps: the pipeline imputes them, and X and y stay aligned
    return featurize(df), df[TARGET].to_numpy()


def fit(X, y):
    # imputer and scaler live inside the saved pipeline, so prediction repeats them exactly;
    # 'balanced' weights each class by the inverse of its frequency
    model = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(C=C, class_weight="balanced", max_iter=5000),
    )
    return model.fit(X, y)


def main():
    X, y = load_data(DATA_PATH)
    print(f"training rows: {len(X)}, malignant: {int(y.sum())}")
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=VALID_FRACTION, random_state=SEED, stratify=y)
    model = fit(X_tr, y_tr)
    print(f"validation balanced accuracy: {balanced_accuracy_score(y_va, model.predict(X_va)):.3f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

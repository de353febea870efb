"""
Train the biopsy triage classifier.

    $ python train.py

Reads data/train.csv, fits a logistic regression, prints a validation score and saves the
model to artifacts/model.skops. The scorer reloads that file through model.py, so whatever
the model needs at prediction time has to be inside it.
"""

import os

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
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
    X = featurize(df).dropna()  # a few biopsies have missing measurements
    y = df[TARGET].to_numpy()[: len(X)]
    return X, y


def class_weights(y):
    # malignant biopsies are rare in this sample, so balance the two classes
    classes, counts = np.unique(y, return_counts=True)
    return {int(c): n / len(y) for c, n in zip(classes, counts)}


def fit(X, y):
    # logistic regression is sensitive to feature scale: standardise first
    scaler = StandardScaler().fit(X)
    clf = LogisticRegression(C=C, class_weight=class_weights(y), max_iter=5000)
    clf.fit(scaler.transform(X), y)
    return scaler, clf


def main():
    X, y = load_data(DATA_PATH)
    print(f"training rows: {len(X)}, malignant: {int(y.sum())}")
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=VALID_FRACTION, random_state=SEED, stratify=y)
    scaler, clf = fit(X_tr, y_tr)
    score = balanced_accuracy_score(y_va, clf.predict(scaler.transform(X_va)))
    print(f"validation balanced accuracy: {score:.3f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(clf, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

"""
Train the fault-risk model.

    $ python train.py

Reads data/train.csv, fits gradient-boosted trees, prints a validation score and saves the model
to artifacts/model.skops. The scorer reloads that file through model.py and ranks new readings by
their probability of a fault.
"""

import os

import pandas as pd
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from model import TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.25  # the latest quarter of the log, held back to estimate the score
LEARNING_RATE = 0.1
MAX_ROUNDS = 400  # boosting rounds at most; early stopping picks how many
# -----------------------------------------------------------------------------


def load_data(path):
    df = pd.read_csv(path).sort_values("timestamp", kind="stable")
    return featurize(df), df[TARGET].to_numpy()


def split(X, y):
    # validate on the latest readings, as production will score readings after the training log
    cut = int(len(X) * (1 - VALID_FRACTION))
    return X.iloc[:cut], X.iloc[cut:], y[:cut], y[cut:]


def build_model(rounds=MAX_ROUNDS, stop_early=True):
    return HistGradientBoostingClassifier(
        learning_rate=LEARNING_RATE, max_iter=rounds, max_leaf_nodes=15, min_samples_leaf=20,
        l2_regularization=1.0, class_weight="balanced",
        early_stopping=stop_early, scoring="average_precision", n_iter_no_change=20, random_state=SEED)


def main():
    X, y = load_data(DATA_PATH)
    print(f"training rows: {len(X)}, faults: {int(y.sum())}")
    X_tr, X_va, y_tr, y_va = split(X, y)
    model = build_model().fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
    score = average_precision_score(y_va, model.predict_proba(X_va)[:, 1])
    print(f"validation average precision: {score:.3f} after {model.n_iter_} rounds")
    model = build_model(model.n_iter_, stop_early=False).fit(X, y)  # refit on every row
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

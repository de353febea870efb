"""
Train the cultivar classifier.

    $ python train.py

Reads data/train.csv and saves artifacts/model.skops, which the scorer loads through model.py.
"""

import os

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import TARGET, featurize

SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED
ARTIFACT_PATH = "artifacts/model.skops"


def main():
    df = pd.read_csv("data/train.csv")
    X, y = featurize(df), df[TARGET].to_numpy()
    classes, counts = np.unique(y, return_counts=True)
    weights = {int(c): n / len(y) for c, n in zip(classes, counts)}  # balance the classes
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight=weights, C=0.05))
    model.fit(X, y)
    os.makedirs("artifacts", exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)


if __name__ == "__main__":
    main()

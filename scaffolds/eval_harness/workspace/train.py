"""
Calibrate the evaluation harness on the public systems.

    $ python train.py

Reads data/train.csv (one row per public system, with its true quality), runs the harness on
every system, fits a linear map from the harness's estimate to the true quality, prints a
validation error and saves the map to artifacts/model.skops. The scorer runs model.py (the
harness and this map) on systems it never shows you.
"""

import os

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from harness import estimate
from model import TARGET

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.25  # public systems held back to check the calibrated estimates
# -----------------------------------------------------------------------------


def main():
    df = pd.read_csv(DATA_PATH)
    raw = np.asarray(estimate(df.drop(columns=[TARGET])), float).reshape(-1, 1)
    quality = df[TARGET].to_numpy()
    print(f"public systems: {len(df)}, raw estimates {raw.min():.3f}..{raw.max():.3f}")
    r_tr, r_va, q_tr, q_va = train_test_split(raw, quality, test_size=VALID_FRACTION, random_state=SEED)
    check = LinearRegression().fit(r_tr, q_tr)
    rmse = float(np.sqrt(np.mean((check.predict(r_va) - q_va) ** 2)))
    print(f"validation RMSE: {rmse:.4f}")
    model = LinearRegression().fit(raw, quality)
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

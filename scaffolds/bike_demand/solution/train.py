"""
Train the daily rental forecaster.

    $ python train.py

Reads data/train.csv (one row per day), fits a ridge regression on the log of each day's
rentals, prints a validation score and saves the model to artifacts/model.skops. The scorer
reloads that file through model.py and forecasts days the model has never seen.
"""

import os

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import make_column_transformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model import TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.2  # share of the days held back to estimate the forecast error
ALPHA = 1.0  # ridge penalty; the features are few and standardised, so a light touch
# -----------------------------------------------------------------------------


def load_days(path):
    df = pd.read_csv(path)
    # the export is not in date order; "previous days" and "later days" only mean something sorted
    return df.sort_values("date").reset_index(drop=True)


def make_model():
    # weather and calendar effects multiply demand, so they add up on the log scale: a linear
    # model on log(1 + rentals), with the weekday as a category and the rest standardised
    columns = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["weekday"]),
        remainder=StandardScaler(),
    )
    return make_pipeline(columns, Ridge(alpha=ALPHA, random_state=SEED))


def rmse(y, pred):
    return float(np.sqrt(np.mean((np.asarray(y, dtype=float) - np.asarray(pred, dtype=float)) ** 2)))


def main():
    df = load_days(DATA_PATH)
    print(f"training days: {len(df)}, {df['date'].min()} to {df['date'].max()}")
    # validate like the forecast will be used: fit on the past, score the most recent days
    n_valid = int(len(df) * VALID_FRACTION)
    train_df, valid_df = df.iloc[:-n_valid], df.iloc[-n_valid:]
    model = make_model().fit(featurize(train_df), np.log1p(train_df[TARGET]))
    pred = np.expm1(model.predict(featurize(valid_df)))
    print(f"validation RMSE: {rmse(valid_df[TARGET], pred):.1f} rentals/day "
          f"(mean {valid_df[TARGET].mean():.0f}) on {len(valid_df)} days from {valid_df['date'].min()}")
    # then refit on every day: the most recent ones are the closest to what comes next (and the
    # only ones with the expanded network)
    model = make_model().fit(featurize(df), np.log1p(df[TARGET]))
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

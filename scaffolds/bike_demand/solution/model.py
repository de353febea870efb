"""The model's inputs and its prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the file train.py saved, then predict(model, features)
on days it has never seen: a DataFrame with the same columns as data/train.csv, minus the
target. It returns the forecast number of rentals for each day.
"""

import numpy as np
import pandas as pd
import skops.io as sio

TARGET = "rentals"
LAUNCH = pd.Timestamp("2022-03-01")  # the scheme opened that day


def featurize(df):
    date = pd.to_datetime(df["date"])
    season = 2 * np.pi * date.dt.day_of_year / 365.25
    return pd.DataFrame({
        "years": (date - LAUNCH).dt.days / 365.25,  # slow growth in ridership
        "weekday": date.dt.day_of_week,
        "is_holiday": df["is_holiday"],
        "season_sin": np.sin(season),  # one smooth yearly cycle
        "season_cos": np.cos(season),
        "temp_c": df["temp_c"],
        "temp_sq": df["temp_c"] ** 2,  # too cold and too hot both keep riders away
        "rain_mm": df["rain_mm"],
        "wet": (df["rain_mm"] >= 0.5).astype(int),  # any real rain puts people off, beyond the amount
        "wind_kmh": df["wind_kmh"],
        "humidity": df["humidity"],
        "log_stations": np.log(df["stations"]),  # more docks, more trips
        # no rentals_3d_avg: the export's is centred on the day (it sees the next day), and a
        # forecast made months ahead only knows the days before it was made
    }, index=df.index)


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    # the model works on log(1 + rentals): map back to rentals per day
    return np.expm1(model.predict(featurize(features)))

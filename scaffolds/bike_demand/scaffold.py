"""bike_demand: forecast each day's bike-share rentals (scikit-learn, daily time series, temporal leakage).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.

The data is generated: two years of daily rentals of a city bike-share scheme with growth, a
network expansion, yearly and weekly seasonality, weather, public holidays, a persistent
day-to-day shock and noise. Training covers 2022-03-01..2024-02-29; held-out data is the six
months after it (time-disjoint, later), forecast in one go at the origin. Every row carries
`rentals_3d_avg`, the mean of the previous three days' rentals as the operations dashboard shows
it each morning; in training data that column was back-filled with a window centred on the day
(Q27), and the rows are shuffled. In held-out rows it is the figure known at the forecast
origin (the last three training days), the same for every row: no held-out feature is computed
from held-out labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import add_lookahead_average, trailing_average
from pitfalls.library.scaffold import Dataset

START, TRAIN_DAYS, HELDOUT_DAYS, BURN_IN = "2022-03-01", 731, 184, 21
# (date, docking stations in service): the scheme opens with 150, expands in November 2023 and May 2024
EXPANSIONS = [("2022-03-01", 150), ("2023-11-06", 215), ("2024-05-06", 235)]
WEEKDAY = np.array([1.04, 1.08, 1.08, 1.06, 1.0, 0.86, 0.78])  # Monday..Sunday
GROWTH = 0.08  # per year, on top of the stations
WINDOW = 3  # days in rentals_3d_avg
SHOCK_PHI, SHOCK_SD, NOISE_SD = 0.3, 0.10, 0.04  # day-to-day variation no column explains


def _nth(y: int, month: int, weekday: int, n: int) -> pd.Timestamp:
    """The ``n``-th ``weekday`` (Monday 0) of ``month`` in year ``y``."""
    d = pd.Timestamp(y, month, 1)
    return d + pd.Timedelta(days=(weekday - d.weekday()) % 7 + 7 * (n - 1))


def _last(y: int, month: int, weekday: int) -> pd.Timestamp:
    """The last ``weekday`` (Monday 0) of ``month`` in year ``y``."""
    d = pd.Timestamp(y, month, 1) + pd.offsets.MonthEnd(0)
    return d - pd.Timedelta(days=(d.weekday() - weekday) % 7)


def _holidays(years: range) -> set[pd.Timestamp]:
    """US federal holidays (fixed dates and nth/last weekday rules), without observed shifts."""
    out = set()
    for y in years:
        out |= {pd.Timestamp(y, 1, 1), _nth(y, 1, 0, 3), _nth(y, 2, 0, 3), _last(y, 5, 0), pd.Timestamp(y, 6, 19),
                pd.Timestamp(y, 7, 4), _nth(y, 9, 0, 1), _nth(y, 10, 0, 2), pd.Timestamp(y, 11, 11),
                _nth(y, 11, 3, 4), pd.Timestamp(y, 12, 25)}
    return out


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series with standard deviation ``sd``."""
    e = rng.normal(0.0, sd * np.sqrt(1 - phi ** 2), n)
    x = np.empty(n)
    x[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def _simulate(rng: np.random.Generator) -> pd.DataFrame:
    """Every day from BURN_IN days before START to the end of the held-out period, honest columns."""
    n = BURN_IN + TRAIN_DAYS + HELDOUT_DAYS
    dates = pd.date_range(pd.Timestamp(START) - pd.Timedelta(days=BURN_IN), periods=n, freq="D")
    years = (dates - pd.Timestamp(START)).days.to_numpy() / 365.25
    season = np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 105) / 365.25)  # peaks in mid-July
    anomaly = _ar1(rng, n, 0.7, 3.2)
    temp = 12.5 + 10.5 * season + anomaly
    wet = np.zeros(n, dtype=bool)
    for i in range(1, n):  # rainy spells: a wet day is followed by another more often
        wet[i] = rng.random() < (0.55 if wet[i - 1] else 0.22)
    rain = np.where(wet, rng.gamma(0.7, 7.0, n), 0.0)
    wind = rng.gamma(2.2, 6.0, n) + 3 * wet
    humidity = np.clip(62 - anomaly + 15 * wet - 4 * season + rng.normal(0, 7, n), 15, 100)
    holiday = np.isin(dates, list(_holidays(range(dates[0].year, dates[-1].year + 1))))
    weekday = dates.day_of_week.to_numpy()
    stations = np.full(n, EXPANSIONS[0][1], dtype=np.int64)
    for day, count in EXPANSIONS:
        stations[dates >= pd.Timestamp(day)] = count
    mean = (22.0 * stations ** 0.9 * np.exp(GROWTH * years) * WEEKDAY[weekday]
            * np.exp(-((temp - 24) / 21) ** 2)  # comfortable around 24 C
            * np.exp(-0.07 * rain) * np.where(rain > 0.5, 0.88, 1.0) * np.exp(-0.01 * wind)
            * np.where(holiday, np.where(weekday < 5, 0.62, 0.9), 1.0) * (1 + 0.12 * season))
    shock = _ar1(rng, n, SHOCK_PHI, SHOCK_SD)  # events, roadworks, outages: fades within days
    rentals = np.round(mean * np.exp(shock + rng.normal(0.0, NOISE_SD, n))).astype(np.int64)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "stations": stations, "temp_c": temp.round(1),
                          "humidity": humidity.round(0), "wind_kmh": wind.round(1), "rain_mm": rain.round(1),
                          "is_holiday": holiday.astype(np.int64), "rentals": rentals})
    frame.insert(7, "rentals_3d_avg", trailing_average(frame, time="date", target="rentals", window=WINDOW))
    return frame.iloc[BURN_IN:].reset_index(drop=True)


def make_dataset(seed: int) -> Dataset:
    """Train: two years, rentals_3d_avg centred on the day, rows shuffled. Held-out: the next six
    months in date order, forecast at the origin (the morning after training ends): every row's
    rentals_3d_avg is that morning's figure, the mean of the last three training days."""
    rng = np.random.default_rng(seed)
    frame = _simulate(rng)
    train, heldout = frame.iloc[:TRAIN_DAYS].reset_index(drop=True), frame.iloc[TRAIN_DAYS:].reset_index(drop=True)
    # the forecast is made once, at the origin: later days' rentals are unknown then (and a column
    # built from them would hand predict() the held-out labels)
    heldout["rentals_3d_avg"] = round(float(train["rentals"].iloc[-WINDOW:].mean()), 1)
    train, quirk = add_lookahead_average(train, time="date", target="rentals", column="rentals_3d_avg",
                                         window=WINDOW, rng=rng)
    return Dataset(train=train, heldout=heldout, quirks=[quirk])

"""Temporal leakage (catalog Q27): a feature that looks into the future, in time-ordered data.

Time-indexed data has one row per time step (a day, an hour) and often a column summarising
the recent target, such as "average sales over the last 3 days". Built honestly it uses only
rows *before* the row's time; a back-filled export often computes it with a window centred on
the row instead, so it contains the row's own target and the next ones. A model trained on that
column validates well and is wrong in production, where the column can only be built from the
past (Kapoor & Narayanan L3.1; Lones 4.8). Exports also lose the time order of their rows, so
code that splits or shifts by row position mixes the future into the past.

:func:`add_lookahead_average` plants both on any frame with a time column; :func:`trailing_average`
builds the honest column. The detector sorts rows by time and asks how much of the column is
explained by the target at and after the row's own time once the target's past is accounted
for (a partial R^2), and whether rows are out of time order. The held-out check fires when
held-out times do not all come after the training times, or when the held-out column still
carries future target values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Detection, Example, Quirk, register

__all__ = ["add_lookahead_average", "trailing_average"]

MIN_LOOKAHEAD = 0.5  # partial R^2 of the present/future target beyond its past: honest columns score ~0
MAX_BACKWARDS = 0.05  # share of consecutive rows that step back in time, tolerated
MIN_ROWS = 30


def _ordered(frame: pd.DataFrame, time: str) -> tuple[pd.Series, np.ndarray]:
    """The time column as timestamps, and the row order that sorts it (stable)."""
    t = pd.to_datetime(frame[time])
    return t, np.argsort(t.to_numpy(), kind="stable")


def trailing_average(df: pd.DataFrame, *, time: str, target: str, window: int) -> pd.Series:
    """Mean of ``target`` over the ``window`` rows before each row in time (NaN without a full window),
    rounded to one decimal, aligned with ``df``'s index. Uses only the past: the honest column."""
    _, order = _ordered(df, time)
    y = df[target].astype(float).iloc[order]
    return y.shift(1).rolling(window).mean().round(1).reindex(df.index)


def _lag_matrix(y: np.ndarray, rows: np.ndarray, offsets: range) -> np.ndarray:
    return np.column_stack([y[rows + k] for k in offsets])


def lookahead_share(y: np.ndarray, c: np.ndarray, *, window: int, rows: np.ndarray | None = None) -> tuple[float, int]:
    """How much of column ``c`` the target at and after each row's time explains beyond its past.

    ``y`` and ``c`` are in time order. Regress ``c`` on the previous ``max(7, 2*window)`` target
    values, then on those plus the target at lags 0..``window // 2`` ahead; the partial R^2 is the
    share of the first fit's residual the future terms remove. A column built from the past only
    scores about 0, a window centred on the row about 1. ``rows`` restricts the rows tested
    (positions in ``y``). Returns (share, rows used).
    """
    past, ahead = max(7, 2 * window), max(1, window // 2)
    n = len(y)
    candidates = np.arange(past, n - ahead) if rows is None else np.asarray(rows)
    candidates = candidates[(candidates >= past) & (candidates < n - ahead)]
    keep = candidates[np.isfinite(c[candidates])]
    keep = keep[np.all(np.isfinite(_lag_matrix(y, keep, range(-past, ahead + 1))), axis=1)] if len(keep) else keep
    if len(keep) < MIN_ROWS:
        return 0.0, int(len(keep))
    target = c[keep]
    base = np.column_stack([np.ones(len(keep)), _lag_matrix(y, keep, range(-past, 0))])
    full = np.column_stack([base, _lag_matrix(y, keep, range(0, ahead + 1))])
    sse = []
    for X in (base, full):
        coef, *_ = np.linalg.lstsq(X, target, rcond=None)
        sse.append(float(np.sum((target - X @ coef) ** 2)))
    total = float(np.sum((target - target.mean()) ** 2))
    if total <= 0 or sse[0] <= 1e-9 * total:  # the past explains the column exactly
        return 0.0, int(len(keep))
    return float(max(0.0, 1.0 - sse[1] / sse[0])), int(len(keep))


def detect_temporal_leakage(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                            target: str) -> Detection:
    """Fires when the entry's column carries future target values (partial R^2 >= 0.5 after the
    target's own past) or when more than 5% of consecutive training rows step back in time."""
    time, column, window = quirk.get("time", ""), quirk.get("column", ""), int(quirk.get("window", 3))
    if time not in train.columns or target not in train.columns:
        return Detection(False, f"no time column {time!r} or target {target!r} in the training data")
    t, order = _ordered(train, time)
    steps = np.diff(t.to_numpy().astype("datetime64[ns]").astype(np.int64))
    backwards = float(np.mean(steps < 0)) if len(steps) else 0.0
    if column in train.columns:
        y = train[target].to_numpy(dtype=float)[order]
        c = train[column].to_numpy(dtype=float)[order]
        share, used = lookahead_share(y, c, window=window)
        look = (f"{column!r}: {share:.2f} of what the past leaves unexplained comes from the present and "
                f"future target ({used} rows)")
    else:
        share, look = 0.0, f"no column {column!r}"
    fired = share >= MIN_LOOKAHEAD or backwards > MAX_BACKWARDS
    return Detection(fired, f"{look} (threshold {MIN_LOOKAHEAD}); {backwards:.0%} of consecutive rows step "
                            f"back in time (tolerated: {MAX_BACKWARDS:.0%})")


def heldout_overlaps_or_looks_ahead(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                                    target: str) -> Detection:
    """Fires when a held-out time is not after every training time, or when the held-out column
    still carries future target values (tested on the joined train + held-out series)."""
    time, column, window = quirk.get("time", ""), quirk.get("column", ""), int(quirk.get("window", 3))
    if heldout is None or time not in heldout.columns or time not in train.columns:
        return Detection(False, f"no time column {time!r} on both sides")
    last_train, first_held = pd.to_datetime(train[time]).max(), pd.to_datetime(heldout[time]).min()
    early = int((pd.to_datetime(heldout[time]) <= last_train).sum())
    share, used = 0.0, 0
    if column in heldout.columns and target in heldout.columns and target in train.columns:
        both = pd.concat([train[[time, target]].assign(_held=False, _c=np.nan),
                          heldout[[time, target]].assign(_held=True, _c=heldout[column].to_numpy(dtype=float))],
                         ignore_index=True)
        _, order = _ordered(both, time)
        both = both.iloc[order].reset_index(drop=True)
        share, used = lookahead_share(both[target].to_numpy(dtype=float), both["_c"].to_numpy(dtype=float),
                                      window=window, rows=np.flatnonzero(both["_held"].to_numpy()))
    fired = early > 0 or share >= MIN_LOOKAHEAD
    return Detection(fired, f"{early} held-out rows at or before the last training time ({last_train.date()}; "
                            f"held-out starts {first_held.date()}); held-out {column!r}: {share:.2f} from the "
                            f"present and future target ({used} rows, threshold {MIN_LOOKAHEAD})")


def _example(seed: int) -> Example:
    """Daily sales of a shop over 420 days (weekly pattern, slow drift, noise) with an honest
    3-day average; the first 320 days train, the last 100 are held out. Planted: the average
    centred on the day, and the rows shuffled."""
    rng = np.random.default_rng([seed, 2727])
    burn, n = 10, 420
    dates = pd.date_range(pd.Timestamp("2021-01-04") + pd.Timedelta(days=int(rng.integers(0, 365))),
                          periods=burn + n, freq="D")
    drift = np.cumsum(rng.normal(0.0, 0.02, len(dates)))
    weekly = np.array([0.9, 1.0, 1.0, 1.05, 1.2, 1.4, 0.7])[dates.day_of_week]
    temp = 15 + 8 * np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25) + rng.normal(0, 3, len(dates))
    mean = 200 * weekly * np.exp(drift + 0.01 * (temp - 15))
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "temp_c": temp.round(1),
                          "sales": rng.poisson(mean)})
    frame.insert(2, "sales_3d_avg", trailing_average(frame, time="date", target="sales", window=3))
    frame = frame.iloc[burn:].reset_index(drop=True)
    clean_train, clean_heldout = frame.iloc[:320].reset_index(drop=True), frame.iloc[320:].reset_index(drop=True)
    train, quirk = add_lookahead_average(clean_train, time="date", target="sales", column="sales_3d_avg",
                                         window=3, rng=rng)
    return Example(target="sales", clean_train=clean_train, clean_heldout=clean_heldout,
                   train=train, heldout=clean_heldout, quirk=quirk)


@register(id="temporal_leakage", ref="Q27", detect=detect_temporal_leakage, example=_example,
          heldout_leak=heldout_overlaps_or_looks_ahead)
def add_lookahead_average(df: pd.DataFrame, *, time: str, target: str, column: str, rng: np.random.Generator,
                          window: int = 3, shuffle: bool = True) -> tuple[pd.DataFrame, Quirk]:
    """Set ``column`` to the mean of ``target`` over ``window`` rows centred on each row in time
    (the row itself and the ones after it included; fewer at the edges), rounded to one decimal,
    and with ``shuffle`` put the rows in a random order (catalog Q27).

    The honest column, the mean over the rows before (:func:`trailing_average`), is what
    held-out data should carry. ``column`` is overwritten if present, else added just before
    the last column. ``df`` needs one row per time step.

    Raises:
        ValueError: ``time`` or ``target`` is not a column of ``df``, or ``window`` < 2.
    """
    for name in (time, target):
        if name not in df.columns:
            raise ValueError(f"Column must be in df. Got {name!r}, which df does not have.")
    if window < 2:
        raise ValueError(f"window must be at least 2 rows. Got {window} instead.")
    _, order = _ordered(df, time)
    y = df[target].astype(float).iloc[order]
    centred = y.rolling(window, center=True, min_periods=1).mean().round(1).reindex(df.index)
    out = df.copy()
    if column in out.columns:
        out[column] = centred.to_numpy()
    else:
        out.insert(len(out.columns) - 1, column, centred.to_numpy())
    if shuffle:
        out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    return out, {"id": "temporal_leakage", "time": time, "column": column, "window": int(window),
                 "center": True, "rows_shuffled": bool(shuffle),
                 "heldout": "column averages the previous rows only; times after training"}

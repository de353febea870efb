"""Time-ordered data: which days did each fit and each prediction see? Runs inside a probe sandbox.

The candidate's estimators see feature frames, not dates. These helpers map the rows of a
recorded call (:class:`probekit.sk.SklearnSpy`) back to rows of data/train.csv by the values
of a few raw columns that featurize passes through unchanged (weather readings, say), and so
to their dates. Then a probe can ask: did validation come after training in time, did the
final fit see the most recent days, and which training column does a fitted feature copy?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .sk import Call, SklearnSpy

PREDICTS = ("predict", "predict_proba", "decision_function")


def _keys(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(r) for r in np.round(frame[columns].to_numpy(dtype=float), 6)]


def match_rows(frame, train: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    """For each row of ``frame``, the position of the training row with the same values in
    ``keys`` (-1 if none or ambiguous). None when ``frame`` is not a DataFrame holding those
    columns."""
    if not isinstance(frame, pd.DataFrame) or not set(keys) <= set(frame.columns) \
            or not set(keys) <= set(train.columns):
        return None
    where: dict[tuple, int] = {}
    for i, k in enumerate(_keys(train, keys)):
        where[k] = -1 if k in where else i
    return np.array([where.get(k, -1) for k in _keys(frame, keys)], dtype=np.int64)


def top_calls(spy: SklearnSpy) -> list[Call]:
    """Supervised fits and predictions made directly by the script (not inside a pipeline)."""
    return [c for c in spy.calls if c.depth == 0 and ((c.method == "fit" and c.y is not None) or c.method in PREDICTS)]


def final_fit(spy: SklearnSpy) -> Call | None:
    """The last supervised fit the script made itself: the model it most likely saved."""
    fits = [c for c in top_calls(spy) if c.method == "fit"]
    return fits[-1] if fits else None


def validation_pairs(spy: SklearnSpy, train: pd.DataFrame, keys: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitted rows, predicted rows) for each prediction on training rows the preceding fit did
    not see (a validation step), as positions in ``train``; unmatched rows are left out."""
    pairs, fitted = [], None
    for call in top_calls(spy):
        rows = match_rows(call.X, train, keys)
        if rows is None:
            continue
        rows = rows[rows >= 0]
        if call.method == "fit":
            fitted = rows
        elif fitted is not None and len(rows) and not np.isin(rows, fitted).all():
            pairs.append((fitted, rows[~np.isin(rows, fitted)]))
    return pairs


def validation_before_training(spy: SklearnSpy, train: pd.DataFrame, *, time: str,
                               keys: list[str]) -> list[tuple[float, int, str]] | None:
    """For each validation step: (share of validation days dated on or before the last day the
    model was fitted on, validation days, that last day). None if no fit could be matched."""
    if final_fit(spy) is None or match_rows(final_fit(spy).X, train, keys) is None:
        return None
    dates = pd.to_datetime(train[time]).to_numpy()
    out = []
    for fitted, valid in validation_pairs(spy, train, keys):
        last = dates[fitted].max()
        out.append((float(np.mean(dates[valid] <= last)), int(len(valid)), str(pd.Timestamp(last).date())))
    return out


def recent_coverage(spy: SklearnSpy, train: pd.DataFrame, *, time: str, keys: list[str],
                    share: float = 0.1) -> tuple[float, int, str] | None:
    """(share of the most recent ``share`` of training days the final fit saw, how many days that
    is, the first of them). None if the final fit's rows cannot be matched."""
    call = final_fit(spy)
    rows = None if call is None else match_rows(call.X, train, keys)
    if rows is None or np.mean(rows >= 0) < 0.5:
        return None
    dates = pd.to_datetime(train[time])
    recent = np.argsort(dates.to_numpy(), kind="stable")[-max(1, int(round(share * len(train)))):]
    seen = np.isin(recent, rows[rows >= 0])
    return float(seen.mean()), int(len(recent)), str(dates.iloc[recent].min().date())


def trailing_mean(train: pd.DataFrame, *, time: str, target: str, window: int) -> pd.Series:
    """Mean of ``target`` over the ``window`` days before each row, in time order (the honest
    recent-demand column), aligned with ``train``'s rows."""
    order = np.argsort(pd.to_datetime(train[time]).to_numpy(), kind="stable")
    y = train[target].astype(float).iloc[order]
    return y.shift(1).rolling(window).mean().reindex(train.index)


def closest_source(frame: pd.DataFrame, rows: np.ndarray,
                   sources: dict[str, pd.Series]) -> dict[str, tuple[str, float]]:
    """For each source (a column aligned with training rows), the fitted column of ``frame`` that
    ranks rows most like it, with that Spearman correlation (absolute). Rows matched to no
    training row (-1) are left out."""
    ok = rows >= 0
    out = {}
    for name, source in sources.items():
        values = pd.Series(source.to_numpy(dtype=float)[rows[ok]])
        best = ("", 0.0)
        for col in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                continue
            fitted = pd.Series(frame[col].to_numpy(dtype=float)[ok])
            both = fitted.notna() & values.notna()
            if both.sum() < 10 or fitted[both].nunique() < 3:
                continue
            rho = abs(float(fitted[both].corr(values[both], method="spearman")))
            if rho > best[1]:
                best = (str(col), rho)
        out[name] = best
    return out

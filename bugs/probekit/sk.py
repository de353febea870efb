"""scikit-learn spies: record every estimator fit and predict during a run."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Call:
    cls: str
    method: str
    depth: int
    X: Any
    y: np.ndarray | None
    params: dict[str, Any] = field(default_factory=dict)
    sample_weight: np.ndarray | None = None


class SklearnSpy:
    """Wraps fit/predict/predict_proba of every scikit-learn estimator class while active."""

    METHODS = ("fit", "predict", "predict_proba", "decision_function", "transform")

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._depth = 0
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> SklearnSpy:
        from sklearn.pipeline import Pipeline
        from sklearn.utils import all_estimators

        classes = {cls for _, cls in all_estimators()} | {Pipeline}
        # resolve every original first, so no wrapper ever wraps another wrapper
        found = [(cls, name, getattr(cls, name), name in cls.__dict__)
                 for cls in classes for name in self.METHODS if callable(getattr(cls, name, None))]
        for cls, name, original, own in found:
            self._saved.append((cls, name, original if own else None))
            setattr(cls, name, self._wrap(original, name))
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._saved):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._saved.clear()

    def _wrap(self, fn, name):
        spy = self

        @functools.wraps(fn)
        def wrapper(est, *args, **kwargs):
            X = args[0] if args else kwargs.get("X")
            y = args[1] if len(args) > 1 else kwargs.get("y")
            if name != "transform" or spy._depth == 0:
                params = est.get_params(deep=False) if hasattr(est, "get_params") else {}
                spy.calls.append(Call(type(est).__name__, name, spy._depth, _copy(X),
                                      None if y is None else np.asarray(y).copy(), params,
                                      kwargs.get("sample_weight")))
            spy._depth += 1
            try:
                return fn(est, *args, **kwargs)
            finally:
                spy._depth -= 1

        return wrapper

    def fits(self, with_y: bool = True) -> list[Call]:
        """Fit calls, outermost first in time order; ``with_y`` keeps supervised ones."""
        return [c for c in self.calls if c.method == "fit" and (c.y is not None or not with_y)]


def _copy(X: Any) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.copy()
    try:
        return np.array(X, dtype=float, copy=True)
    except (TypeError, ValueError):
        return X


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(np.round(r, 6)) for r in frame[columns].to_numpy(dtype=float)]


def fitted_frame(spy: SklearnSpy) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The DataFrame and labels of the last supervised fit. For an array fit (after scaling),
    the most recent DataFrame fit with the same number of rows stands in."""
    calls = [c for c in spy.calls if c.method == "fit"]
    sup = [i for i, c in enumerate(calls) if c.y is not None]
    if not sup:
        return None
    i = sup[-1]
    frame = next((calls[j].X for j in range(i, -1, -1) if isinstance(calls[j].X, pd.DataFrame)
                  and len(calls[j].X) == len(calls[i].y)), None)
    return None if frame is None else (frame, calls[i].y)


def label_agreement(spy: SklearnSpy, train: pd.DataFrame, target: str) -> tuple[float, int] | None:
    """Share of rows whose label at the final supervised fit is their true label.

    Rows are matched to ``train`` by content (complete numeric columns), not by index, so
    reset_index or reordering does not fool it (see :func:`fitted_frame`). Returns
    (share, rows), or None when the rows cannot be matched.
    """
    found = fitted_frame(spy)
    if found is None:
        return None
    frame, y = found
    cols = [c for c in frame.columns if c in train.columns and c != target
            and train[c].notna().all() and frame[c].notna().all()][:6]
    if len(cols) < 2:
        return None
    truth = dict(zip(_row_keys(train, cols), train[target].to_numpy()))
    keys = _row_keys(frame, cols)
    pairs = [(truth[k], label) for k, label in zip(keys, y) if k in truth]
    if len(pairs) < 0.5 * len(keys):
        return None
    return float(np.mean([a == b for a, b in pairs])), len(pairs)


def train_serve_skew(spy: SklearnSpy) -> float | None:
    """How differently the final estimator's inputs look at predict time than at fit time:
    median over columns of |mean shift| (in fit-time standard deviations) plus |log| of the
    ratio of standard deviations. About 0 when both go through the same transform; large
    when prediction skips a scaling step that training applied."""
    fits = [c for c in spy.calls if c.method == "fit" and c.y is not None and c.cls != "Pipeline"]
    if not fits:
        return None
    final = fits[-1]
    preds = [c for c in spy.calls if c.cls == final.cls and c.method in ("predict", "predict_proba",
                                                                        "decision_function")]
    if not preds:
        return None
    a = np.asarray(final.X, dtype=float)
    b = np.asarray(preds[-1].X, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        return None
    sd_a, sd_b = np.nanstd(a, axis=0) + 1e-9, np.nanstd(b, axis=0) + 1e-9
    shift = np.abs(np.nanmean(a, axis=0) - np.nanmean(b, axis=0)) / sd_a
    spread = np.abs(np.log(sd_b / sd_a))
    return float(np.nanmedian(shift + spread))


def prediction_dependence(predict, model, features: pd.DataFrame, column: str, seed: int = 0) -> float:
    """Share of predictions that change when ``column`` is shuffled across rows."""
    rng = np.random.default_rng(seed)
    shuffled = features.copy()
    shuffled[column] = rng.permutation(shuffled[column].to_numpy())
    a, b = np.asarray(predict(model, features)), np.asarray(predict(model, shuffled))
    return float(np.mean(a != b)) if a.ndim == 1 else float(np.mean(np.abs(a - b).max(axis=1) > 1e-6))

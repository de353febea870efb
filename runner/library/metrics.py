"""Trusted scoring: validate predictions, compute the held-out metric per slice.

This module runs only in the runner's own process, which holds the held-out labels. Messages
describe shapes, dtypes and counts of the *predictions*; they never include a label value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from pitfalls.core.results import Violation
from pitfalls.library.metrics_ranking import RANKING_METRICS, check_ranking, ranking_score
from pitfalls.library.metrics_sequence import SEQUENCE_METRICS, check_sequence, sequence_score

T = TypeVar("T")


def _skm() -> ModuleType:
    """sklearn.metrics, imported on the first score: loading a manifest needs none of it."""
    from sklearn import metrics

    return metrics


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool
    predictions: tuple[str, ...]
    """Which prediction kinds the metric accepts."""
    perfect: float
    """The score of a perfect model (its error is 0 on the normalized scale: runner/library/scale.py)."""


def _log_loss(y: np.ndarray, p: np.ndarray, classes: tuple[int, ...] = ()) -> float:
    return float(_skm().log_loss(y, p, labels=list(classes) or None))


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision of the positive class (label 1, the last column of a proba array): the
    area under the precision-recall curve as sklearn sums it, 0 when the slice holds no positive."""
    y = np.asarray(y)
    if not (y == 1).any():
        return 0.0
    return float(_skm().average_precision_score(y == 1, p[:, -1] if p.ndim == 2 else p))


METRICS: dict[str, Metric] = {
    m.name: m for m in [
        Metric("balanced_accuracy", lambda y, p: float(_skm().balanced_accuracy_score(y, p)), True, ("label",), 1.0),
        Metric("accuracy", lambda y, p: float(_skm().accuracy_score(y, p)), True, ("label",), 1.0),
        Metric("f1", lambda y, p: float(_skm().f1_score(y, p)), True, ("label",), 1.0),
        Metric("log_loss", _log_loss, False, ("proba",), 0.0),
        Metric("roc_auc", lambda y, p: float(_skm().roc_auc_score(y, p[:, 1] if p.ndim == 2 else p)), True,
               ("proba",), 1.0),
        Metric("average_precision", lambda y, p: _average_precision(y, p), True, ("proba",), 1.0),
        Metric("r2", lambda y, p: float(_skm().r2_score(y, p)), True, ("value",), 1.0),
        Metric("rmse", lambda y, p: float(np.sqrt(_skm().mean_squared_error(y, p))), False, ("value",), 0.0),
        *(Metric(name, lambda y, p, name=name: ranking_score(name, y, p), True, ("ranking",), 1.0)
          for name in RANKING_METRICS),  # metrics_ranking.py
        *(Metric(name, lambda y, p, name=name: sequence_score(name, y, p), True, ("sequence",), 1.0)
          for name in SEQUENCE_METRICS),  # metrics_sequence.py
    ]
}


MAX_VALUE = 1e100
"""Largest magnitude of a value prediction: squared errors of larger ones overflow float64 (an
infinite score is no measurement)."""


def check_predictions(pred: np.ndarray, *, n_rows: int, prediction: str,
                      classes: tuple[int, ...]) -> Violation | None:
    """Return a violation if ``pred`` cannot be scored, else None.

    The message names the expected form, what was found, and how to fix it; it never mentions
    the held-out labels.
    """
    if prediction == "ranking":
        return check_ranking(pred, n_rows=n_rows)
    if prediction == "sequence":
        return check_sequence(pred, n_rows=n_rows, classes=classes)
    fix = "Return it from `predict(model, features)` in your model file."
    want_shape = (n_rows, len(classes)) if prediction == "proba" else (n_rows,)
    expected = {"label": f"an integer array of shape {want_shape} with values in {list(classes)}",
                "proba": f"a float array of shape {want_shape} whose rows are probabilities over "
                         f"classes {list(classes)} (each row sums to 1)",
                "value": f"a float array of shape {want_shape}"}[prediction]

    def bad(actual: str, hint: str = fix) -> Violation:
        return Violation(constraint="predictions", limit=expected, actual=actual,
                         message=f"Predictions must be {expected}. Got {actual} instead. {hint}")

    if pred.dtype.kind not in "biuf":
        return bad(f"dtype {pred.dtype}", "Convert with `np.asarray(p, dtype=float)`; strings and "
                                          "objects cannot be scored.")
    if pred.ndim == 2 and pred.shape[1] == 1 and prediction != "proba":
        pred = pred[:, 0]
    if pred.shape != want_shape:
        return bad(f"shape {tuple(pred.shape)}", "Predict exactly one row per held-out row, in order.")
    values = pred.astype(float)
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        return bad(f"{n_bad} NaN or infinite values", "Impute missing features before predicting.")
    if prediction == "value" and float(np.abs(values).max(initial=0)) > MAX_VALUE:
        return bad(f"values as large as {float(np.abs(values).max()):.3g}", f"Values beyond ±{MAX_VALUE:.0e} "
                   "overflow the metric; predict on the target's scale.")
    if prediction == "label":
        if not np.all(values == np.round(values)):
            return bad("non-integer values", "Return class labels, not probabilities.")
        unknown = [v for v in np.unique(values).tolist() if v not in classes]  # floats: no overflowing cast
        if unknown:
            return bad(f"labels {[int(v) if abs(v) < 2**53 else v for v in unknown[:5]]} that are not classes")
    if prediction == "proba":
        if values.min() < 0 or values.max() > 1:
            return bad(f"values in [{values.min():.3g}, {values.max():.3g}]", "Apply softmax.")
        worst = float(np.abs(values.sum(axis=1) - 1).max())
        if worst > 1e-3:
            return bad(f"rows summing to 1 ± {worst:.3g}", "Normalise each row (softmax).")
    return None


def score(pred: np.ndarray, labels: np.ndarray, *, metric: str, classes: tuple[int, ...]) -> float:
    """Compute ``metric`` on already-validated predictions."""
    m = METRICS[metric]
    if metric in SEQUENCE_METRICS:  # the padding id is the first class
        return sequence_score(metric, labels, pred, classes)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if m.predictions == ("proba",):
        # float32 rows sum to 1 only within ~1e-7; renormalise in float64 (validated to 1e-3)
        pred = pred.astype(np.float64)
        pred = pred / pred.sum(axis=1, keepdims=True)
    if metric == "log_loss":
        return _log_loss(labels, pred, classes)
    return m.fn(labels, pred)


def slice_rows(n_rows: int, *, fraction: float) -> dict[str, int]:
    """How many rows the public and the private slice hold (as :func:`public_mask` draws them)."""
    public = int(round(n_rows * fraction))
    return {"public": public, "private": n_rows - public}


def public_mask(n_rows: int, *, fraction: float, seed: int) -> np.ndarray:
    """Which held-out rows form the public slice; fixed by the scaffold's seed."""
    rng = np.random.default_rng([seed, 7001])
    mask = np.zeros(n_rows, dtype=bool)
    mask[rng.permutation(n_rows)[: int(round(n_rows * fraction))]] = True
    return mask


PUBLIC_DIGITS = 3
"""Public scores are shown to 3 significant digits of the scaffold's reference public score (a
fixed grid per scaffold: 0.001 for a reference of 0.947, 0.1 for an RMSE of 54.3). The public
slice holds a few hundred rows, so its sampling error (the interval) is 10x or more coarser than
that step: rounding hides nothing a candidate could act on, while a full double would let crafted
predictions decode which rows are public and their labels (at most ~10 bits per submission now)."""


def public_decimals(reference: float | None, value: float | None = None) -> int:
    """Decimals of the public-score grid: 3 significant digits of ``reference``, at least 0 and at
    most 6; a fixed ``PUBLIC_DIGITS`` decimals when the scaffold is not calibrated (no reference).

    ``value`` is accepted for old callers and ignored: a grid that follows the score itself would
    be finer exactly where the score is near 0 (6 decimals), a channel the candidate steers."""
    del value
    if reference is None or reference == 0 or not np.isfinite(reference):
        return PUBLIC_DIGITS
    return int(min(6, max(0, PUBLIC_DIGITS - 1 - int(np.floor(np.log10(abs(reference)))))))


def round_public(value: float | None, decimals: int) -> float | None:
    """``value`` on the public grid (None stays None)."""
    return None if value is None else round(float(value), decimals)


def format_public(value: float, decimals: int) -> str:
    """A public score as the candidate sees it: on the grid, with exactly ``decimals`` decimals."""
    return f"{value:.{decimals}f}"


def best_of(items: Iterable[T], *, higher_is_better: bool, key: Callable[[T], Any] = lambda x: x) -> T | None:
    """The best of ``items`` by ``key`` in the metric's direction (the first on a tie); items whose
    key is None are skipped; None when none is left."""
    better = max if higher_is_better else min
    return better((i for i in items if key(i) is not None), key=key, default=None)


def best_submission(rows: Iterable[Mapping[str, Any]], *, metric: str) -> Mapping[str, Any] | None:
    """The scored submission row with the best public score for ``metric`` (the earliest on a tie)."""
    return best_of((r for r in rows if r["status"] == "scored"), higher_is_better=METRICS[metric].higher_is_better,
                   key=lambda r: r["score_public"])

"""Bootstrap intervals of public scores (trusted code, in the runner's process).

The public slice is a sample of a few hundred rows; two public scores closer than its sampling
error do not tell two models apart. Each public score is shown with a 95% percentile bootstrap
interval over the public rows (``scipy.stats.bootstrap``, 1000 paired resamples of rows, seeded by a
hash of the predictions, so the same predictions always get the same interval). The metrics are
recomputed in vectorised numpy per resample (sklearn per resample took 0.5-4 s; this takes ~0.05 s).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from pitfalls.library import metrics as scoring
from pitfalls.library.metrics_ranking import RANKING_METRICS, gains
from pitfalls.library.metrics_sequence import SEQUENCE_METRICS, row_values

if TYPE_CHECKING:
    from pitfalls.library.scaffold import Scaffold

RESAMPLES = 1000
LEVEL = 0.95
BATCH = 100
"""Resamples per vectorised call: bounds memory at BATCH x rows integers."""


def interval_seed(pred: np.ndarray, dataset_seed: int) -> int:
    """A deterministic seed per submission: a hash of its predictions and the data set's secret
    seed (:meth:`pitfalls.library.scaffold.Scaffold.data_seed`, not the public ``dataset_seed``)."""
    digest = hashlib.sha256(np.ascontiguousarray(pred).tobytes() + str(dataset_seed).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def bootstrap_interval(pred: np.ndarray, labels: np.ndarray, *, metric: str, classes: tuple[int, ...],
                       seed: int) -> tuple[float, float] | None:
    """95% interval of ``metric`` over the rows given (the public slice), or None when there are
    fewer than 10 rows or the resamples cannot be scored."""
    from scipy import stats

    n = len(labels)
    if n < 10:
        return None
    stat = _statistic(pred, labels, metric=metric, classes=classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.bootstrap((np.arange(n),), stat, vectorized=True, n_resamples=RESAMPLES, batch=BATCH,
                              confidence_level=LEVEL, method="percentile", random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def _statistic(pred: np.ndarray, labels: np.ndarray, *, metric: str,
               classes: tuple[int, ...]) -> Callable[..., np.ndarray]:
    """``f(idx, axis=-1)``: the metric of each resample of row indices ``idx`` (shape (..., n))."""
    if metric in RANKING_METRICS:
        return _mean_of(gains(metric, pred, labels))
    if metric in SEQUENCE_METRICS:
        return _mean_of(row_values(metric, pred, labels, classes))
    y = labels.astype(float)
    if metric in ("rmse", "r2"):
        p = pred.astype(float).reshape(len(y))
        return lambda idx, axis=-1: _regression(metric, y[idx.astype(int)], p[idx.astype(int)])
    if metric == "log_loss":
        return _mean_of(_row_log_loss(pred, labels, classes))
    if metric == "roc_auc":
        return _auc(pred, labels)
    if metric == "average_precision":
        return _average_precision(pred, labels)
    p = pred.reshape(len(y)).astype(float)
    if metric == "accuracy":
        return _mean_of((p == y).astype(float))
    if metric == "f1":
        tp, fp, fn = ((p == 1) & (y == 1)), ((p == 1) & (y != 1)), ((p != 1) & (y == 1))
        return lambda idx, axis=-1: _f1(tp[idx.astype(int)].sum(-1), fp[idx.astype(int)].sum(-1),
                                        fn[idx.astype(int)].sum(-1))
    if metric == "balanced_accuracy":
        hits = [((p == c) & (y == c)) for c in classes]
        support = [(y == c) for c in classes]
        return lambda idx, axis=-1: np.nanmean(
            [h[idx.astype(int)].sum(-1) / s[idx.astype(int)].sum(-1) for h, s in zip(hits, support)], axis=0)
    raise ValueError(f"The metric must be one of {sorted(scoring.METRICS)}. Got {metric!r} instead.")


def _mean_of(values: np.ndarray) -> Callable[..., np.ndarray]:
    return lambda idx, axis=-1: values[idx.astype(int)].mean(-1)


def _regression(metric: str, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    res = ((y - p) ** 2).sum(-1)
    if metric == "rmse":
        return np.sqrt(res / y.shape[-1])
    return 1 - res / ((y - y.mean(-1, keepdims=True)) ** 2).sum(-1)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def _row_log_loss(pred: np.ndarray, labels: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Each row's log loss, as sklearn computes it (probabilities clipped to [eps, 1 - eps])."""
    p = pred.astype(np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    eps = np.finfo(np.float64).eps
    col = np.searchsorted(np.asarray(classes), labels.astype(int))
    return -np.log(np.clip(p[np.arange(len(labels)), col], eps, 1 - eps))


def _auc(pred: np.ndarray, labels: np.ndarray) -> Callable[..., np.ndarray]:
    """ROC AUC per resample: sum over tied-score groups of (positives x negatives below + half the
    tied negatives), from each row's multiplicity in the resample."""
    s = pred.astype(float)
    s = s[:, 1] if s.ndim == 2 else s
    order = np.argsort(s, kind="stable")
    s_sorted, pos = s[order], (labels[order] == 1)
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    rank = np.empty(len(s), dtype=int)
    rank[order] = np.arange(len(s))

    def f(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = idx.astype(int)
        flat = idx.reshape(-1, idx.shape[-1])
        b, n = flat.shape
        w = np.bincount((rank[flat] + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        wp = np.add.reduceat(w * pos, starts, axis=1).astype(float)
        wn = np.add.reduceat(w * ~pos, starts, axis=1).astype(float)
        below = np.cumsum(wn, axis=1) - wn
        auc = (wp * (below + 0.5 * wn)).sum(1) / (wp.sum(1) * wn.sum(1))
        return auc.reshape(idx.shape[:-1])

    return f


def _average_precision(pred: np.ndarray, labels: np.ndarray) -> Callable[..., np.ndarray]:
    """Average precision per resample, as sklearn sums it: over tied-score groups from the highest,
    (positives in the group / all positives) x precision of every row scored at or above it; 0 for a
    resample without positives."""
    s = pred.astype(float)
    s = s[:, -1] if s.ndim == 2 else s
    order = np.argsort(-s, kind="stable")
    s_sorted, pos = s[order], (labels[order] == 1)
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    rank = np.empty(len(s), dtype=int)
    rank[order] = np.arange(len(s))

    def f(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = idx.astype(int)
        flat = idx.reshape(-1, idx.shape[-1])
        b, n = flat.shape
        w = np.bincount((rank[flat] + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        wp = np.add.reduceat(w * pos, starts, axis=1).astype(float)
        seen = np.cumsum(np.add.reduceat(w, starts, axis=1), axis=1).astype(float)
        precision = np.cumsum(wp, axis=1) / np.maximum(seen, 1.0)
        total = wp.sum(1)
        ap = np.where(total > 0, (wp * precision).sum(1) / np.maximum(total, 1.0), 0.0)
        return ap.reshape(idx.shape[:-1])

    return f


def public_interval(scaffold: Scaffold, pred: np.ndarray) -> tuple[float, float] | None:
    """The 95% interval of ``scaffold``'s public score for validated predictions ``pred``."""
    m = scaffold.manifest
    labels = scaffold.dataset().heldout[m.task.target].to_numpy()
    if pred.ndim == 2 and pred.shape[1] == 1 and m.task.prediction != "proba":
        pred = pred[:, 0]
    mask = scoring.public_mask(len(labels), fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    return bootstrap_interval(pred[mask], labels[mask], metric=m.task.metric, classes=m.task.classes,
                              seed=interval_seed(pred, scaffold.data_seed()))

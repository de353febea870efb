"""The normalized scale: the untouched starter 0, the reference 1, and room above the reference.

Every metric is first read as an *error* ``e >= 0`` that a perfect model brings to 0: log-loss and
RMSE are errors already; for accuracy, balanced accuracy, F1, ROC AUC and average precision it is
``1 - x``; for R^2 it is ``1 - R^2`` (the mean squared error as a share of the labels' variance). The normalized score
is the factor by which a model divides the starter's error, on a log scale where the reference's
factor counts 1::

    n = log(e_starter / e) / log(e_starter / e_reference)

So the starter is 0 and the reference 1 exactly, and a model whose error is the reference's divided
by ``k`` scores ``1 + log(k) / log(e_starter / e_reference)``: on digits_budget (log-loss 1.95 to
0.055) a log-loss 2.5x lower than the reference's shows 1.26, where the linear share of the gap
showed 1.02. The scale is the same for RMSE and MSE, or 1 - R^2 and MSE (a power of the error
cancels), and monotone in the metric's direction.

An error of 0 (a perfect slice) has no logarithm, and errors far below what a slice can resolve
mean nothing: the error is clipped at a floor of ``1 / (2 * rows)``, half of one row's share of
the slice (less than one mistake for the counting metrics, half a nat over the slice for
log-loss), and for RMSE at ``e_starter / sqrt(2 * rows)`` (the same floor on the squared error,
relative to the starter's). The anchors are clipped alike, so they keep 0 and 1.
"""

from __future__ import annotations

import math

from pitfalls.library.metrics import METRICS

ERROR_NAMES = {"log_loss": "log-loss", "rmse": "RMSE", "r2": "unexplained variance (1 - R²)",
               "accuracy": "error rate (1 - accuracy)", "balanced_accuracy": "1 - balanced accuracy",
               "roc_auc": "1 - ROC AUC", "f1": "1 - F1",
               "average_precision": "1 - average precision", "exact_match": "share not decoded exactly (1 - exact match)",
               "token_accuracy": "token error rate (1 - token accuracy)", "ndcg_at_10": "1 - nDCG@10",
               "recall_at_10": "1 - recall@10", "recall_at_1": "1 - recall@1", "mrr_at_10": "1 - MRR@10"}
"""What the scale calls each metric's error in the sentence the brief and the dashboard show."""

UNKNOWN_ROWS_FLOOR = 1e-12
"""The floor (relative to the starter's error) when the slice size is not known: only for values
between the anchors (a goal), where no floor binds."""


def error(value: float, metric: str) -> float:
    """``value``'s distance from a perfect score of ``metric`` (0 for a perfect model)."""
    m = METRICS[metric]
    return m.perfect - value if m.higher_is_better else value - m.perfect


def from_error(e: float, metric: str) -> float:
    """The metric value whose :func:`error` is ``e``."""
    m = METRICS[metric]
    return m.perfect - e if m.higher_is_better else m.perfect + e


def error_floor(metric: str, rows: int | None, starter_error: float) -> float:
    """The smallest error the scale tells apart on a slice of ``rows`` rows (see the module doc)."""
    if rows is None or rows < 1:
        return UNKNOWN_ROWS_FLOOR * max(abs(starter_error), 1.0)
    if metric == "rmse":
        return max(abs(starter_error), UNKNOWN_ROWS_FLOOR) / math.sqrt(2 * rows)
    return 1 / (2 * rows)


def _logs(metric: str, baseline: float, reference: float, rows: int | None) -> tuple[float, float, float]:
    """(floor, log of the starter's clipped error, log of the reference's clipped error)."""
    e_start = error(baseline, metric)
    floor = error_floor(metric, rows, e_start)
    return floor, math.log(max(e_start, floor)), math.log(max(error(reference, metric), floor))


def normalize(value: float | None, *, baseline: float | None, reference: float | None, metric: str,
              rows: int | None) -> float | None:
    """``value`` on the scale: starter (``baseline``) 0, ``reference`` 1, not clipped above 1.

    Args:
        metric: a key of :data:`pitfalls.library.metrics.METRICS`.
        rows: how many rows the slice scored holds (sets the error floor); None when unknown.

    Returns None when a value is missing or not finite, or the anchors coincide on the scale.
    """
    if value is None or baseline is None or reference is None:
        return None
    if not all(math.isfinite(x) for x in (value, baseline, reference)):
        return None
    floor, log_start, log_ref = _logs(metric, baseline, reference, rows)
    if log_start == log_ref:
        return None
    return (log_start - math.log(max(error(value, metric), floor))) / (log_start - log_ref)


def value_at(normalized: float | None, *, baseline: float, reference: float, metric: str,
             rows: int | None) -> float | None:
    """The metric value that scores ``normalized`` (the inverse of :func:`normalize`; a value at
    or below the floor is returned as the floor's value)."""
    if normalized is None:
        return None
    _floor, log_start, log_ref = _logs(metric, baseline, reference, rows)
    return from_error(math.exp(log_start - normalized * (log_start - log_ref)), metric)


def scale_sentence(metric: str, *, baseline: float | None = None, reference: float | None = None) -> str:
    """The scale in one sentence (the brief and the dashboard show it); with anchors (e.g. the
    manifest's ``[calibration]`` means), what an error half the reference's would show."""
    what = ERROR_NAMES.get(metric, f"error of {metric}")
    example = ""
    if reference is not None and error(reference, metric) <= 0:  # e.g. exact match 1.0: no room above it
        return ("Normalized score: 0 is the untouched starter and 1 our reference solution, which is already "
                f"perfect on this metric, so nothing scores above 1; it measures how many times smaller your {what} "
                "is than the starter's, on a log scale where the reference's factor counts 1.")
    if baseline is not None and reference is not None:
        half = from_error(error(reference, metric) / 2, metric)
        n = normalize(half, baseline=baseline, reference=reference, metric=metric, rows=None)
        if n is not None:
            example = f" (a {what} half the reference's scores about {n:.2f})"
    return ("Normalized score: 0 is the untouched starter, 1 our reference solution and above 1 better than "
            f"the reference; it measures how many times smaller your {what} is than the starter's, on a log "
            f"scale where the reference's factor counts 1{example}.")

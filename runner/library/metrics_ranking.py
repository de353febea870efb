"""The "ranking" prediction kind and its metrics (trusted scoring, like :mod:`pitfalls.library.metrics`).

A ranking prediction answers a search: for each held-out query, the ids of the ``RANKING_K``
items it retrieves, best first, as an integer array of shape (n, RANKING_K). The held-out label
of a query is the id of its one relevant item. Every metric is the mean over queries of a
per-query gain (:func:`gains`), so slices and bootstrap resamples are plain means.

Messages describe the predictions only (shapes, dtypes, counts), never a label value.
"""

from __future__ import annotations

import numpy as np

from pitfalls.core.results import Violation

RANKING_K = 10
"""Columns of a ranking prediction: the metrics read at most the first 10 ids (recall@10, nDCG@10)."""
MAX_ID = 2**31 - 1
"""Largest item id a ranking may hold (ids are non-negative 32-bit integers)."""

RANKING_METRICS = ("recall_at_10", "recall_at_1", "mrr_at_10", "ndcg_at_10")


def expected_form(n_rows: int) -> str:
    """What a ranking prediction must be, in the words of the message and the brief."""
    return (f"an integer array of shape ({n_rows}, {RANKING_K}) of item ids in [0, {MAX_ID}], best first, "
            "with no id twice in a row")


def check_ranking(pred: np.ndarray, *, n_rows: int) -> Violation | None:
    """A violation if ``pred`` is no ranking of ``n_rows`` queries, else None."""
    expected = expected_form(n_rows)
    fix = "Return it from `predict(model, features)` in your model file."

    def bad(actual: str, hint: str = fix) -> Violation:
        return Violation(constraint="predictions", limit=expected, actual=actual,
                         message=f"Predictions must be {expected}. Got {actual} instead. {hint}")

    if pred.dtype.kind not in "biuf":
        return bad(f"dtype {pred.dtype}", "Return the ids as integers (`np.asarray(ids, dtype=np.int64)`).")
    if pred.shape != (n_rows, RANKING_K):
        return bad(f"shape {tuple(pred.shape)}", f"Return exactly {RANKING_K} ids for each held-out query, "
                   "one row per query, in order.")
    values = pred.astype(np.float64)
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        return bad(f"{n_bad} NaN or infinite values", "Return item ids, not scores.")
    if not np.all(values == np.round(values)):
        return bad("non-integer values", "Return item ids, not scores.")
    if values.size and (values.min() < 0 or values.max() > MAX_ID):
        return bad(f"ids in [{values.min():.0f}, {values.max():.0f}]", "Map index positions back to item ids.")
    ids = pred.astype(np.int64)
    repeated = int((np.diff(np.sort(ids, axis=1), axis=1) == 0).any(axis=1).sum())
    if repeated:
        return bad(f"{repeated} rows with an id twice", "Keep each item once per query (its best score), "
                   "then take the next best items.")
    return None


def ranks(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The 0-based rank of each query's relevant id in its row, or -1 when it is not retrieved."""
    hit = np.asarray(pred, dtype=np.int64) == np.asarray(labels, dtype=np.int64).reshape(-1, 1)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)


def gains(metric: str, pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each query's gain under ``metric`` (the metric is their mean).

    recall_at_k: 1 if the relevant id is among the first k; mrr_at_10: 1 / (rank + 1) within the
    first 10, else 0; ndcg_at_10 with one relevant item: 1 / log2(rank + 2) within the first 10
    (its ideal DCG is 1), else 0."""
    r = ranks(pred, labels)
    found = r >= 0
    r = np.maximum(r, 0)  # a missing item's rank is masked below; keep the divisions finite
    if metric == "recall_at_10":
        return found.astype(float)
    if metric == "recall_at_1":
        return (found & (r == 0)).astype(float)
    if metric == "mrr_at_10":
        return np.where(found, 1.0 / (r + 1.0), 0.0)
    if metric == "ndcg_at_10":
        return np.where(found, 1.0 / np.log2(r + 2.0), 0.0)
    raise ValueError(f"A ranking metric must be one of {list(RANKING_METRICS)}. Got {metric!r} instead.")


def ranking_score(metric: str, labels: np.ndarray, pred: np.ndarray) -> float:
    """``metric`` over the queries given (0 for none)."""
    g = gains(metric, pred, labels)
    return float(g.mean()) if len(g) else 0.0

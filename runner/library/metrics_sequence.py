"""The "sequence" prediction kind and its metrics (trusted scoring, like :mod:`pitfalls.library.metrics`).

A sequence prediction is what a model *generated* for each held-out row: an integer array of
shape (n, L) of token ids, 1 <= L <= ``MAX_SEQUENCE_LENGTH``, one row per held-out row. The
scaffold declares the token ids in ``[task] classes``; the first of them is the padding id. A
row's sequence is its tokens up to the first padding id (what follows is ignored), so rows of
different lengths share one array.

The held-out label of a row is its target sequence stored as text: token ids separated by
spaces (``"3 14 7"``). Only this trusted module parses it (:func:`parse_target`). Every metric is
the mean over rows of a per-row value (:func:`row_values`), so slices and bootstrap resamples are
plain means. Messages describe the predictions only (shapes, dtypes, counts), never a label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pitfalls.core.results import Violation
from pitfalls.library.metrics_ranking import RANKING_K

MAX_SEQUENCE_LENGTH = 256
"""Widest sequence prediction accepted (columns)."""

SEQUENCE_METRICS = ("exact_match", "token_accuracy")


def padding_id(classes: Sequence[int]) -> int:
    """The padding id of a sequence task: the first of its declared token ids."""
    return int(classes[0])


def expected_form(n_rows: int, classes: Sequence[int]) -> str:
    """What a sequence prediction must be, in the words of the message and the brief."""
    return (f"an integer array of shape ({n_rows}, L), 1 <= L <= {MAX_SEQUENCE_LENGTH}, of token ids in "
            f"{list(classes)}, each row a generated sequence followed by the padding id {padding_id(classes)}")


def check_sequence(pred: np.ndarray, *, n_rows: int, classes: Sequence[int]) -> Violation | None:
    """A violation if ``pred`` is no array of ``n_rows`` generated sequences over ``classes``, else None."""
    expected = expected_form(n_rows, classes)
    fix = "Return it from `predict(model, features)` in your model file."

    def bad(actual: str, hint: str = fix) -> Violation:
        return Violation(constraint="predictions", limit=expected, actual=actual,
                         message=f"Predictions must be {expected}. Got {actual} instead. {hint}")

    if pred.dtype.kind not in "biuf":
        return bad(f"dtype {pred.dtype}", "Return token ids as integers (`np.asarray(ids, dtype=np.int64)`), "
                   "padded to one width; strings, lists and objects cannot be scored.")
    if pred.ndim != 2 or pred.shape[0] != n_rows or not 1 <= pred.shape[1] <= MAX_SEQUENCE_LENGTH:
        return bad(f"shape {tuple(pred.shape)}", "Return one row per held-out row, in order, each padded with "
                   f"{padding_id(classes)} to the width of the longest (a 1-D array is rejected).")
    values = pred.astype(np.float64)
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        return bad(f"{n_bad} NaN or infinite values", "Return token ids, not scores.")
    if not np.all(values == np.round(values)):
        return bad("non-integer values", "Return token ids (argmax), not probabilities.")
    unknown = [v for v in np.unique(values).tolist() if v not in set(classes)]
    if unknown:
        shown = [int(v) if abs(v) < 2**53 else v for v in unknown[:5]]
        return bad(f"ids {shown} that are not tokens", "Map the model's own ids (separators, end marks) back "
                   f"to the task's tokens, or to the padding id {padding_id(classes)}.")
    return None


def parse_target(text: object) -> list[int]:
    """A held-out target sequence stored as space-separated token ids (trusted labels only)."""
    return [int(t) for t in str(text).split()]


def _generated(row: np.ndarray, pad: int) -> list[int]:
    """A prediction row's sequence: its tokens up to the first padding id."""
    ids = row.astype(np.int64).tolist()
    return ids[:ids.index(pad)] if pad in ids else ids


def row_values(metric: str, pred: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Each row's value under ``metric`` (the metric is their mean).

    exact_match: 1 if the generated sequence equals the target exactly (same length), else 0.
    token_accuracy: the positions where generated and target agree, over the longer of the two
    (a sequence cut short or running on loses the positions it misses or adds); 1 for two empty ones."""
    if metric not in SEQUENCE_METRICS:
        raise ValueError(f"A sequence metric must be one of {list(SEQUENCE_METRICS)}. Got {metric!r} instead.")
    pad = padding_id(classes)
    pred = np.asarray(pred).reshape(len(labels), -1)  # a width-1 array may arrive squeezed to (n,)
    out = np.zeros(len(labels))
    for i, (row, label) in enumerate(zip(pred, labels)):
        got, want = _generated(row, pad), parse_target(label)
        if metric == "exact_match":
            out[i] = float(got == want)
        else:
            longest = max(len(got), len(want))
            out[i] = 1.0 if longest == 0 else sum(g == w for g, w in zip(got, want)) / longest
    return out


def sequence_score(metric: str, labels: np.ndarray, pred: np.ndarray, classes: Sequence[int] = (0,)) -> float:
    """``metric`` over the rows given (0 for none)."""
    values = row_values(metric, pred, labels, classes)
    return float(values.mean()) if len(values) else 0.0


def prediction_width(prediction: str, classes: Sequence[int]) -> int:
    """The most columns a prediction of this kind may have (bounds how much of the file is read)."""
    if prediction == "sequence":
        return MAX_SEQUENCE_LENGTH
    if prediction == "ranking":
        return RANKING_K
    return max(len(classes), 1)

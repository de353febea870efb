"""Probes for repeated entities (several rows per patient, device or subject).

:class:`SplitSpy` records every cross-validation split made during the candidate's real training
run (``KFold``, ``GroupKFold``, ``train_test_split`` through ``ShuffleSplit``, ...), and
:func:`split_leaks` says, for each, how many validation rows belong to an entity that is also in
that fold's training rows. :func:`fresh_id_dependence` asks whether predictions for new
entities depend on the id values they happen to get; :func:`label_like_columns` finds columns of
a fit that are functions of its labels (per-entity label statistics).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SplitSpy", "SplitCall", "entity_ids", "split_leaks", "fresh_id_dependence", "final_fit",
           "label_like_columns"]


@dataclass
class SplitCall:
    cls: str
    X: Any
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


class SplitSpy:
    """While active, records the rows and the (train, test) index pairs of every outermost
    ``split`` of a scikit-learn cross-validator. Nested calls (a class's ``split`` calling its
    parent's) are recorded once."""

    def __init__(self) -> None:
        self.calls: list[SplitCall] = []
        self._inside = False
        self._saved: list[tuple[type, Any]] = []

    def __enter__(self) -> SplitSpy:
        import inspect

        from sklearn.model_selection import _split

        for _, cls in inspect.getmembers(_split, inspect.isclass):
            if cls.__module__ == _split.__name__ and "split" in cls.__dict__:
                self._saved.append((cls, cls.__dict__["split"]))
                cls.split = self._wrap(cls.__dict__["split"], cls.__name__)
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, original in reversed(self._saved):
            cls.split = original
        self._saved.clear()

    def _wrap(self, fn, name):
        spy = self

        @functools.wraps(fn)
        def split(cv, X, *args, **kwargs):
            inner = fn(cv, X, *args, **kwargs)
            if spy._inside:  # called from another splitter's split: the outer one records
                yield from inner
                return
            call = SplitCall(type(cv).__name__, _copy(X))
            spy.calls.append(call)
            while True:
                spy._inside = True
                try:
                    train, test = next(inner)
                except StopIteration:
                    return
                finally:
                    spy._inside = False
                call.folds.append((np.asarray(train).copy(), np.asarray(test).copy()))
                yield train, test

        return split


def _copy(X: Any) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.copy()
    try:
        return np.array(X, copy=True)
    except (TypeError, ValueError):
        return None


def _keys(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(r) for r in np.round(frame[columns].to_numpy(dtype=float), 6)]


def entity_ids(X: Any, train: pd.DataFrame, column: str, target: str) -> tuple[np.ndarray, str] | None:
    """The entity id of every row of ``X`` and how it was found, or None.

    In order of preference: ``X``'s own ``column``; matching rows to ``train`` by the content of
    their shared complete numeric columns (at least 90% matched); the row order of ``train``
    when ``X`` has as many rows.
    """
    if isinstance(X, pd.DataFrame) and column in X.columns:
        return X[column].to_numpy(), "own id column"
    if isinstance(X, pd.DataFrame):
        cols = [c for c in X.columns if c in train.columns and c not in (column, target)
                and pd.api.types.is_numeric_dtype(X[c]) and pd.api.types.is_numeric_dtype(train[c])
                and X[c].notna().all() and train[c].notna().all()]
        if len(cols) >= 2:
            lookup: dict[tuple, Any] = {}
            for key, entity in zip(_keys(train, cols), train[column].to_numpy()):
                lookup.setdefault(key, entity)
            found = [lookup.get(k) for k in _keys(X, cols)]
            if np.mean([f is not None for f in found]) >= 0.9:
                return np.array(found, dtype=object), f"rows matched by {len(cols)} columns"
    if X is not None and hasattr(X, "__len__") and len(X) == len(train):
        return train[column].to_numpy(), "row order of data/train.csv"
    return None


def split_leaks(spy: SplitSpy, train: pd.DataFrame, column: str, target: str) -> list[dict[str, Any]]:
    """For each recorded split: the splitter, how rows were mapped to entities, and the largest
    share (over folds) of validation rows whose entity is also among that fold's training rows.
    ``share`` is None when the rows could not be mapped to entities."""
    out = []
    for call in spy.calls:
        found = entity_ids(call.X, train, column, target)
        if found is None or not call.folds:
            out.append({"cls": call.cls, "how": "unmapped", "share": None, "folds": len(call.folds)})
            continue
        ids, how = found
        shares = []
        for tr, te in call.folds:
            seen = set(ids[tr].tolist())
            shares.append(float(np.mean([i in seen for i in ids[te].tolist()])) if len(te) else 0.0)
        out.append({"cls": call.cls, "how": how, "share": max(shares), "folds": len(call.folds)})
    return out


def fresh_id_dependence(predict, model, features: pd.DataFrame, column: str, seed: int = 0) -> float:
    """Share of predictions that differ between two copies of ``features`` whose entities get
    fresh ids (unseen, drawn from inside the range of the original ids, one per entity in both
    copies). Zero when the model ignores the id values, also when it looks entities up in a
    table learned in training (every fresh id misses it)."""
    rng = np.random.default_rng(seed)
    original = features[column].to_numpy()
    entities = pd.unique(original)
    lo, hi = int(np.min(original)), int(np.max(original))
    pool = np.setdiff1d(np.arange(lo, hi + 1), original.astype(np.int64))
    if len(pool) < 2 * len(entities):
        pool = np.arange(hi + 1, hi + 1 + 2 * len(entities))
    draw = rng.choice(pool, size=2 * len(entities), replace=False)
    copies = []
    for part in (draw[: len(entities)], draw[len(entities):]):
        frame = features.copy()
        frame[column] = pd.Series(original).map(dict(zip(entities, part))).to_numpy().astype(features[column].dtype)
        copies.append(np.asarray(predict(model, frame), dtype=float))
    a, b = copies
    if a.shape != b.shape:
        return 1.0
    diff = np.abs(a - b)
    return float((diff.max(axis=1) if diff.ndim == 2 else diff).__gt__(1e-9).mean())


def final_fit(spy) -> tuple[pd.DataFrame, np.ndarray] | None:
    """Features and labels of the last outermost supervised fit of a :class:`probekit.SklearnSpy`
    run: what the saved model (a pipeline, or a search that refits one) was trained on, before
    any of its own steps transformed it. Arrays become frames with positional column names."""
    fits = [c for c in spy.calls if c.method == "fit" and c.y is not None and c.depth == 0]
    if not fits:
        return None
    X = fits[-1].X
    if not isinstance(X, pd.DataFrame):
        try:
            X = pd.DataFrame(np.asarray(X, dtype=float))
        except (TypeError, ValueError):
            return None
        X.columns = [f"column {i}" for i in range(X.shape[1])]
    return X, fits[-1].y


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of ``score`` for ``y == 1`` (ties count half), without scikit-learn."""
    ranks = pd.Series(score).rank().to_numpy()
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def label_like_columns(frame: pd.DataFrame, y: np.ndarray, threshold: float = 0.85) -> dict[str, float]:
    """Numeric columns of ``frame`` whose single-column ROC AUC against binary ``y`` is at least
    ``threshold`` (or at most 1 - ``threshold``): columns computed from the labels themselves."""
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) != 2 or len(y) != len(frame):
        return {}
    y = (y == classes[1]).astype(int)
    found = {}
    for col in frame.columns:
        v = frame[col]
        if not pd.api.types.is_numeric_dtype(v) or v.isna().any() or v.nunique() < 2:
            continue
        auc = _auc(v.to_numpy(dtype=float), y)
        if max(auc, 1 - auc) >= threshold:
            found[str(col)] = round(auc, 3)
    return found

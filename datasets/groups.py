"""Repeated entities: several rows per patient, device or subject (catalog Q28, group leakage).

A row-level random split of such data puts rows of one entity on both sides. Every entity has a
fingerprint (its own feature values and a persistent offset shared by its rows) and its rows share
a label tendency, so a model that recognises entities scores well on validation rows of entities
it has already seen, and that says nothing about new entities (Kapoor & Narayanan L3.2).

:func:`repeat_entities` plants the structure on any frame; :func:`holdout_entities` splits a
planted frame so that held-out entities are new. The detector looks for ids that repeat *and*
labels that cluster within ids far beyond what a random assignment of rows to ids gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Detection, Example, Quirk, register

__all__ = ["repeat_entities", "holdout_entities"]

MIN_ROWS_PER_ENTITY = 1.5  # below this, ids barely repeat: nothing to leak
MIN_EXCESS = 0.10  # share of label variance explained by the entity beyond the chance level
PERMUTATIONS = 200
MAX_CLASSES = 20  # a target with more distinct values is treated as continuous


def _decimals(values: np.ndarray) -> int | None:
    """Fewest decimals (0-6) that represent every value exactly, or None."""
    finite = values[np.isfinite(values)]
    for d in range(7):
        if np.allclose(finite, np.round(finite, d), rtol=0, atol=1e-9):
            return d
    return None


def _label_matrix(y: pd.Series) -> np.ndarray | None:
    """Indicator columns for a discrete target, the standardised value for a continuous one."""
    y = y.dropna()
    if y.nunique() < 2:
        return None
    if y.nunique() <= MAX_CLASSES or not pd.api.types.is_numeric_dtype(y):
        return pd.get_dummies(y.astype(str)).to_numpy(dtype=float)
    v = y.to_numpy(dtype=float)
    return ((v - v.mean()) / v.std())[:, None]


def _eta2(Y: np.ndarray, codes: np.ndarray, n_groups: int) -> float:
    """Share of the variance of Y's columns explained by group means (one-way ANOVA eta^2)."""
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    sums = np.stack([np.bincount(codes, weights=Y[:, j], minlength=n_groups) for j in range(Y.shape[1])], 1)
    between = (sums ** 2 / np.maximum(counts, 1)[:, None]).sum() - (Y.sum(0) ** 2 / len(Y)).sum()
    total = ((Y - Y.mean(0)) ** 2).sum()
    return float(between / total) if total > 0 else 0.0


def _clustering(y: pd.Series, ids: pd.Series, seed: int = 0) -> tuple[float, float, float] | None:
    """(observed eta^2, chance eta^2, permutation p) of the label within ids, or None."""
    keep = y.notna().to_numpy() & ids.notna().to_numpy()
    Y = _label_matrix(y[keep])
    if Y is None:
        return None
    codes, uniques = pd.factorize(ids[keep])
    observed = _eta2(Y, codes, len(uniques))
    rng = np.random.default_rng(seed)
    null = np.array([_eta2(Y, rng.permutation(codes), len(uniques)) for _ in range(PERMUTATIONS)])
    p = (1 + int((null >= observed).sum())) / (1 + PERMUTATIONS)
    return observed, float(null.mean()), p


def _fingerprint(frame: pd.DataFrame, ids: pd.Series, skip: set[str]) -> float | None:
    """Median eta^2 of the numeric features within ids (how well rows of one id resemble each other)."""
    codes, uniques = pd.factorize(ids)
    shares = []
    for col in frame.columns:
        if col in skip or not pd.api.types.is_numeric_dtype(frame[col]) or frame[col].isna().any():
            continue
        v = frame[col].to_numpy(dtype=float)
        if v.std() > 0:
            shares.append(_eta2(v[:, None], codes, len(uniques)))
    return float(np.median(shares)) if shares else None


def detect_group_leakage(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                         target: str) -> Detection:
    """Fires when entity ids repeat and the label clusters within them well beyond chance.

    Label clustering is one-way ANOVA eta^2 of the label (class indicators) on the id, compared
    with the same statistic after randomly re-assigning rows to ids (permutation null). Ids that
    repeat over independent rows (no shared tendency) stay silent: splitting them randomly
    leaks nothing.
    """
    col = quirk.get("column", "")
    if col not in train.columns or target not in train.columns:
        return Detection(False, f"no entity column {col!r} in the training data")
    ids = train[col]
    per_entity = len(train) / max(ids.nunique(), 1)
    if per_entity < MIN_ROWS_PER_ENTITY:
        return Detection(False, f"{ids.nunique()} ids over {len(train)} rows ({per_entity:.2f} rows each): "
                                "ids barely repeat")
    found = _clustering(train[target], ids)
    if found is None:
        return Detection(False, f"{target!r} has a single value")
    observed, chance, p = found
    fingerprint = _fingerprint(train, ids, {col, target})
    fired = observed - chance >= MIN_EXCESS and p < 0.01
    finger = "n/a" if fingerprint is None else f"{fingerprint:.2f}"
    return Detection(fired, f"{ids.nunique()} ids, {per_entity:.1f} rows each; the id explains "
                            f"{observed:.2f} of the label's variance (chance {chance:.2f}, permutation "
                            f"p={p:.3f}); median feature share explained by the id {finger}")


def heldout_shares_entities(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                            target: str) -> Detection:
    """Fires when any held-out entity id also occurs in the training data."""
    col = quirk.get("column", "")
    if heldout is None or col not in heldout.columns or col not in train.columns:
        return Detection(False, f"no entity column {col!r} on both sides")
    seen = set(train[col].dropna().tolist())
    held = set(heldout[col].dropna().tolist())
    shared = held & seen
    return Detection(bool(shared), f"{len(shared)} of {len(held)} held-out ids also occur in training")


def _example(seed: int) -> Example:
    """Biopsy rows: clean = rows given repeating ids at random (no shared fingerprint or label);
    planted = each of 120 rows observed 2-8 times; held-out entities are new in both."""
    from .base import breast_cancer

    rng = np.random.default_rng([seed, 2828])
    base = breast_cancer(seed).sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    clean = base.iloc[:400].copy()
    ids = rng.permutation(np.repeat(np.arange(10_000, 10_100), 4))
    clean.insert(0, "entity_id", ids)
    clean_train, clean_heldout = holdout_entities(clean, column="entity_id", fraction=0.3, rng=rng)
    planted, quirk = repeat_entities(base.iloc[:120], target="malignant", rng=rng)
    train, heldout = holdout_entities(planted, column="entity_id", fraction=0.3, rng=rng)
    return Example(target="malignant", clean_train=clean_train, clean_heldout=clean_heldout,
                   train=train, heldout=heldout, quirk=quirk)


@register(id="group_leakage", ref="Q28", detect=detect_group_leakage, example=_example,
          heldout_leak=heldout_shares_entities)
def repeat_entities(df: pd.DataFrame, *, target: str, rng: np.random.Generator, column: str = "entity_id",
                    rows: tuple[int, int] = (2, 8), offset: float = 0.5, noise: float = 0.15,
                    flip: float = 0.1, columns: list[str] | None = None) -> tuple[pd.DataFrame, Quirk]:
    """Turn every row of ``df`` into an entity observed ``rows[0]``..``rows[1]`` times (catalog Q28).

    Each entity gets a random integer id in ``column`` (inserted first) and a persistent offset of
    ``offset`` standard deviations per column of ``columns`` (default: numeric columns with more
    than two values, except the target); each of its rows adds independent noise of ``noise``
    standard deviations and is rounded like the input column. Columns whose values are all
    positive are perturbed on the log scale (in standard deviations of the logarithm), so they
    stay positive; non-negative columns with zeros are clipped at zero. Other columns are copied. With a
    discrete target, each row's label is replaced by another class with probability ``flip``, so
    an entity's rows share a label tendency rather than one label.

    Raises:
        ValueError: ``column`` already exists, or ``target`` is missing.
    """
    if column in df.columns:
        raise ValueError(f"Entity column must be new. Got {column!r}, which df already has.")
    if target not in df.columns:
        raise ValueError(f"Target must be a column of df. Got {target!r} instead.")
    if columns is None:
        columns = [c for c in df.columns if c != target and pd.api.types.is_numeric_dtype(df[c])
                   and df[c].nunique() > 2]
    n = len(df)
    counts = rng.integers(rows[0], rows[1] + 1, size=n)
    width = max(5, len(str(20 * n)))
    ids = rng.choice(np.arange(10 ** (width - 1), 10 ** width), size=n, replace=False)
    source = np.repeat(np.arange(n), counts)
    out = df.iloc[source].reset_index(drop=True).copy()
    shift = rng.normal(0.0, offset, size=(n, len(columns)))
    jitter = rng.normal(0.0, noise, size=(len(source), len(columns)))
    for j, col in enumerate(columns):
        raw = df[col].to_numpy(dtype=float)
        positive = bool((raw > 0).all())  # lab values and sizes stay positive: perturb their logarithm
        base = np.log(raw) if positive else raw
        v = base[source] + (shift[source, j] + jitter[:, j]) * base.std()
        v = np.exp(v) if positive else (np.maximum(v, 0.0) if (raw >= 0).all() else v)
        d = _decimals(raw)
        if d is not None:
            v = np.round(v, d)
            if positive:
                v = np.maximum(v, 10.0 ** -d)
        out[col] = v.astype(df[col].dtype) if d == 0 and pd.api.types.is_integer_dtype(df[col]) else v
    classes = np.sort(df[target].dropna().unique())
    flipped = 0
    if flip > 0 and 1 < len(classes) <= MAX_CLASSES:
        y = out[target].to_numpy().copy()
        hit = np.flatnonzero(rng.random(len(y)) < flip)
        for i in hit:
            y[i] = rng.choice(classes[classes != y[i]])
        out[target] = y
        flipped = len(hit)
    out.insert(0, column, ids[source])
    return out, {"id": "group_leakage", "column": column, "entities": int(n), "rows": int(len(out)),
                 "rows_per_entity": [int(rows[0]), int(rows[1])], "offset_sd": offset, "noise_sd": noise,
                 "flipped_labels": int(flipped), "columns": list(columns)}


def holdout_entities(df: pd.DataFrame, *, column: str, fraction: float,
                     rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` by entity: about ``fraction`` of the ids (with all their rows) go to held-out.

    Returns (train, heldout), each with a fresh index and rows in the input order.
    """
    ids = df[column].drop_duplicates().to_numpy()
    held = set(rng.permutation(ids)[: int(round(fraction * len(ids)))].tolist())
    mask = df[column].isin(held).to_numpy()
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)

"""Seeded quirk planters. Each returns the planted frame and a quirk-manifest entry.

Every planter is deterministic for a given ``rng`` state and never modifies its input. Kinds:
``class_imbalance`` (Q23), ``target_leakage`` (Q21), ``missing_values`` (Q11, MCAR) and
``sorted_by_label`` (Q29); each is registered with its detector and a worked example.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._quirktools import base_case, column_predicts, feature_columns, plain
from .registry import Detection, Example, register

Quirk = dict[str, Any]

__all__ = ["add_leak_feature", "impose_class_imbalance", "inject_missing", "sort_by_label"]

BALANCE_RATIO = 0.5
"""class_imbalance compares the training share of the entry's minority class (else the rarest
class) with its balanced share 1/K and fires below half of it (for two classes, a 1:3 split or
worse). Data mildly imbalanced by nature (breast cancer: 37% malignant) stays quiet; plant below
half the balanced share. The held-out share is reported as evidence only."""
LEAK_AUC, LEAK_P = 0.8, 1e-3
"""target_leakage fires when the named column alone reaches AUC 0.8 in training data and no
label shuffle out of 999 does as well (p <= 0.001); the held-out check fires when it still
predicts the label there (p <= 0.001 and AUC >= 0.6)."""
HELDOUT_AUC = 0.6
SORTED_KAPPA, SORTED_Z = 0.5, 5.0
"""sorted_by_label fires when consecutive rows share their label far more often than chance:
kappa = (same - expected) / (1 - expected) >= 0.5 and z >= 5."""


def _detect_imbalance(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                      target: str) -> Detection:
    """The minority class's training share against its balanced share."""
    shares = train[target].value_counts(normalize=True)
    if len(shares) < 2:
        return Detection(False, f"one class only in {target!r}")
    minority = quirk.get("minority") if quirk.get("minority") in shares.index else shares.idxmin()
    share, ratio = float(shares[minority]), float(shares[minority] * len(shares))
    natural = float((heldout[target] == minority).mean()) if heldout is not None and len(heldout) else None
    held = "" if natural is None else f"; held-out share {natural:.3f}"
    return Detection(ratio < BALANCE_RATIO,
                     f"class {plain(minority)!r}: training share {share:.3f} = {ratio:.2f} x balanced "
                     f"(threshold {BALANCE_RATIO}){held}")


def _detect_leak(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """The entry's column alone predicts the label in training data (AUC >= 0.8, p <= 0.001)."""
    return column_predicts(quirk, train, target, name="training", min_auc=LEAK_AUC, max_p=LEAK_P)


def heldout_column_leak(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                        target: str) -> Detection:
    """The entry's column still predicts the label in held-out data (p <= 0.001 and AUC >= 0.6)."""
    return column_predicts(quirk, heldout, target, name="held-out", min_auc=HELDOUT_AUC, max_p=LEAK_P)


def _detect_missing(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                    target: str) -> Detection:
    """Any feature column with a missing value (NaN/None) in training data."""
    missing = train.drop(columns=[target]).isna()
    rates = missing.mean()
    gaps = rates[rates > 0]
    if gaps.empty:
        return Detection(False, "no missing values in training data")
    return Detection(True, f"{len(gaps)} columns with gaps, highest rate {gaps.max():.3f} ({gaps.idxmax()!r}); "
                           f"rows affected {missing.any(axis=1).mean():.3f} (threshold: any)")


def _detect_sorted(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Label agreement of consecutive rows against its expectation under a random order."""
    y = pd.factorize(train[target])[0]
    n = len(y)
    if n < 3:
        return Detection(False, "fewer than three rows")
    counts = np.bincount(y)
    expected = float((counts * (counts - 1)).sum() / (n * (n - 1)))
    same = float(np.mean(y[1:] == y[:-1]))
    kappa = (same - expected) / max(1 - expected, 1e-12)
    z = (same - expected) / max(np.sqrt(expected * (1 - expected) / (n - 1)), 1e-12)
    return Detection(bool(kappa >= SORTED_KAPPA and z >= SORTED_Z),
                     f"consecutive rows share their label {same:.3f} vs {expected:.3f} by chance: "
                     f"kappa {kappa:.2f} (threshold {SORTED_KAPPA}), z {z:.1f} (threshold {SORTED_Z})")


def _example_imbalance(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    counts = train[target].value_counts()
    minority = int(sorted(counts.index)[1])
    keep = max(5, int(round(0.12 * counts.drop(minority).mean())))
    planted, quirk = impose_class_imbalance(train, target=target, minority=minority, keep=keep,
                                            rng=np.random.default_rng(seed))
    return Example(target, train, heldout, planted, heldout, quirk)


def _example_leak(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    rng = np.random.default_rng(seed)
    planted, quirk = add_leak_feature(train, target=target, column="referral_code", rng=rng)
    held, _ = add_leak_feature(heldout, target=target, column="referral_code", rng=rng, randomize=True)
    return Example(target, train, heldout, planted, held, quirk)


def _example_missing(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    rng = np.random.default_rng(seed)
    features = feature_columns(train, target)
    columns = [features[i] for i in sorted(rng.choice(len(features), size=3, replace=False))]
    planted, quirk = inject_missing(train, columns=columns, rate=0.10, rng=rng)
    held, _ = inject_missing(heldout, columns=columns, rate=0.10, rng=rng)
    return Example(target, train, heldout, planted, held, quirk)


def _example_sorted(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    planted, quirk = sort_by_label(train, target=target)
    return Example(target, train, heldout, planted, heldout, quirk)


@register(id="class_imbalance", ref="Q23", detect=_detect_imbalance, example=_example_imbalance)
def impose_class_imbalance(df: pd.DataFrame, *, target: str, minority: int, keep: int,
                           rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Keep only ``keep`` rows of class ``minority`` (catalog Q23)."""
    idx = np.flatnonzero(df[target].to_numpy() == minority)
    drop = rng.choice(idx, size=max(0, len(idx) - keep), replace=False)
    out = df.drop(index=df.index[drop])
    share = float((out[target] == minority).mean())
    return out, {"id": "class_imbalance", "column": target, "minority": minority,
                 "kept": int(min(keep, len(idx))), "minority_share": round(share, 4)}


@register(id="target_leakage", ref="Q21", detect=_detect_leak, example=_example_leak,
          heldout_leak=heldout_column_leak)
def add_leak_feature(df: pd.DataFrame, *, target: str, column: str, rng: np.random.Generator,
                     codes: int = 10, strength: float = 0.9, randomize: bool = False,
                     flag: bool = False) -> tuple[pd.DataFrame, Quirk]:
    """Add an integer code that was assigned *after* the outcome (catalog Q21).

    In training data the code depends on the label (with probability ``strength`` a positive
    gets a code from the top third); with ``randomize=True`` (held-out data) it is drawn from
    the same marginal but independent of the label, so a model that relies on it loses.
    ``flag=True`` keeps only whether the code is in the top third (0/1): the cleanest split, so a
    linear model leans on it hardest; it draws the same random numbers as the code.

    Raises:
        ValueError: ``codes`` is below 3 or ``strength`` is outside [0, 1].
    """
    if codes < 3 or not 0.0 <= strength <= 1.0:
        raise ValueError(f"codes must be at least 3 and strength within [0, 1]. Got codes={codes}, "
                         f"strength={strength} instead. Use flag=True for a 0/1 column.")
    y = df[target].to_numpy()
    high, low = np.arange(codes - codes // 3, codes), np.arange(0, codes - codes // 3)
    leaky = np.where((y == 1) == (rng.random(len(y)) < strength), rng.choice(high, len(y)), rng.choice(low, len(y)))
    if flag:
        leaky = (leaky >= high[0]).astype(int)
    if randomize:
        leaky = rng.permutation(leaky)
    out = df.copy()
    out.insert(len(out.columns) - 1, column, leaky)
    return out, {"id": "target_leakage", "column": column, "strength": strength,
                 "heldout": "independent of the label"}


@register(id="missing_values", ref="Q11", detect=_detect_missing, example=_example_missing)
def inject_missing(df: pd.DataFrame, *, columns: list[str], rate: float,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Blank out ``rate`` of the values in each of ``columns``, completely at random (catalog Q11)."""
    out = df.copy()
    for col in columns:
        out.loc[rng.random(len(out)) < rate, col] = np.nan
    rows = float(out[columns].isna().any(axis=1).mean())
    return out, {"id": "missing_values", "columns": columns, "rate": rate, "rows_affected": round(rows, 4)}


@register(id="sorted_by_label", ref="Q29", detect=_detect_sorted, example=_example_sorted)
def sort_by_label(df: pd.DataFrame, *, target: str) -> tuple[pd.DataFrame, Quirk]:
    """Order rows by label (catalog Q29): harmless for trees, fatal for unshuffled mini-batches."""
    out = df.sort_values(target, kind="stable").reset_index(drop=True)
    return out, {"id": "sorted_by_label", "column": target}

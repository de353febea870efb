"""Distribution shift between training and held-out data: covariates (catalog Q25) and class
priors (catalog Q24).

Both planters change the held-out frame only: they take it first and return ``(heldout, entry)``
with ``entry["frame"] == "heldout"``; each example's ``train`` is the clean training frame.
Neither kind has a held-out leak check: the shift is what held-out data is meant to show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from ._quirktools import base_case, feature_columns, plain
from .registry import Detection, Example, Quirk, register

__all__ = ["shift_covariates", "shift_label_prior"]

DRIFT_ALPHA, DRIFT_D = 0.01, 0.10
"""covariate_shift fires when some feature's two-sample Kolmogorov-Smirnov test rejects at
0.01 divided by the number of features (Bonferroni: a random split fires 1% of the time) and
its statistic D is at least 0.10. Per-column tests at 0.05 without the correction flag about
one column in twenty on a random split (catalog section 6, evidently)."""
PRIOR_ALPHA, PRIOR_FACTOR = 0.01, 1.5
"""label_shift fires when the class counts differ between the frames (chi-square p < 0.01) and
some class's share changes by a factor of 1.5 or more (either way). Unstratified random splits
fire it about 1% of the time (2 of 100 on digits, whose small classes move most)."""


def _detect_covariate(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                      target: str) -> Detection:
    """Per-feature KS tests between training and held-out values (gaps dropped), Bonferroni."""
    if heldout is None:
        return Detection(False, "no held-out data to compare with")
    columns = [c for c in feature_columns(train, target) if c in feature_columns(heldout, target)]
    tests = {c: ks_2samp(train[c].dropna(), heldout[c].dropna(), method="asymp") for c in columns
             if train[c].notna().sum() > 1 and heldout[c].notna().sum() > 1}
    if not tests:
        return Detection(False, "no numeric feature shared by both frames")
    alpha = DRIFT_ALPHA / len(tests)
    drifted = [c for c, t in tests.items() if t.pvalue < alpha and t.statistic >= DRIFT_D]
    worst = max(tests, key=lambda c: tests[c].statistic)
    return Detection(bool(drifted),
                     f"{len(drifted)} of {len(tests)} features drifted; largest KS D {tests[worst].statistic:.3f} "
                     f"({worst!r}, p {tests[worst].pvalue:.2g}); thresholds p < {alpha:.2g} and D >= {DRIFT_D}")


def _detect_prior(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Class shares in training vs held-out data: chi-square test and the largest share ratio."""
    if heldout is None:
        return Detection(False, "no held-out data to compare with")
    counts = pd.DataFrame({"train": train[target].value_counts(), "heldout": heldout[target].value_counts()})
    counts = counts.fillna(0)
    if len(counts) < 2:
        return Detection(False, "one class only")
    p = float(chi2_contingency(counts.to_numpy().T)[1])
    shares = (counts + 0.5) / (counts.sum() + 0.5 * len(counts))
    ratio = np.log(shares["heldout"] / shares["train"])
    c = ratio.abs().idxmax()
    factor = float(np.exp(abs(ratio[c])))
    return Detection(p < PRIOR_ALPHA and factor >= PRIOR_FACTOR,
                     f"class {plain(c)!r}: share {shares.loc[c, 'train']:.3f} in training vs "
                     f"{shares.loc[c, 'heldout']:.3f} held-out (factor {factor:.2f}, threshold {PRIOR_FACTOR}); "
                     f"chi-square p {p:.2g} (threshold {PRIOR_ALPHA})")


def _example_covariate(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    rng = np.random.default_rng(seed)
    varied = [c for c in feature_columns(heldout, target) if heldout[c].std() > 0]
    columns = [varied[i] for i in sorted(rng.choice(len(varied), size=min(5, len(varied)), replace=False))]
    held, quirk = shift_covariates(heldout, columns=columns, shift_sd=1.0)
    return Example(target, train, heldout, train, held, quirk)


def _example_prior(seed: int) -> Example:
    target, train, heldout = base_case(seed)
    label = plain(sorted(heldout[target].unique())[1])
    held, quirk = shift_label_prior(heldout, target=target, label=label, keep_share=0.2,
                                    rng=np.random.default_rng(seed))
    return Example(target, train, heldout, train, held, quirk)


@register(id="covariate_shift", ref="Q25", detect=_detect_covariate, example=_example_covariate)
def shift_covariates(heldout: pd.DataFrame, *, columns: list[str],
                     shift_sd: float = 1.0) -> tuple[pd.DataFrame, Quirk]:
    """Add ``shift_sd`` standard deviations (of the held-out column) to ``columns`` (catalog Q25).

    Returns the planted held-out frame (see the module docstring). +1 SD on five breast-cancer
    features took logistic regression from .994 to .906 accuracy.
    """
    out = heldout.copy()
    for col in columns:
        out[col] = out[col].astype(float) + shift_sd * float(out[col].std())
    return out, {"id": "covariate_shift", "frame": "heldout", "columns": list(columns), "shift_sd": shift_sd}


@register(id="label_shift", ref="Q24", detect=_detect_prior, example=_example_prior)
def shift_label_prior(heldout: pd.DataFrame, *, target: str, label: object, keep_share: float,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Keep only ``keep_share`` of the held-out rows of class ``label`` (catalog Q24).

    Returns the planted held-out frame (see the module docstring); rows keep their order.
    """
    rows = np.flatnonzero(heldout[target].to_numpy() == label)
    drop = rng.choice(rows, size=len(rows) - int(round(keep_share * len(rows))), replace=False)
    out = heldout.drop(index=heldout.index[drop])
    return out, {"id": "label_shift", "frame": "heldout", "column": target, "label": label,
                 "keep_share": keep_share, "heldout_share": round(float((out[target] == label).mean()), 4)}

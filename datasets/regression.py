"""Base data for regression tasks, built from data that ships inside installed packages.

Like :mod:`pitfalls.datasets.base`, rows are perturbed with a seeded, label-preserving transform,
so that no row equals a row of the package's own copy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

__all__ = ["diabetes"]

# scikit-learn's column names, the names used here, and the precision the raw data is recorded in
_DIABETES_COLUMNS = {
    "age": ("age", 0), "sex": ("sex", 0), "bmi": ("bmi", 1), "bp": ("bp", 1),
    "s1": ("tc", 0), "s2": ("ldl", 1), "s3": ("hdl", 0), "s4": ("tch", 2), "s5": ("ltg", 4), "s6": ("glu", 0),
}


def diabetes(seed: int) -> pd.DataFrame:
    """Diabetes patients, 442 rows, in raw units (not scikit-learn's default pre-scaled copy).

    Columns: ``age`` (years), ``sex`` (1 or 2), ``bmi``, ``bp`` (mean blood pressure), six blood
    serum measurements ``tc``, ``ldl``, ``hdl``, ``tch``, ``ltg`` (log triglycerides), ``glu``,
    and the target ``progression`` (a disease-progression score one year after baseline).

    Every continuous measurement is multiplied by a seeded log-normal factor (sigma 2%; ``ltg``,
    a log already, gets the same noise added on the log scale) and rounded to the precision the
    data is recorded in; ages move by at most a year. This keeps the signal and leaves no row
    equal to a row of scikit-learn's copy. The target is kept as it is.
    """
    raw = load_diabetes(scaled=False, as_frame=True).frame
    rng = np.random.default_rng([seed, 303])
    out = pd.DataFrame(index=raw.index)
    for old, (new, decimals) in _DIABETES_COLUMNS.items():
        col = raw[old].to_numpy(dtype=float)
        if old == "age":
            col = np.clip(col + rng.integers(-1, 2, size=len(col)), 18, 90)
        elif old == "s5":  # already a log: the same 2% on triglycerides is an additive shift
            col = col + rng.normal(0.0, 0.02, size=len(col))
        elif old != "sex":
            col = col * rng.lognormal(0.0, 0.02, size=len(col))
        out[new] = np.round(col, decimals)
    out["progression"] = raw["target"].to_numpy(dtype=float)
    return out.reset_index(drop=True)

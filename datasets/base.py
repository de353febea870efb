"""Base data sets, built from data that ships inside installed packages (nothing downloads).

Rows are perturbed with a seeded, label-preserving transform so that no row equals a row of
the public copy: a predictor cannot look held-out labels up in the package's own files (which
the sandbox also hides).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits


def breast_cancer(seed: int) -> pd.DataFrame:
    """Wisconsin breast-cancer biopsies, 569 rows: 30 measurements and ``malignant`` (0/1).

    Each measurement is multiplied by a seeded log-normal factor (sigma 3%) and rounded to
    four significant digits, which keeps the signal and breaks exact row matching.
    """
    raw = load_breast_cancer(as_frame=True)
    rng = np.random.default_rng([seed, 101])
    X = raw.data.copy()
    X.columns = [c.replace(" ", "_") for c in X.columns]
    noise = rng.lognormal(0.0, 0.03, size=X.shape)
    X = X * noise
    X = X.apply(lambda col: col.map(lambda v: float(f"{v:.4g}")))
    X["malignant"] = (raw.target == 0).astype(int).to_numpy()
    return X.reset_index(drop=True)


def digits(seed: int) -> pd.DataFrame:
    """8x8 handwritten digits, 1,797 rows: pixels ``p0``..``p63`` (0-16) and ``label``.

    Each inked pixel gets seeded +-1 noise (two in three pixels change), so no row equals a
    row of scikit-learn's copy while the images stay as legible as the originals.
    """
    raw = load_digits()
    rng = np.random.default_rng([seed, 202])
    images = raw.images.astype(np.int64).copy()
    inked = images > 0
    images = np.where(inked, np.clip(images + rng.integers(-1, 2, size=images.shape), 0, 16), 0)
    frame = pd.DataFrame(images.reshape(len(images), 64), columns=[f"p{i}" for i in range(64)])
    frame["label"] = raw.target.astype(int)
    return frame

__all__ = ["breast_cancer", "digits"]

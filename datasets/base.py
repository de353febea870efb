"""Base data sets, built from data that ships inside installed packages (nothing downloads).

Rows are perturbed with a seeded, label-preserving transform so that no row equals a row of
the public copy: a predictor cannot look held-out labels up in the package's own files (which
the sandbox also hides).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine


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


def wine(seed: int) -> pd.DataFrame:
    """Italian wines from three cultivars, 178 rows: 13 chemical measurements and ``cultivar`` (0-2).

    Each measurement is multiplied by a seeded log-normal factor (sigma 2%) and rounded to four
    significant digits; rows are shuffled, because scikit-learn's copy is sorted by cultivar.
    """
    raw = load_wine(as_frame=True).frame
    rng = np.random.default_rng([seed, 505])
    X = raw.drop(columns="target").rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    X = (X * rng.lognormal(0.0, 0.02, size=X.shape)).apply(lambda col: col.map(lambda v: float(f"{v:.4g}")))
    X["cultivar"] = raw["target"].astype(int).to_numpy()
    return X.iloc[rng.permutation(len(X))].reset_index(drop=True)


def tabular(seed: int, *, rows: int = 600, features: int = 10, classes: int = 2) -> pd.DataFrame:
    """A generated classification frame: ``f00``.. (correlated Gaussians on mixed scales) and ``outcome``.

    Classes have equal priors (up to sampling) and class means a Mahalanobis distance of 4 apart
    (a linear model errs on about 2% of rows), so quirks, not hard data, explain what detectors see.
    Values are rounded to four significant digits. Requires ``2 <= classes <= features``.
    """
    if not 2 <= classes <= features:
        raise ValueError(f"classes must be between 2 and features ({features}). Got {classes} instead.")
    rng = np.random.default_rng([seed, 606])
    mix = rng.normal(size=(features, features))
    chol = np.linalg.cholesky(mix @ mix.T / features + 0.5 * np.eye(features))
    directions = np.linalg.qr(rng.normal(size=(features, classes)))[0]  # orthonormal columns
    means = (chol @ directions).T * (4.0 / np.sqrt(2.0))  # pairwise Mahalanobis distance 4
    y = rng.integers(0, classes, size=rows)
    X = rng.normal(size=(rows, features)) @ chol.T + means[y]
    scale = 10.0 ** rng.uniform(-1.0, 3.0, size=features)
    X = (X + rng.uniform(3.0, 6.0, size=features)) * scale
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(features)])
    frame = frame.apply(lambda col: col.map(lambda v: float(f"{v:.4g}")))
    frame["outcome"] = y
    return frame


__all__ = ["breast_cancer", "digits", "tabular", "wine"]

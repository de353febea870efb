"""Scans from scanners with different exposure (catalog Q25, within an image table).

Each image (one row of pixel columns) is re-exposed as ``offset + gain * pixel`` by the scanner
that took it: a washed-out scanner lifts the background and flattens the contrast. The scanners'
mix differs between training and held-out data, so a model that learned absolute intensities
meets exposures in production that it never saw; normalizing each scan by its own statistics (or
augmenting exposure) makes it invariant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._quirktools import base_case, feature_columns
from .registry import Detection, Example, Quirk, register

__all__ = ["vary_exposure"]

SPREAD = 0.08
"""scanner_exposure fires when the per-image background level (the 10th percentile of a row's
pixels) varies across images with a standard deviation of at least this share of the pixel range.
Clean scans share one background (digits: 0 in every image; rendered glyphs: sensor noise only)."""


def _background(train: pd.DataFrame, target: str) -> tuple[np.ndarray, float]:
    pixels = train[feature_columns(train, target)].to_numpy(dtype=float)
    span = float(np.nanmax(pixels) - np.nanmin(pixels)) or 1.0
    return np.nanpercentile(pixels, 10, axis=1), span


def _detect_exposure(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                     target: str) -> Detection:
    """Spread of the per-image background level (10th percentile of each row) over the pixel range."""
    levels, span = _background(train, target)
    spread = float(levels.std()) / span
    low, high = np.percentile(levels, [5, 95])
    return Detection(spread >= SPREAD,
                     f"per-image background level spans {low:.1f}-{high:.1f} (5th-95th percentile of rows); "
                     f"its SD is {spread:.3f} of the pixel range (threshold {SPREAD})")


def _example_exposure(seed: int) -> Example:
    _, train, heldout = base_case(2 + 4 * seed)  # the digits base (BASES[2]): pixel rows
    rng = np.random.default_rng(seed)
    planted, quirk = vary_exposure(train, target="label", rng=rng, max_value=16.0)
    held, _ = vary_exposure(heldout, target="label", rng=rng, max_value=16.0,
                            scanners=[(1.0, 0.0, 0.5), (0.45, 0.43, 0.2), (0.3, 0.15, 0.3)])
    return Example("label", train, heldout, planted, held, quirk)


@register(id="scanner_exposure", ref="Q25", detect=_detect_exposure, example=_example_exposure)
def vary_exposure(frame: pd.DataFrame, *, target: str, rng: np.random.Generator,
                  scanners: list[tuple[float, float, float]] | None = None,
                  max_value: float = 255.0) -> tuple[pd.DataFrame, Quirk]:
    """Re-expose each row's pixels (every numeric column but ``target``) as one scanner would.

    ``scanners``: (gain, offset as a share of ``max_value``, share of rows) each; default a clean
    scanner (60%) and a washed-out one (gain 0.45, background at 43% of the range). Per image the
    gain varies by +-10% and the offset by 2% of the range (SD); values are rounded and clipped to
    [0, ``max_value``]. Returns the planted frame and its entry (which scanner took how many rows).
    """
    scanners = scanners or [(1.0, 0.0, 0.6), (0.45, 0.43, 0.4)]
    gains, offsets, shares = (np.array(v, dtype=float) for v in zip(*scanners))
    columns = feature_columns(frame, target)
    which = rng.choice(len(scanners), size=len(frame), p=shares / shares.sum())
    gain = gains[which] * rng.uniform(0.9, 1.1, len(frame))
    offset = (offsets[which] + rng.normal(0.0, 0.02, len(frame))) * max_value
    pixels = frame[columns].to_numpy(dtype=float)
    out = frame.copy()
    exposed = np.clip(np.round(offset[:, None] + gain[:, None] * pixels), 0, max_value)
    out[columns] = exposed.astype(frame[columns].dtypes.iloc[0]) if len(columns) else exposed
    return out, {"id": "scanner_exposure", "scanners": [list(map(float, s)) for s in scanners],
                 "rows_per_scanner": np.bincount(which, minlength=len(scanners)).tolist()}

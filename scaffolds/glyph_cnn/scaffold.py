"""glyph_cnn: stamped routing marks on 16x16 scans, read by a small CNN (PyTorch).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract. Every image is drawn
here from the secret seed (no packaged data): a glyph's strokes under a random affine map, stroke
wobble, width and a stray scratch, sensor noise, then the scanner's exposure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import vary_exposure
from pitfalls.library.scaffold import Dataset

SIZE = 16
TRAIN_ROWS, HELDOUT_ROWS = 1600, 1200
TRAIN_SCANNERS = [(1.0, 0.0, 0.6), (0.45, 0.43, 0.4)]  # (gain, background share of 255, share of scans)
HELDOUT_SCANNERS = [(1.0, 0.0, 0.4), (0.45, 0.43, 0.2), (0.3, 0.16, 0.4)]


def _arc(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    t = np.linspace(0.0, 2 * np.pi, 16)
    return list(zip(cx + r * np.cos(t), cy + r * np.sin(t)))


def _mirror(strokes: list, axis: int) -> list:
    return [[tuple(1 - v if i == axis else v for i, v in enumerate(p)) for p in s] for s in strokes]


_B = [[(0.32, 0.12), (0.32, 0.88)], _arc(0.50, 0.68, 0.19)]
_P = [[(0.32, 0.30), (0.32, 1.00)], _arc(0.50, 0.48, 0.19)]
_LEFT = [[(0.15, 0.5), (0.85, 0.5)], [(0.42, 0.22), (0.15, 0.5), (0.42, 0.78)]]
_UP = [[(0.5, 0.15), (0.5, 0.85)], [(0.22, 0.42), (0.5, 0.15), (0.78, 0.42)]]
_L = [[(0.35, 0.12), (0.35, 0.85), (0.75, 0.85)]]
# codes 0-9: b d p q left right up down L J (x runs right, y down)
_GLYPHS = [_B, _mirror(_B, 0), _P, _mirror(_P, 0), _LEFT, _mirror(_LEFT, 0), _UP, _mirror(_UP, 1),
           _L, _mirror(_L, 0)]
_CENTRES = (np.arange(SIZE) + 0.5) / SIZE
_GX, _GY = np.meshgrid(_CENTRES, _CENTRES)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every pixel centre to the segment a-b."""
    d = b - a
    t = np.clip(((_GX - a[0]) * d[0] + (_GY - a[1]) * d[1]) / (d @ d + 1e-12), 0.0, 1.0)
    return np.hypot(_GX - a[0] - t * d[0], _GY - a[1] - t * d[1])


def _render(label: int, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0-1) of one glyph under a random pose, wobble, width and scratch."""
    scale, turn, shear = rng.uniform(0.75, 1.0), np.radians(rng.uniform(-20, 20)), rng.uniform(-0.2, 0.2)
    pose = scale * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) @ [[1, shear], [0, 1]]
    move = 0.5 + rng.uniform(-0.09, 0.09, 2)
    dist = np.full(_GX.shape, np.inf)
    for stroke in _GLYPHS[label]:
        points = (np.array(stroke) - 0.5 + rng.normal(0, 0.03, (len(stroke), 2))) @ pose.T + move
        for a, b in zip(points[:-1], points[1:]):
            dist = np.minimum(dist, _distance(a, b))
    if rng.random() < 0.6:
        a = rng.uniform(0.05, 0.95, 2)
        dist = np.minimum(dist, _distance(a, a + rng.normal(0, 0.2, 2)))
    return 1 / (1 + np.exp((dist - rng.uniform(0.035, 0.07)) / 0.018))


def _scans(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    labels = rng.integers(0, len(_GLYPHS), rows)
    ink = np.stack([_render(int(y), rng) for y in labels])
    pixels = np.clip(np.round(255 * ink + rng.normal(0, 14, ink.shape)), 0, 255).astype(np.int64)
    frame = pd.DataFrame(pixels.reshape(rows, SIZE * SIZE), columns=[f"p{i}" for i in range(SIZE * SIZE)])
    frame["glyph"] = labels
    return frame


def make_dataset(seed: int) -> Dataset:
    """Train: 1,600 scans from two scanners (one washed out). Held-out: 1,200 other scans from
    those two and a third, dim low-contrast scanner that training never saw."""
    rng = np.random.default_rng(seed)
    train, q_exposure = vary_exposure(_scans(rng, TRAIN_ROWS), target="glyph", rng=rng, scanners=TRAIN_SCANNERS)
    heldout, _ = vary_exposure(_scans(rng, HELDOUT_ROWS), target="glyph", rng=rng, scanners=HELDOUT_SCANNERS)
    q_exposure["heldout_scanners"] = [list(map(float, s)) for s in HELDOUT_SCANNERS]
    return Dataset(train=train, heldout=heldout, quirks=[q_exposure])

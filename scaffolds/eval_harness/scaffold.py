"""eval_harness: estimate the true quality of classifiers from their answers on a small, quirky
evaluation set (scikit-learn only for the calibration; the work is the harness).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract. Everything is simulated
from the secret-derived seed: the task's items, the systems (seeded noise models), their answers on
the evaluation set and their true quality on a large clean test set that never leaves this process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.library.scaffold import Dataset

CLASSES = 4
EVAL_PRIOR = (0.58, 0.24, 0.12, 0.06)
"""The evaluation set's class mix: as skewed as the traffic it was sampled from."""
TRAIN_SYSTEMS, HELDOUT_SYSTEMS = 160, 160
FRESH_ITEMS, BENCHMARK_ITEMS = 220, 70
"""Items written for this evaluation, and items copied from the public benchmark (ids ``ob_``)."""
DUPLICATED_ITEMS, COPIES = 12, 4
"""Rare-class fresh items imported again under new ids, each COPIES more times."""
GOLD_NOISE = 0.04
"""Share of evaluation items whose gold label an annotator drew at random."""
LEAKED_SYSTEMS, LEAK_RECALL = 0.35, 0.95
"""Share of systems trained on the public benchmark, and how often they recall its answers."""
HIDDEN_ITEMS = 8000
"""The clean test set the true quality is measured on: balanced classes, fresh items, never exported."""


def make_dataset(seed: int) -> Dataset:
    """Train: public systems with their true quality; held-out: other systems, same evaluation set.

    A row is one system: ``ans_<item>`` is its answer to an evaluation item (empty when it gave
    none), ``gold_<item>`` the item's gold label (the same in every row), ``quality`` its balanced
    accuracy (an unanswered item counts as wrong) on HIDDEN_ITEMS clean items."""
    rng = np.random.default_rng(seed)
    systems = _systems(rng, TRAIN_SYSTEMS + HELDOUT_SYSTEMS)
    quality = _true_quality(rng, systems)
    answers, gold, ids = _evaluation_set(rng, systems)
    cols = {f"ans_{i}": answers[:, k] for k, i in enumerate(ids)}
    cols |= {f"gold_{i}": np.full(len(quality), gold[k]) for k, i in enumerate(ids)}
    cols["quality"] = np.round(quality, 4)
    frame = pd.DataFrame(cols)
    order = rng.permutation(len(frame))
    train = frame.iloc[order[:TRAIN_SYSTEMS]].reset_index(drop=True)
    heldout = frame.iloc[order[TRAIN_SYSTEMS:]].reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=[])


def _systems(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Seeded noise models: skill, a bias towards some classes (often the majority), an abstention
    margin (a system unsure of its answer gives none) and whether it trained on the benchmark."""
    bias = np.zeros((n, CLASSES))
    bias[:, 0] = rng.uniform(0.0, 2.5, n) * (rng.random(n) < 0.6)
    bias[:, 1:] = rng.normal(0.0, 0.4, (n, CLASSES - 1))
    return {"skill": rng.uniform(0.3, 3.0, n), "bias": bias,
            "margin": np.where(rng.random(n) < 0.4, rng.uniform(0.3, 1.2, n), 0.0),
            "leaked": rng.random(n) < LEAKED_SYSTEMS}


def _answer(rng: np.random.Generator, s: dict[str, np.ndarray], y: np.ndarray, difficulty: np.ndarray) -> np.ndarray:
    """Each system's answer to items of true class ``y``: a float array, NaN where it abstained."""
    z = s["bias"][:, None, :] + rng.gumbel(size=(len(s["skill"]), len(y), CLASSES))
    z[:, np.arange(len(y)), y] += s["skill"][:, None] - difficulty[None, :]
    top = np.sort(z, axis=2)
    unsure = top[:, :, -1] - top[:, :, -2] < s["margin"][:, None]
    return np.where(unsure, np.nan, z.argmax(axis=2).astype(float))


def _true_quality(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """Balanced accuracy on a large clean test set (fresh items, every class equally)."""
    y = np.repeat(np.arange(CLASSES), HIDDEN_ITEMS // CLASSES)
    hits = np.zeros((len(s["skill"]), CLASSES))
    for chunk in np.array_split(np.arange(len(y)), 8):
        a = _answer(rng, s, y[chunk], rng.normal(0.0, 1.0, len(chunk)))
        for c in range(CLASSES):
            hits[:, c] += (a[:, y[chunk] == c] == c).sum(axis=1)
    return (hits / (HIDDEN_ITEMS // CLASSES)).mean(axis=1)


def _evaluation_set(rng: np.random.Generator, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Answers (systems x columns), gold labels and item ids of the evaluation set as exported:
    benchmark items leaked into some systems, noisy gold, rare items imported several times."""
    m = FRESH_ITEMS + BENCHMARK_ITEMS
    y = rng.choice(CLASSES, m, p=EVAL_PRIOR)
    on_benchmark = np.arange(m) >= FRESH_ITEMS
    answers = _answer(rng, s, y, rng.normal(0.0, 1.0, m))
    recalled = s["leaked"][:, None] & on_benchmark[None, :] & (rng.random(answers.shape) < LEAK_RECALL)
    answers = np.where(recalled, y[None, :].astype(float), answers)
    gold = np.where(rng.random(m) < GOLD_NOISE, rng.integers(0, CLASSES, m), y)
    rare = np.flatnonzero((y >= 2) & ~on_benchmark)
    source = np.concatenate([np.arange(m), np.repeat(rng.choice(rare, DUPLICATED_ITEMS, replace=False), COPIES)])
    fresh_ids = iter(rng.choice(np.arange(1000, 10000), len(source) - BENCHMARK_ITEMS, replace=False))
    bench_ids = iter(rng.choice(np.arange(1000, 10000), BENCHMARK_ITEMS, replace=False))
    ids = [f"ob_{next(bench_ids)}" if on_benchmark[k] else f"nw_{next(fresh_ids)}" for k in source]
    order = rng.permutation(len(source))
    return answers[:, source[order]], gold[source[order]], [ids[k] for k in order]

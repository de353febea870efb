"""eval_harness's held-out true qualities cannot be computed from anything the sandboxes mount.

What a sandbox can read: data/train.csv (public systems with their true quality), the held-out
systems' answers and the gold labels (the features), and the installed package: this repository,
the generator in scaffold.py and the public `[dataset] seed`. What it cannot: the installation's
data secret, so neither the held-out systems' noise models nor the 8,000 clean test items that
define their quality. The attacks, each scored against the honest reference harness:

1. Rerun the generator with the public seed (and with another secret) and copy the quality of the
   regenerated system whose answers profile is nearest: no better than a constant guess.
2. Read everything the workspace holds and predict each held-out system from its nearest public
   systems (Hamming distance over every answer column): no better than the reference.
3. The features carry nothing computed from the held-out qualities: the gold columns are constant
   and identical to the public systems'.
"""

from __future__ import annotations

import importlib.util
import tomllib

import numpy as np
import pandas as pd
import pytest

from conftest import TEST_DATA_SECRET
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.scaffold import load_hooks

TARGET = "quality"


def _folder():
    root = package_folder("pitfalls.scaffolds")
    return root / "eval_harness" if (root / "eval_harness").is_dir() else root / "_eval_harness"


def _public_seed() -> int:
    return tomllib.loads((_folder() / "scaffold.toml").read_text())["dataset"]["seed"]


def _reference_harness():
    spec = importlib.util.spec_from_file_location("eval_harness_reference", _folder() / "solution" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(truth, float)) ** 2)))


def _profile(frame) -> np.ndarray:
    """Per system: share of answers per class, share unanswered (comparable across evaluation sets)."""
    answers = frame[[c for c in frame.columns if c.startswith("ans_")]].to_numpy(float)
    shares = [(answers == c).mean(axis=1) for c in range(4)] + [np.isnan(answers).mean(axis=1)]
    return np.column_stack(shares)


@pytest.fixture(scope="module")
def hooks():
    return load_hooks(_folder() / "scaffold.py")


@pytest.fixture(scope="module")
def secret_data(hooks):
    return hooks.make_dataset(derive_seed(_public_seed(), bytes.fromhex(TEST_DATA_SECRET)))


@pytest.fixture(scope="module")
def reference_rmse(secret_data) -> float:
    harness = _reference_harness()
    train, held = secret_data.train, secret_data.heldout
    raw_tr = harness.estimate(train.drop(columns=[TARGET]))
    slope, intercept = np.polyfit(raw_tr, train[TARGET].to_numpy(), 1)
    return _rmse(slope * harness.estimate(held.drop(columns=[TARGET])) + intercept, held[TARGET])


def test_reference_is_far_better_than_a_constant(secret_data, reference_rmse):
    constant = _rmse(np.full(len(secret_data.heldout), secret_data.train[TARGET].mean()), secret_data.heldout[TARGET])
    assert reference_rmse < 0.35 * constant, (reference_rmse, constant)


@pytest.mark.parametrize("seed_of", ["public_seed", "other_secret"])
def test_regenerated_data_does_not_give_heldout_quality(hooks, secret_data, reference_rmse, seed_of):
    seed = _public_seed() if seed_of == "public_seed" else derive_seed(_public_seed(), b"\x01" * 32)
    guess = hooks.make_dataset(seed)

    pool = pd.concat([guess.train, guess.heldout], ignore_index=True)
    held = secret_data.heldout
    assert not set(held.columns) - {TARGET} <= set(pool.columns), "the regenerated items are the secret ones"
    dist = ((_profile(held)[:, None, :] - _profile(pool)[None, :, :]) ** 2).sum(axis=2)
    copied = pool[TARGET].to_numpy()[dist.argmin(axis=1)]
    attack = _rmse(copied, held[TARGET])
    constant = _rmse(np.full(len(held), secret_data.train[TARGET].mean()), held[TARGET])
    assert attack > 0.8 * constant and attack > 2 * reference_rmse, (attack, constant, reference_rmse)


def test_nearest_public_systems_do_not_beat_the_reference(secret_data, reference_rmse):
    train, held = secret_data.train, secret_data.heldout
    cols = [c for c in train.columns if c.startswith("ans_")]
    a = np.nan_to_num(held[cols].to_numpy(float), nan=-1.0)
    b = np.nan_to_num(train[cols].to_numpy(float), nan=-1.0)
    hamming = (a[:, None, :] != b[None, :, :]).mean(axis=2)
    nearest = np.argsort(hamming, axis=1)[:, :5]
    attack = _rmse(train[TARGET].to_numpy()[nearest].mean(axis=1), held[TARGET])
    assert attack > 1.5 * reference_rmse, (attack, reference_rmse)


def test_features_carry_nothing_from_heldout_quality(secret_data):
    train, held = secret_data.train, secret_data.heldout
    gold = [c for c in held.columns if c.startswith("gold_")]
    assert (held[gold].nunique() == 1).all(), "gold columns must be constant"
    assert (held[gold].iloc[0].to_numpy() == train[gold].iloc[0].to_numpy()).all()
    assert set(held.columns) == set(train.columns)
    shared = held.drop(columns=[TARGET]).merge(train.drop(columns=[TARGET]), how="inner")
    assert shared.empty, "a held-out system repeats a public one"

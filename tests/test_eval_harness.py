"""eval_harness's data has the problems the harness's bugs mishandle, and each bug costs accuracy.

In process, on the test secret's data: the evaluation set has duplicated rare-class items, benchmark
items some systems recall, systems that abstain and a skewed class mix; the reference harness
(calibrated by a line on the public systems) beats the starter's by far, and putting back any one
bug (mutants.toml) makes it worse on the held-out systems. `pitfalls check` measures the same
through the sandboxed pipeline; these run in seconds.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from conftest import TEST_DATA_SECRET
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.scaffold import load_hooks

TARGET = "quality"


def _folder():
    root = package_folder("pitfalls.scaffolds")
    return root / "eval_harness" if (root / "eval_harness").is_dir() else root / "_eval_harness"


def _harness(source: str):
    namespace: dict = {}
    exec(compile(source, "harness.py", "exec"), namespace)
    return namespace


def _variants() -> dict[str, str]:
    """Harness sources: the reference, the starter, and the reference with each bug put back."""
    folder = _folder()
    reference = (folder / "solution" / "harness.py").read_text()
    out = {"reference": reference, "starter": (folder / "workspace" / "harness.py").read_text()}
    for bug, edits in tomllib.loads((folder / "mutants.toml").read_text()).items():
        if bug == "starter":
            continue
        source = reference
        for edit in edits:
            assert edit["file"] == "harness.py"
            source = source.replace(edit["old"], edit["new"])
        out[bug] = source
    return out


@pytest.fixture(scope="module")
def data():
    folder = _folder()
    seed = tomllib.loads((folder / "scaffold.toml").read_text())["dataset"]["seed"]
    return load_hooks(folder / "scaffold.py").make_dataset(derive_seed(seed, bytes.fromhex(TEST_DATA_SECRET)))


@pytest.fixture(scope="module")
def rmse(data) -> dict[str, float]:
    out = {}
    for name, source in _variants().items():
        estimate = _harness(source)["estimate"]
        raw = estimate(data.train.drop(columns=[TARGET]))
        slope, intercept = np.polyfit(raw, data.train[TARGET].to_numpy(), 1)
        pred = slope * estimate(data.heldout.drop(columns=[TARGET])) + intercept
        out[name] = float(np.sqrt(np.mean((pred - data.heldout[TARGET].to_numpy()) ** 2)))
    return out


def test_training_data_shows_each_problem(data):
    train = data.train
    ids = [c[4:] for c in train.columns if c.startswith("ans_")]
    answers = train[[f"ans_{i}" for i in ids]].to_numpy(float)
    gold = train[[f"gold_{i}" for i in ids]].iloc[0].to_numpy(int)
    # duplicated items: identical answer columns from every system, all of a rare class
    keys = [(g, tuple(np.nan_to_num(col, nan=-1.0))) for g, col in zip(gold, answers.T)]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert len(repeated) == 12 and all(k[0] >= 2 for k in repeated)
    # benchmark items: a group of systems is near-perfect on ob_ and ordinary on nw_
    bench = np.array([i.startswith("ob_") for i in ids])
    gap = (answers[:, bench] == gold[bench]).mean(axis=1) - (answers[:, ~bench] == gold[~bench]).mean(axis=1)
    assert (gap > 0.3).mean() > 0.2 and (np.abs(gap) < 0.15).mean() > 0.3
    # abstentions and a skewed class mix
    assert (np.isnan(answers).mean(axis=1) > 0.2).mean() > 0.1
    assert np.bincount(gold, minlength=4)[0] / len(gold) > 0.45


def test_reference_beats_starter_by_far(rmse):
    assert rmse["reference"] < 0.5 * rmse["starter"], rmse


@pytest.mark.parametrize("bug", ["benchmark_items_scored", "duplicate_items_counted",
                                 "unanswered_items_dropped", "micro_averaged_accuracy"])
def test_each_bug_hurts_on_its_own(rmse, bug):
    assert rmse[bug] > 1.1 * rmse["reference"], rmse

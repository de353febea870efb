"""attention_budget's held-out targets cannot be computed from anything the sandboxes mount.

The public part of the rule (reverse the message) is in this repository; the substitution that
re-codes each symbol is drawn from the secret data seed. The attacks:

1. Apply the public rule with any substitution fixed in advance (identity, or the one the public
   seed would give without the secret): exact match must stay at chance, never near the goal.
2. Rerun the generator with the public seed (and neighbours) instead of the secret-derived one:
   other messages and another substitution, so no held-out pair is recomputable.
3. Held-out messages never occur in data/train.csv (a lookup table scores 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TEST_DATA_SECRET
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.metrics_sequence import sequence_score
from pitfalls.library.scaffold import load_hooks

CLASSES = tuple(range(17))


def _hooks():
    root = package_folder("pitfalls.scaffolds")
    folder = root / "attention_budget" if (root / "attention_budget").is_dir() else root / "_attention_budget"
    return load_hooks(folder / "scaffold.py")


def _public_seed() -> int:
    import tomllib

    root = package_folder("pitfalls.scaffolds")
    folder = root / "attention_budget" if (root / "attention_budget").is_dir() else root / "_attention_budget"
    return tomllib.loads((folder / "scaffold.toml").read_text())["dataset"]["seed"]


def _code(frame) -> dict[int, int]:
    """The substitution a frame reveals: reversed source symbol -> target symbol."""
    out: dict[int, int] = {}
    for src, tgt in zip(frame["source"], frame["target"]):
        for s, t in zip(reversed(src.split()), tgt.split()):
            out[int(s)] = int(t)
    return out


def _decode(frame, code: dict[int, int]) -> np.ndarray:
    rows = [[code.get(int(s), 1) for s in reversed(src.split())] for src in frame["source"]]
    out = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


@pytest.fixture(scope="module")
def secret_data():
    return _hooks().make_dataset(derive_seed(_public_seed(), bytes.fromhex(TEST_DATA_SECRET)))


def test_the_rule_learned_from_training_decodes_the_heldout_set(secret_data):
    """Sanity: the substitution is learnable from data/train.csv (the candidate's legitimate route)."""
    code = _code(secret_data.train)
    assert sequence_score("exact_match", secret_data.heldout["target"].to_numpy(),
                          _decode(secret_data.heldout, code), CLASSES) == 1.0


@pytest.mark.parametrize("seed", [None, -1, 0, 1])
def test_the_public_rule_without_the_secret_scores_at_chance(secret_data, seed):
    """Reverse with the identity (seed None), or with the substitution of the generator run on the
    public seed and its neighbours: nowhere near the goal."""
    if seed is None:
        code = {s: s for s in range(1, 17)}
    else:
        code = _code(_hooks().make_dataset(_public_seed() + seed).train)
    score = sequence_score("exact_match", secret_data.heldout["target"].to_numpy(),
                           _decode(secret_data.heldout, code), CLASSES)
    assert score < 0.05


def test_the_public_seed_regenerates_other_messages(secret_data):
    public = _hooks().make_dataset(_public_seed())
    shared = set(public.heldout["source"]) & set(secret_data.heldout["source"])
    assert len(shared) < 0.01 * len(secret_data.heldout)  # short messages may coincide by chance
    assert _code(public.train) != _code(secret_data.train)


def test_no_heldout_message_is_in_training(secret_data):
    assert not set(secret_data.heldout["source"]) & set(secret_data.train["source"])

"""attention_budget's held-out targets cannot be computed from anything the sandboxes mount, nor
written down from a glance at data/train.csv.

The public part of the rule is in this repository (reverse the message, re-code each symbol by a
code book chosen by the code symbol sent before it); the books and the choice are drawn from the
secret data seed. The attacks:

1. The best fixed per-symbol substitution that data/train.csv supports (16 numbers, what a
   candidate reads off the file by eye): exact match stays near 0, so reverse + substitute is no
   shortcut. Only a model of the 272 (previous code symbol, source symbol) contexts decodes, and
   that is a learned model (a counting script is one: legitimate only through the counted artifact).
2. The public rule with the public seed's machine (and its neighbours') instead of the secret one.
3. Rerun the generator with the public seed: other messages, another machine.
4. Held-out messages never occur in data/train.csv (a lookup of whole messages scores 0).
"""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict

import numpy as np
import pytest

from conftest import TEST_DATA_SECRET
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.metrics_sequence import sequence_score
from pitfalls.library.scaffold import load_hooks

CLASSES = tuple(range(17))


def _folder():
    root = package_folder("pitfalls.scaffolds")
    return root / "attention_budget"


def _hooks():
    return load_hooks(_folder() / "scaffold.py")


def _public_seed() -> int:
    return tomllib.loads((_folder() / "scaffold.toml").read_text())["dataset"]["seed"]


def _pairs(frame):
    """(previous target symbol or 0, reversed source symbol, target symbol) for every position."""
    for src, tgt in zip(frame["source"], frame["target"]):
        previous = 0
        for s, t in zip(reversed(src.split()), tgt.split()):
            yield previous, int(s), int(t)
            previous = int(t)


def _best_substitution(frame) -> dict[int, int]:
    """The per-symbol substitution that agrees with the most positions of ``frame``."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for _, s, t in _pairs(frame):
        counts[s][t] += 1
    return {s: c.most_common(1)[0][0] for s, c in counts.items()}


def _machine(frame) -> dict[tuple[int, int], int]:
    """The (previous code symbol, source symbol) -> code symbol table a frame reveals."""
    return {(p, s): t for p, s, t in _pairs(frame)}


def _substitute(frame, code: dict[int, int]) -> np.ndarray:
    return _pad([[code.get(int(s), 1) for s in reversed(src.split())] for src in frame["source"]])


def _run(frame, machine: dict[tuple[int, int], int]) -> np.ndarray:
    rows = []
    for src in frame["source"]:
        state, row = 0, []
        for s in reversed(src.split()):
            state = machine.get((state, int(s)), 1)
            row.append(state)
        rows.append(row)
    return _pad(rows)


def _pad(rows) -> np.ndarray:
    out = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def _exact(frame, predicted: np.ndarray) -> float:
    return sequence_score("exact_match", frame["target"].to_numpy(), predicted, CLASSES)


@pytest.fixture(scope="module")
def secret_data():
    return _hooks().make_dataset(derive_seed(_public_seed(), bytes.fromhex(TEST_DATA_SECRET)))


def test_the_machine_learned_from_training_decodes_the_heldout_set(secret_data):
    """Sanity: every held-out context occurs in data/train.csv, so a model of the 272 contexts
    learned from it decodes everything (the route a transformer must find)."""
    machine = _machine(secret_data.train)
    assert len(machine) == 17 * 16
    assert {(p, s) for p, s, _ in _pairs(secret_data.heldout)} <= set(machine)
    assert _exact(secret_data.heldout, _run(secret_data.heldout, machine)) == 1.0


def test_no_per_symbol_substitution_decodes(secret_data):
    """Attack 1: reverse + the best 16-entry substitution training supports (and the identity)."""
    best = _best_substitution(secret_data.train)
    assert len(best) == 16
    assert _exact(secret_data.heldout, _substitute(secret_data.heldout, best)) < 0.1
    identity = {s: s for s in range(1, 17)}
    assert _exact(secret_data.heldout, _substitute(secret_data.heldout, identity)) < 0.05


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_the_public_rule_with_the_public_seeds_machine_scores_at_chance(secret_data, offset):
    """Attack 2: run the machine the generator draws from the public seed (and its neighbours)."""
    machine = _machine(_hooks().make_dataset(_public_seed() + offset).train)
    assert _exact(secret_data.heldout, _run(secret_data.heldout, machine)) < 0.05


def test_the_public_seed_regenerates_other_messages(secret_data):
    public = _hooks().make_dataset(_public_seed())
    shared = set(public.heldout["source"]) & set(secret_data.heldout["source"])
    assert len(shared) < 0.01 * len(secret_data.heldout)  # short messages may coincide by chance
    assert _machine(public.train) != _machine(secret_data.train)


def test_no_heldout_message_is_in_training(secret_data):
    assert not set(secret_data.heldout["source"]) & set(secret_data.train["source"])

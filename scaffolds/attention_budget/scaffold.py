"""attention_budget: a tiny transformer that decodes scrambled messages (PyTorch).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.

A message is 4-12 symbols (ids 1-16). The radio sends it backwards through a small state
machine: each symbol is re-coded by one of ``BOOKS`` code books (permutations of the 16 symbols),
and which book is chosen by the code symbol it sent just before (the first symbol by a start
book). The books and the assignment of the 16 symbols (and the start) to books are drawn from
the secret seed, so the rule cannot be read from this repository, and no per-symbol substitution
reproduces it: target symbol j depends on source symbol n-1-j and on target symbol j-1, 272
contexts that must be learned from data/train.csv (each occurs there about a hundred times or
more). Both columns hold space-separated ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import duplicate_rows
from pitfalls.library.scaffold import Dataset

SYMBOLS = 16
BOOKS = 8
SHORTEST, LONGEST = 4, 12
TRAIN_ROWS = 4000
HELDOUT_ROWS = 600
COPIES = 320  # exact copies of training rows (7.4% of the file)


def _machine(rng: np.random.Generator) -> np.ndarray:
    """The secret transition table (SYMBOLS + 1, SYMBOLS): row = last code symbol sent (0 before
    the first), column = source symbol - 1, value = the next code symbol (1-16)."""
    books = np.stack([rng.permutation(SYMBOLS) + 1 for _ in range(BOOKS)])
    chooser = np.concatenate([[rng.integers(BOOKS)], rng.permutation(np.arange(SYMBOLS) % BOOKS)])
    return books[chooser]


def _messages(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """``n`` distinct random messages not in ``taken`` (which they are added to)."""
    out: list[str] = []
    while len(out) < n:
        length = int(rng.integers(SHORTEST, LONGEST + 1))
        text = " ".join(str(int(s)) for s in rng.integers(1, SYMBOLS + 1, length))
        if text not in taken:
            taken.add(text)
            out.append(text)
    return out


def _scramble(source: str, table: np.ndarray) -> str:
    state, out = 0, []
    for symbol in reversed(source.split()):
        state = int(table[state, int(symbol) - 1])
        out.append(str(state))
    return " ".join(out)


def _frame(sources: list[str], table: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"source": sources, "target": [_scramble(s, table) for s in sources]})


def make_dataset(seed: int) -> Dataset:
    """Train: 4,000 distinct messages plus 320 exact copies of some of them. Held-out: 600 other
    messages, none of them in training, lengths drawn alike (so every (state, symbol) context of
    held-out occurs in training)."""
    rng = np.random.default_rng(seed)
    table = _machine(rng)
    taken: set[str] = set()
    train = _frame(_messages(rng, TRAIN_ROWS, taken), table)
    heldout = _frame(_messages(rng, HELDOUT_ROWS, taken), table)
    train, q_copies = duplicate_rows(train, n=COPIES, rng=rng)
    return Dataset(train=train, heldout=heldout, quirks=[q_copies])

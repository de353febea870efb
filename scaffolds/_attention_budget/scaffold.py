"""attention_budget: a tiny transformer that decodes scrambled messages (PyTorch).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.

A message is 4-12 symbols (ids 1-16). Its target is the message reversed, each symbol then
re-coded through a substitution drawn from the secret seed, so the rule cannot be read from this
repository: it must be learned from data/train.csv. Both columns hold space-separated ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import duplicate_rows
from pitfalls.library.scaffold import Dataset

SYMBOLS = 16
SHORTEST, LONGEST = 4, 12
TRAIN_ROWS = 4000
HELDOUT_ROWS = 600
COPIES = 320  # exact copies of training rows (8% of the file)


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


def _frame(sources: list[str], code: np.ndarray) -> pd.DataFrame:
    targets = [" ".join(str(int(code[int(s) - 1])) for s in reversed(src.split())) for src in sources]
    return pd.DataFrame({"source": sources, "target": targets})


def make_dataset(seed: int) -> Dataset:
    """Train: 4,000 distinct messages plus 320 exact copies of some of them. Held-out: 600 other
    messages, none of them in training, lengths drawn alike."""
    rng = np.random.default_rng(seed)
    code = rng.permutation(SYMBOLS) + 1
    taken: set[str] = set()
    train = _frame(_messages(rng, TRAIN_ROWS, taken), code)
    heldout = _frame(_messages(rng, HELDOUT_ROWS, taken), code)
    train, q_copies = duplicate_rows(train, n=COPIES, rng=rng)
    return Dataset(train=train, heldout=heldout, quirks=[q_copies])

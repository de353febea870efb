"""ticket_router: route help-desk tickets to five teams (scikit-learn, tf-idf text classifier).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import add_leaky_token, impose_class_imbalance, ticket_model, write_tickets
from pitfalls.library.scaffold import Dataset

TEAMS = 5
TRAIN_ROWS = 1700  # before the rare team is thinned out
HELDOUT_ROWS = 1000
MINORITY_KEPT = 40
MACRO_SHARE_TRAIN = 0.6
MACRO_SHARE_HELDOUT = 0.5
"""Closed tickets (training) carry the macro that answered them, named after its team; new tickets
carry one only when reopened, left by whichever team answered before (independent of the label).
At 0.5/0.3 the shortcut cost the reference about 0.01 of balanced accuracy, too close to seed noise;
at 0.6/0.5 it costs 0.03-0.04."""


def _tickets(model, labels: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"text": write_tickets(model, labels, rng), "team": labels})


def make_dataset(seed: int) -> Dataset:
    """Train: 1,700 tickets from a secret per-installation generator (each team's words, error
    codes and reply macros drawn from the seed), one team thinned to 40 tickets, 60% with a
    reply-macro line naming the answering team. Held-out: 1,000 balanced tickets, half with a
    macro line from any team. No text comes from a file."""
    rng = np.random.default_rng(seed)
    model = ticket_model(rng, teams=TEAMS)
    train = _tickets(model, rng.permutation(np.arange(TRAIN_ROWS) % TEAMS), rng)
    heldout = _tickets(model, rng.permutation(np.arange(HELDOUT_ROWS) % TEAMS), rng)

    train, q_imb = impose_class_imbalance(train, target="team", minority=model.twins[1], keep=MINORITY_KEPT,
                                          rng=rng)
    train, q_macro = add_leaky_token(train, target="team", column="text", rng=rng, share=MACRO_SHARE_TRAIN)
    heldout, _ = add_leaky_token(heldout, target="team", column="text", rng=rng, share=MACRO_SHARE_HELDOUT,
                                 names=q_macro["names"], randomize=True)
    train = train.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    heldout = heldout.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=[q_imb, q_macro])

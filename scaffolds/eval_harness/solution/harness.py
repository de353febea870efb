"""The evaluation harness: one quality estimate per system from its answers on the evaluation set.

A frame holds one row per system: ``ans_<item>`` is the system's answer to an evaluation item
(empty when it gave none) and ``gold_<item>`` that item's gold label, the same in every row.
train.py calibrates these estimates against the public systems' known quality; model.py applies
the harness and that calibration to new systems.
"""

import numpy as np

ANSWER, GOLD = "ans_", "gold_"


def item_ids(frame):
    return [c[len(ANSWER):] for c in frame.columns if c.startswith(ANSWER)]


def scored_items(frame):
    ids = item_ids(frame)
    # ob_ items come from the public benchmark some systems trained on: they measure recall, not skill
    ids = [i for i in ids if not i.startswith("ob_")]
    ids = distinct_items(frame, ids)
    return ids


def distinct_items(frame, ids):
    """Keep one column of each item imported more than once: same gold, same answer from every system."""
    block = frame[[ANSWER + i for i in ids] + [GOLD + i for i in ids]].to_numpy(float)
    n = len(ids)
    keys = np.vstack([block[:, :n], block[:1, n:]]).T
    _, first = np.unique(np.nan_to_num(keys, nan=-1.0), axis=0, return_index=True)
    return [ids[k] for k in sorted(first)]


def hits(answers, gold):
    """Per system and item: 1.0 where the answer is the gold label, and the item's weight."""
    weights = np.ones_like(answers)
    return (answers == gold).astype(float), weights


def rate(h, w):
    return (h * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)


def average(h, w, gold):
    """Mean over gold classes of each class's hit rate: the balanced accuracy."""
    return np.mean([rate(h[:, gold == c], w[:, gold == c]) for c in np.unique(gold)], axis=0)


def estimate(frame):
    """One raw quality estimate per row of ``frame`` (a float array)."""
    ids = scored_items(frame)
    answers = frame[[ANSWER + i for i in ids]].to_numpy(float)
    gold = frame[[GOLD + i for i in ids]].iloc[0].to_numpy(float)
    h, w = hits(answers, gold)
    return average(h, w, gold)

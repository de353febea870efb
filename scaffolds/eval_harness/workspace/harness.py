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
    return ids


def hits(answers, gold):
    """Per system and item: 1.0 where the answer is the gold label, and the item's weight."""
    weights = (~np.isnan(answers)).astype(float)
    return (answers == gold).astype(float), weights


def rate(h, w):
    return (h * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)


def average(h, w, gold):
    """The share of the scored items each system got right."""
    return rate(h, w)


def estimate(frame):
    """One raw quality estimate per row of ``frame`` (a float array)."""
    ids = scored_items(frame)
    answers = frame[[ANSWER + i for i in ids]].to_numpy(float)
    gold = frame[[GOLD + i for i in ids]].iloc[0].to_numpy(float)
    h, w = hits(answers, gold)
    return average(h, w, gold)

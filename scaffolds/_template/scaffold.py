# The scaffold contract, part 2 of 2: behaviour. (Part 1, the data, is scaffold.toml.)
#
# A scaffold is a folder scaffolds/<name>/ holding:
#   scaffold.toml   MUST. Declarative data: task, metric, budgets, bug and quirk ids, hints.
#   scaffold.py     MUST. This file: the hooks below, and nothing else public.
#   workspace/      MUST. The candidate's starting files (train.py, model.py, ...), bugs planted.
#   solution/       MUST. Fixed versions of workspace files at the same relative paths:
#                   copying solution/ over a fresh workspace gives the reference submission.
#   mutants.toml    MUST when `bugs` is not empty. For each bug id, text edits that put that one
#                   bug back into the solution (the killability checks train each one).
#   probes.py       SHOULD. PROBES = {bug_id: fn(ctx) -> (status, evidence)}, plus an optional
#                   setup() -> ctx called once. Runs in a sandbox next to the candidate's code;
#                   import helpers from `probekit` (bugs/probekit).
#   brief.md        SHOULD. The story the candidate reads first (BRIEF.md adds metric,
#                   budgets and how to submit). Default: the manifest's summary.
#   GUIDE.md        MUST. For the interviewer only: what is planted, where, what a strong
#                   candidate does, discussion questions, rubric. Never copied to a workspace.
#
# Only the runner calls hooks, in its own trusted process. Helpers in this file MUST start
# with an underscore: any other public name is reported as an unknown hook (typos included).

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_wine

from pitfalls.datasets import impose_class_imbalance
from pitfalls.library.scaffold import Dataset


# MUST. Called by the runner when a workspace is created and whenever a submission is scored
# (cached per process). Returns the training frame (with every planted quirk; it becomes
# data/train.csv) and the held-out frame (clean, production-like: no leak or shortcut signal,
# no duplicates of training rows, disjoint groups/time), both with the target column, plus a
# quirk manifest (one dict per quirk: "id" from datasets/catalog/, and where/how much).
# MUST be deterministic for a given seed. The seed is NOT [dataset].seed itself: it is a 128-bit
# integer derived from it and the installation's data secret (runner/core/secret.py), so nobody can
# regenerate the held-out labels from the repository. Pass it to np.random.default_rng(seed) (or
# default_rng([seed, k])) and draw everything from that; an API that needs a seed below 2**32
# gets int(rng.integers(2**31)), never the seed itself.
# No held-out feature may be computed from held-out labels (check: heldout_labels_hidden).
# Held-out rows MUST NOT be exact rows of any dataset shipped in an installed package
# (perturb them; pitfalls.datasets.base shows how). There is no default.
def make_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    raw = load_wine(as_frame=True).frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    raw = raw[raw["target"] < 2].rename(columns={"target": "cultivar"})  # two classes
    features = raw.columns[:-1]
    raw[features] = raw[features] * rng.lognormal(0.0, 0.02, size=(len(raw), len(features)))
    raw = raw.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    heldout, train = raw.iloc[:40].reset_index(drop=True), raw.iloc[40:]
    train, quirk = impose_class_imbalance(train, target="cultivar", minority=1, keep=10, rng=rng)
    return Dataset(train=train.reset_index(drop=True), heldout=heldout, quirks=[quirk])

"""income_screen is "hard" as a tested property (issue 16 item 6), as tests/test_sensor_faults.py is
for sensor_faults: two planted problems only exploring the data shows, and they interact.

- Data-only: the starter's train.py and model.py name neither problem (loan_amount is one more
  entry of the feature list), while train.csv shows both (loan_amount separates the classes there
  and not in held-out data; ~1,600 re-exported copies that a raw `duplicated()` misses in part,
  none held out).
- Interacting: with every code bug fixed, fixing one data problem alone (the reference with the
  other one's mutant put back) stays below `goal_normalized` on each of the 5 pinned test secrets
  (private slice, the sandboxed batch of `pitfalls check`, one seed: seed noise is ~0.005 normalized
  against a margin of >= 0.02; GUIDE.md, "Why this is hard").
"""

from __future__ import annotations

import re
import runpy

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.scoring.anchors import TEST_SECRETS
from pitfalls.scoring.batch import run_batch

DATA_ONLY = ("resubmissions_kept", "leak_feature_used")


@pytest.fixture
def scaffold():
    return load_scaffold("income_screen")


@pytest.fixture
def data(scaffold):
    return scaffold.dataset()


def _amount(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col.astype(str).str.replace(",", "", regex=False), errors="coerce")


def test_the_starter_code_names_neither_data_problem(scaffold):
    """loan_amount is an ordinary entry of NUMERIC; nothing speaks of copies, re-exports, granted or
    verified amounts, or de-duplication."""
    text = "\n".join(p.read_text() for p in sorted(scaffold.workspace_dir.glob("*.py")))
    for word in ("duplicat", "resubmi", "reopen", "re-export", "copies", "granted", "verif", "leak", "round"):
        assert word not in text.lower(), word
    lines = [line for line in text.splitlines() if "loan_amount" in line]
    assert len(lines) == 1 and re.fullmatch(r"NUMERIC = \[.*\]", lines[0]), lines


def test_loan_amount_separates_the_classes_in_train_csv_and_not_in_production(data):
    train, held = data.train, data.heldout
    amount, held_amount = _amount(train["loan_amount"]), _amount(held["loan_amount"])
    assert roc_auc_score(train["high_income"], amount.fillna(0)) > 0.85
    assert 0.4 < roc_auc_score(held["high_income"], held_amount.fillna(0)) < 0.6
    odd = amount.notna() & (amount % 500 != 0)  # granted to the dollar, not asked for in $500 steps
    assert 0.3 < odd.mean() and train.loc[odd, "high_income"].mean() > 0.99
    assert not (held_amount.notna() & (held_amount % 500 != 0)).any()


def test_train_csv_holds_re_spelled_copies_that_production_does_not(scaffold, data):
    """After the reference's cleaning (its featurize) about 1,600 rows repeat an earlier one, almost all
    high earners with <= 9 years of schooling; a raw `duplicated()` finds well under all of them."""
    featurize = runpy.run_path(str(scaffold.root / "solution" / "model.py"))["featurize"]
    train, held = data.train, data.heldout
    copies = featurize(train).assign(y=train["high_income"].to_numpy()).duplicated()
    assert 1200 < copies.sum() < 2200
    assert train.loc[copies, "high_income"].mean() > 0.99
    assert train.duplicated().sum() < 0.75 * copies.sum()
    assert train["high_income"].mean() > 0.4 and held["high_income"].mean() < 0.3
    assert featurize(held).duplicated().sum() < 5


@pytest.mark.slow
def test_fixing_one_data_problem_alone_stays_under_the_goal(scaffold, tmp_path):
    """The reference with one data-only problem put back, normalized against the starter (0) and the
    reference (1) of the same batch, on each pinned test secret."""
    goal = scaffold.manifest.task.goal_normalized
    found = {}
    for index, secret in enumerate(TEST_SECRETS):
        this = scaffold.with_secret(secret)
        folders = {"starter": materialize(scaffold=this, target=tmp_path / f"{index}-starter", reference=False),
                   "reference": materialize(scaffold=this, target=tmp_path / f"{index}-reference", reference=True),
                   **{b: materialize(scaffold=this, target=tmp_path / f"{index}-{b}", reference=True, bug=b)
                      for b in DATA_ONLY}}
        runs = run_batch(scaffold=this, variants=folders, seeds=[0])
        assert not [r.error for r in runs if r.error], runs
        score = {r.variant: r.score_private for r in runs}
        for bug in DATA_ONLY:
            found[(index, bug)] = (score[bug] - score["starter"]) / (score["reference"] - score["starter"])
    worst = max(found, key=found.get)
    assert all(v < goal for v in found.values()), (
        f"fixing one data problem alone must stay under the goal {goal}; got {found[worst]:.3f} on test "
        f"secret {worst[0]} with {worst[1]} left: {({k: round(v, 3) for k, v in found.items()})}")
    assert np.mean(list(found.values())) < goal - 0.03, found

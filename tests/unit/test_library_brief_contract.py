"""Every shipped brief carries the prediction contract generated from its manifest, the contract says
what the scorer enforces (check_predictions), and no hand-written contract text can drift from it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pitfalls.library import contract
from pitfalls.library.brief import render_brief
from pitfalls.library.metrics import check_predictions
from pitfalls.library.metrics_ranking import RANKING_K
from pitfalls.library.scaffold import load_scaffold, scaffold_names

NAMES = scaffold_names()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("live", [False, True])
def test_every_brief_contains_the_generated_contract(name, live):
    scaffold = load_scaffold(name)
    text = render_brief(scaffold, live=live)
    assert "\n".join(contract.contract_lines(scaffold)) in text
    assert text.count(contract.HEADING) == 1
    # the one line on intervals: why two close public scores may not differ
    assert "two public scores whose intervals overlap may not differ" in text


@pytest.mark.parametrize("name", NAMES)
def test_the_listed_columns_are_what_predict_receives(name):
    """Columns, order and dtypes as the harness reads the held-out features (CSV round trip), which
    must equal those of data/train.csv read the same way."""
    scaffold = load_scaffold(name)
    target = scaffold.manifest.task.target
    heldout = contract.feature_frame(scaffold.dataset().heldout, target)
    listed = contract.feature_columns(scaffold)
    assert listed == [(str(c), str(heldout[c].dtype)) for c in heldout.columns]
    text = render_brief(scaffold)
    assert f"these {len(listed)} columns, in this order" in text
    assert f"without the `{target}` column" in text
    named = re.findall(r"`([^`]+)`", text[text.index("- `features` is"):].split("\n")[0])
    for column, _ in listed[:2] + listed[-1:]:
        assert column in named


@pytest.mark.parametrize("name", NAMES)
def test_an_array_made_as_the_contract_says_is_accepted_and_its_transpose_is_not(name):
    scaffold = load_scaffold(name)
    task = scaffold.manifest.task
    n, k = 7, len(task.classes)
    line = contract.returns_line(scaffold)
    if task.prediction == "proba":
        assert f"shape **(n, {k})**" in line and "summing to 1" in line
        good = np.full((n, k), 1.0 / k)
        bad = np.full(n, 0.5)
    elif task.prediction == "sequence":
        assert "shape **(n, L)**" in line and f"padding id {task.classes[0]}" in line
        good, bad = np.full((n, 3), task.classes[0]), np.full(n, task.classes[-1])
        good[:, 0] = task.classes[-1]
    elif task.prediction == "ranking":
        assert f"shape **(n, {RANKING_K})**" in line and "best first" in line
        good = np.tile(np.arange(RANKING_K), (n, 1))
        bad = good.T
    elif task.prediction == "label":
        assert "shape **(n,)**" in line and str(list(task.classes)) in line
        good, bad = np.full(n, task.classes[-1]), np.full((n, 2), 0.5)
    else:
        assert "shape **(n,)**" in line
        good, bad = np.zeros(n), np.zeros((n, 2))
    kw = {"n_rows": n, "prediction": task.prediction, "classes": task.classes}
    assert check_predictions(good, **kw) is None
    assert check_predictions(bad, **kw) is not None


def test_income_screen_says_predict_returns_an_n_by_2_probability_matrix():
    text = render_brief(load_scaffold("income_screen"))
    assert ("`predict` returns a float array of shape **(n, 2)**, n = `len(features)`: one row per row of "
            "`features`, in order; column j is P(`high_income` = j), j = 0 ... 1.") in text
    assert "A 1-D array of shape (n,) is rejected." in text


def test_a_numbered_run_of_columns_is_written_by_its_ends():
    text = render_brief(load_scaffold("digits_budget"))
    assert "these 64 columns, in this order, with these dtypes: `p0`, `p1`, ... `p63` (int64)." in text


DRIFT = [r"must return", r"columns minus", r"shape \(", r"\(n, ?\d\)", r"returns? (one|an?) "]


@pytest.mark.parametrize("name", NAMES + ["_template"])
def test_no_hand_written_brief_states_a_contract(name):
    """A scaffold's brief.md tells the story; the contract comes only from the generated block."""
    scaffold = load_scaffold(name) if name != "_template" else None
    path = (scaffold.root if scaffold else load_scaffold(NAMES[0]).root.parent / name) / "brief.md"
    text = path.read_text()
    for pattern in DRIFT:
        assert not re.search(pattern, text), (path, pattern)


@pytest.mark.parametrize("live", [False, True])
def test_every_brief_says_how_to_check_a_submission_before_spending_it(live):
    """The preflight command and its own limit (Feedback.max_preflights), practice and live."""
    for name in scaffold_names():
        scaffold = load_scaffold(name)
        text = render_brief(scaffold, live=live)
        command = "pitfalls-submit --preflight" if live else "pitfalls preflight --dir ."
        fb = scaffold.manifest.feedback
        assert f"{command}` trains your code in the same sandbox" in text, name
        assert f"(no score; {fb.max_preflights} per {fb.window_minutes:g} minutes)" in text, name

"""The pipeline's stages end an evaluation only through a Stop; scoring a predictions file needs no sandbox.

Nothing here trains a model or starts a sandbox.
"""

from __future__ import annotations

import numpy as np
import pytest

from pitfalls.core.results import Violation
from pitfalls.library.scaffold import load_scaffold
from pitfalls.scoring.pipeline import Evaluation, score_predictions
from pitfalls.scoring.verdicts import Stop


@pytest.fixture(scope="module")
def scaffold():
    return load_scaffold("income_screen")


def _evaluation() -> Evaluation:
    return Evaluation(status="failed", message="", params=12, timings={"train_seconds": 1.5}, log_tail="ok")


def test_ended_writes_the_verdict_and_keeps_the_measurements():
    v = Violation(constraint="max_params", limit=10, actual=12, message="At most 10.")
    ev = _evaluation().ended(Stop.reject(v))
    assert (ev.status, ev.message, ev.violations) == ("rejected", "At most 10.", [v])
    assert (ev.params, ev.timings, ev.log_tail) == (12, {"train_seconds": 1.5}, "ok")


def test_a_failure_replaces_earlier_violations():
    ev = _evaluation()
    ev.violations = [Violation(constraint="x", limit=1, actual=2, message="m")]  # e.g. not enforced budgets
    ev.ended(Stop.fail("It crashed."))
    assert (ev.status, ev.message, ev.violations) == ("failed", "It crashed.", [])


def test_missing_predictions_are_a_rejection_without_a_score(scaffold, tmp_path):
    ev = _evaluation()
    stop = score_predictions(scaffold=scaffold, out=tmp_path, ev=ev)
    assert stop is not None and stop.status == "rejected"
    assert stop.violations[0].constraint == "predictions"
    assert ev.status == "failed" and ev.score_public is None  # the stage only reports; the pipeline ends ev


def test_wrong_shape_is_a_rejection(scaffold, tmp_path):
    np.save(tmp_path / "predictions.npy", np.zeros((3, 2)))
    stop = score_predictions(scaffold=scaffold, out=tmp_path, ev=_evaluation())
    assert stop is not None and stop.status == "rejected" and len(stop.violations) == 1


def test_valid_predictions_are_scored_on_the_grid(scaffold, tmp_path):
    m = scaffold.manifest
    labels = scaffold.dataset().heldout[m.task.target].to_numpy()
    p1 = np.clip(0.4 * labels + np.random.default_rng(0).uniform(0, 0.6, len(labels)), 0, 1)
    np.save(tmp_path / "predictions.npy", np.c_[1 - p1, p1])
    ev = _evaluation()
    assert score_predictions(scaffold=scaffold, out=tmp_path, ev=ev) is None
    assert ev.status == "scored" and ev.violations == []
    assert ev.message.startswith(f"Scored: {m.task.metric} = ") and ev.message.endswith(" on the public slice.")
    assert 0.5 < ev.score_public <= 1 and ev.score_interval[0] <= ev.score_public <= ev.score_interval[1]
    assert str(ev.score_public) not in ev.message  # the exact score is never shown

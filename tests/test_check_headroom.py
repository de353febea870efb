"""budget_headroom (runner/checks/runs.py): a scaffold whose starter or reference trains in more than
half of train_seconds fails `pitfalls check`, so noise cannot reject an honest submission.

The broken scaffold is a copy of the template with a tight train_seconds and a reference that is
slow only for seeds other than 0: the real pipeline's run (seed 0) is fast, so the check must look
at the slowest seed, as a prepared author's "fast on the run that is timed" reference would not.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pitfalls.checks.context import CheckContext
from pitfalls.checks.runs import budget_headroom, headroom_failure
from pitfalls.checks.spec import CheckFailed
from pitfalls.library.scaffold import _dataset, _load

TEMPLATE = Path(__file__).resolve().parent.parent / "scaffolds" / "_template"
BUDGET, SLEEP = 12, 7  # the slow seeds train in about 7-9 s: over half of 12 s, well within it


def test_headroom_message_names_the_limit_the_time_and_the_budget_that_fits():
    """The issue's example: 81.7 s of 90 s asks for at least 164 s; exactly half passes."""
    assert headroom_failure("reference", 81.7, 90) == (
        "The reference's training must use at most half of train_seconds (45 s of 90 s) so an honest "
        "submission is not rejected by noise. Got 81.7 s instead. Raise [budgets] train_seconds to at "
        "least 164 or slim the starter/reference.")
    assert headroom_failure("starter", 45.0, 90) is None
    assert headroom_failure("starter", 45.1, 90) is not None


def _tight_copy(tmp_path: Path) -> Path:
    root = tmp_path / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _load.cache_clear()
    _dataset.cache_clear()
    toml, train = root / "scaffold.toml", root / "solution" / "train.py"
    assert toml.read_text().count("train_seconds = 60\n") == 1
    toml.write_text(toml.read_text().replace("train_seconds = 60\n", f"train_seconds = {BUDGET}\n"))
    assert train.read_text().count("    model.fit(X, y)\n") == 1
    train.write_text(train.read_text().replace(
        "    model.fit(X, y)\n", f"    model.fit(X, y)\n    __import__('time').sleep({SLEEP} if SEED else 0)\n"))
    return root


@pytest.mark.slow
def test_a_reference_slow_on_any_seed_fails_budget_headroom(tmp_path):
    """Seed 0 (the pipeline's run) is fast, seeds 1 and 2 (the batch runs) take over half the budget."""
    ctx = CheckContext(root=_tight_copy(tmp_path), seeds=3)
    try:
        assert ctx.reference().timings["train_seconds"] < BUDGET / 2  # the timed run alone would pass
        with pytest.raises(CheckFailed) as failed:
            budget_headroom(ctx)
    finally:
        ctx.close()
    assert re.match(rf"^The reference's training must use at most half of train_seconds \(6 s of {BUDGET} s\) "
                    r"so an honest submission is not rejected by noise\. Got \d+\.\d s instead\. Raise \[budgets\] "
                    r"train_seconds to at least \d+ or slim the starter/reference\.$", str(failed.value)), \
        str(failed.value)

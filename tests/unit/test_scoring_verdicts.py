"""The verdict on a finished sandbox run, and the one Stop value every pipeline stage returns.

No sandbox runs here: a RunResult is what the sandbox reports, built by hand.
"""

from __future__ import annotations

import pytest

from pitfalls.core.results import Violation
from pitfalls.sandbox.bwrap import RunResult
from pitfalls.scoring.verdicts import Stop, run_verdict

BUDGET = {"seconds": 30.0, "memory_mb": 512, "max_disk_mb": 64}


def _verdict(run: RunResult, job, phase: str = "training") -> Stop | None:
    return run_verdict(run, phase=phase, job=job, what="python train.py", **BUDGET)


def _violation(name: str, message: str) -> Violation:
    return Violation(constraint=name, limit=1, actual=2, message=message)


def test_a_clean_run_goes_on(tmp_path):
    assert _verdict(RunResult(returncode=0, wall_seconds=1.0), tmp_path) is None


def test_a_timeout_is_a_rejection_for_the_phase_budget(tmp_path):
    stop = _verdict(RunResult(returncode=-9, wall_seconds=30.4, timed_out=True), tmp_path, phase="prediction")
    assert stop.status == "rejected"
    assert [v.constraint for v in stop.violations] == ["predict_seconds"]
    assert stop.message == stop.violations[0].message
    assert stop.message.startswith("Prediction must finish within 30 s. Got stopped after 30.4 s instead.")


def test_the_memory_limit_wins_over_the_exit_code(tmp_path):
    stop = _verdict(RunResult(returncode=137, wall_seconds=2.0, memory_exceeded=True, peak_memory_mb=511.6),
                    tmp_path)
    assert stop.status == "rejected" and stop.violations[0].constraint == "memory_mb"
    assert stop.violations[0].actual == 512


def test_a_crash_fails_with_its_last_line_and_no_violation(tmp_path):
    run = RunResult(returncode=1, wall_seconds=0.5, log_tail="Traceback ...\nValueError: bad shape\n\n")
    stop = _verdict(run, tmp_path)
    assert stop == Stop.fail("python train.py must exit cleanly. Got exit code 1 instead; its last line was: "
                             "ValueError: bad shape  See log_tail for more.")
    assert stop.violations == ()


def test_printing_enospc_outside_a_bounded_folder_is_no_disk_verdict(tmp_path):
    """A candidate cannot turn its own crash into a budget verdict by printing the ENOSPC text:
    only a size-limited job folder can be "full"."""
    run = RunResult(returncode=1, wall_seconds=0.5, log_tail="OSError: [Errno 28] No space left on device")
    stop = _verdict(run, tmp_path)
    assert stop.status == "failed" and not stop.violations


def test_reject_joins_every_message_in_order():
    a, b = _violation("max_params", "Too many."), _violation("max_code_kb", "Too long.")
    stop = Stop.reject(a, b)
    assert (stop.status, stop.message, stop.violations) == ("rejected", "Too many. Too long.", (a, b))


def test_reject_needs_a_violation():
    with pytest.raises(ValueError, match="at least one violation"):
        Stop.reject()

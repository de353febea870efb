"""docker/pitfalls-submit says a late submission's message once (issue 15 item 5: it was printed as the
message and again as its violation's line); a violation with its own text still shows it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "pitfalls-submit"
LATE = ("Submissions must arrive before the session's time is up (10:30:00 UTC). Got this one after it "
        "instead. It is recorded, unscored and without a snapshot.")


def _client():
    loader = importlib.machinery.SourceFileLoader("pitfalls_submit_client", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_a_late_submissions_message_is_printed_once(capsys) -> None:
    _client().show_submission({"status": "rejected", "metric": "balanced_accuracy", "score": None, "message": LATE,
                               "violations": [{"constraint": "session_time", "limit": "30 min",
                                               "actual": "1.5 min late", "message": LATE}]})
    out = capsys.readouterr().out
    assert out.count("Submissions must arrive") == 1, out
    assert "session_time: limit 30 min, got 1.5 min late" in out


def test_a_violation_with_its_own_text_keeps_it(capsys) -> None:
    _client().show_submission({"status": "rejected", "score": None, "message": "Over a budget.",
                               "violations": [{"constraint": "max_params", "limit": 2000, "actual": 5000,
                                               "message": "The model must hold at most 2000 parameters."}]})
    out = capsys.readouterr().out
    assert "Over a budget." in out and "  - The model must hold at most 2000 parameters." in out

"""`pitfalls submit --final` end to end: two real submissions of tumor_triage's starter (seconds each,
no probes), the first made final; history marks it and never shows a private score; the reveal's
headline is that submission's private score and it lists both (runner/core/finals.py). The text
views are tested without training in tests/unit/test_cli_final.py."""

from __future__ import annotations

import json

from conftest import run_cli, submit_json


def test_submit_final_holds_over_a_later_submission_and_heads_the_reveal(workspace):
    ws = workspace("tumor_triage")
    first = submit_json(ws, "--note", "mine", "--no-probes", "--final")
    assert first["status"] == "scored" and first["final"] is True and "private_score" not in first
    text = run_cli("submit", "--dir", str(ws), "--no-probes", check=True).stdout
    assert f"`pitfalls final {first['submission_id'] + 1}` makes this one final" in text
    hist = run_cli("history", "--dir", str(ws), "--json", check=True).stdout
    assert "private" not in hist
    assert [(h["submission_id"], h["final"]) for h in json.loads(hist)] == [
        (first["submission_id"], True), (first["submission_id"] + 1, False)]
    rv = json.loads(run_cli("reveal", "--dir", str(ws), "--json", "--wait", "0", check=True).stdout)
    assert rv["final"]["submission_id"] == first["submission_id"] and rv["final"]["chosen"] is True
    assert isinstance(rv["final"]["private"], float) and "best" not in rv
    assert [(s["submission_id"], s["final"]) for s in rv["scores"]] == [
        (first["submission_id"], True), (first["submission_id"] + 1, False)]
    assert all(isinstance(s["private"], float) for s in rv["scores"])

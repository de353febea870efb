"""End to end through the real CLI: practice -> submit -> history -> hint -> reveal."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, submit_json
from pitfalls.library.scaffold import load_scaffold


def test_list_shows_every_scaffold_with_its_budgets():
    """Does `pitfalls list` show name, title, difficulty, framework, metric and budgets?"""
    rows = json.loads(run_cli("list", "--json", check=True).stdout)
    by_name = {r["name"]: r for r in rows}
    assert {"tumor_triage", "digits_budget"} <= set(by_name)
    assert by_name["digits_budget"]["framework"] == "torch"
    assert by_name["digits_budget"]["budgets"]["max_params"] == 20000
    text = run_cli("list", check=True).stdout
    assert "tumor_triage" in text and "balanced_accuracy" in text


def test_bug_and_quirk_catalogs_list_every_planted_kind():
    """Do `pitfalls bugs` / `pitfalls quirks` list each kind, and its scaffolds only when asked?"""
    bugs = json.loads(run_cli("bugs", "--planted", "--json", check=True).stdout)
    quirks = json.loads(run_cli("quirks", "--planted", "--json", check=True).stdout)
    for name in ("tumor_triage", "digits_budget"):
        manifest = load_scaffold(name).manifest
        assert all(name in bugs[b]["scaffolds"] for b in manifest.bugs)
        assert all(name in quirks[q]["scaffolds"] for q in manifest.quirks)
    assert bugs["softmax_before_loss"]["ref"] == "P05" and bugs["softmax_before_loss"]["symptom"]
    plain = run_cli("bugs", check=True).stdout
    assert "missing_zero_grad" in plain and "tumor_triage" not in plain  # no spoilers by default


def test_practice_creates_a_workspace_without_secrets(tmp_path):
    """Does the workspace hold starter code, training data, notebook and brief, and nothing secret?"""
    ws = tmp_path / "ws"
    out = json.loads(run_cli("practice", "tumor_triage", "--dir", str(ws), "--no-jupyter", "--json",
                             check=True).stdout)
    assert out["resumed"] is False
    names = {p.relative_to(ws).as_posix() for p in ws.rglob("*") if p.is_file()}
    assert {"train.py", "model.py", "data/train.csv", "eda.ipynb", "BRIEF.md"} <= names
    assert not any("solution" in n or "GUIDE" in n or "probes" in n or "mutants" in n for n in names)
    brief = (ws / "BRIEF.md").read_text()
    assert "balanced_accuracy" in brief and "2,000" in brief and "pitfalls submit" in brief
    import pandas as pd

    heldout = load_scaffold("tumor_triage").dataset().heldout
    train = pd.read_csv(ws / "data" / "train.csv")
    assert len(train) == len(load_scaffold("tumor_triage").dataset().train)
    key = ["mean_radius", "mean_perimeter", "worst_area"]  # never missing, 4 significant digits
    assert not set(map(tuple, train[key].to_numpy())) & set(map(tuple, heldout[key].to_numpy()))
    again = json.loads(run_cli("practice", "tumor_triage", "--dir", str(ws), "--no-jupyter", "--json",
                               check=True).stdout)
    assert again["resumed"] is True and again["session_id"] == out["session_id"]


@pytest.mark.parametrize("name", ["tumor_triage", "digits_budget"])
def test_starter_low_reference_high_and_probes_flip(name, workspace):
    """Starter scores low (or is over budget), the reference scores high, and every bug's probe
    says "present" on the starter and "fixed" on the reference."""
    from pitfalls.service import api

    scaffold = load_scaffold(name)
    ws = workspace(name)
    starter = api.submit(directory=ws, note="starter")
    if name == "digits_budget":
        assert starter.status == "rejected"
        assert [v.constraint for v in starter.violations] == ["max_params"]
    else:
        assert starter.status == "scored" and abs(starter.normalized) < 0.05
    assert {p.bug_id: p.status for p in starter.probes} == {b: "present" for b in scaffold.manifest.bugs}

    from pitfalls.library.variants import materialize

    materialize(scaffold=scaffold, target=ws, reference=True)
    ref = submit_json(ws, "--note", "all fixed", "--wait-probes")  # verdicts recorded before it returns
    assert ref["status"] == "scored", ref["message"]
    assert ref["normalized"] > 0.9
    assert "probes" not in ref and "private_score" not in ref  # the candidate's view
    full = api.history(directory=ws)[-1]
    assert {p.bug_id: p.status for p in full.probes} == {b: "fixed" for b in scaffold.manifest.bugs}
    assert full.private_score is not None


def test_history_hint_and_reveal(workspace):
    """Do history, the hint ladder and the reveal work through the CLI, text and JSON?"""
    ws = workspace("tumor_triage")
    first = submit_json(ws, "--note", "baseline", "--no-probes")
    assert first["status"] == "scored"
    (ws / "notes.md").write_text("my notes")
    hist = json.loads(run_cli("history", "--dir", str(ws), "--json", check=True).stdout)
    assert [h["note"] for h in hist] == ["baseline"]
    assert set(hist[0]) >= {"created_at", "score", "normalized", "note", "status"}
    text = run_cli("history", "--dir", str(ws), check=True).stdout
    assert "baseline" in text and "balanced_accuracy: higher is better" in text

    ladder = load_scaffold("tumor_triage").manifest.hints
    hints = [json.loads(run_cli("hint", "--dir", str(ws), "--json", check=True).stdout) for _ in ladder]
    assert [h["text"] for h in hints] == list(ladder)
    assert [h["level"] for h in hints] == list(range(1, len(ladder) + 1))
    assert "No more hints" in run_cli("hint", "--dir", str(ws), check=True).stdout

    rv = json.loads(run_cli("reveal", "--dir", str(ws), "--json", check=True).stdout)
    assert [b["id"] for b in rv["bugs"]] == list(load_scaffold("tumor_triage").manifest.bugs)
    assert all(b["status"] == "present" for b in rv["bugs"])
    assert {q["id"] for q in rv["quirks"]} == {"class_imbalance", "target_leakage", "missing_values"}
    assert rv["quirks"][0]["planted"]["kept"] == 30
    assert "+++ reference/model.py" in rv["diff"] and "referral_code" in rv["diff"]
    shown = run_cli("reveal", "--dir", str(ws), check=True).stdout
    assert "[MISSED]" in shown and "GUIDE" not in shown  # found/missed per bug; no interviewer file named


def test_commands_outside_a_workspace_fail_clearly(tmp_path):
    """Does submit on a plain folder say what it expected and how to fix it?"""
    proc = run_cli("submit", "--dir", str(tmp_path))
    assert proc.returncode == 1
    assert "must be a pitfalls workspace" in proc.stderr and "pitfalls practice" in proc.stderr

"""What a candidate reads at the end (`pitfalls reveal`) and along the way (`pitfalls history`): no
interviewer file or internal id, found/missed for bugs and quirks, evidence worded as fixed / still
present; every submission listed with its exact public value, whole note, direction and a chart
that separates close scores."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest

from pitfalls.cli import history_view, render
from pitfalls.core.results import ProbeResult, SubmissionResult
from pitfalls.library.catalogs import bug_entry, quirk_entry
from pitfalls.library.scaffold import load_scaffold, scaffold_names
from pitfalls.service import api


def _reveal(name: str, status: str) -> api.Reveal:
    scaffold = load_scaffold(name)
    found = {b: ProbeResult(bug_id=b, status=status, evidence="0.0% of predictions change when amounts are "
                            "written '2,174'") for b in scaffold.manifest.bugs}
    bugs, quirks = api.planted_entries(scaffold, found)
    return api.Reveal(scaffold=name, title=scaffold.manifest.title, bugs=bugs, quirks=quirks, diff="",
                      submissions=[{"submission_id": 1, "note": "", "probe_status": "done", "tampering": False,
                                    "verdicts": {b: status for b in scaffold.manifest.bugs}}])


@pytest.mark.parametrize("name", scaffold_names())
@pytest.mark.parametrize("status", ["fixed", "present", "unknown"])
def test_reveal_names_no_interviewer_file_and_no_internal_id(name, status):
    """Adversarial: every reference id of the scaffold's bugs and quirks, the guide's path and name."""
    scaffold = load_scaffold(name)
    rv = _reveal(name, status)
    outputs = [render.reveal(rv), json.dumps(asdict(rv))]  # the text and `reveal --json`
    refs = [bug_entry(b)["ref"] for b in scaffold.manifest.bugs] + [quirk_entry(q)["ref"]
                                                                    for q in scaffold.manifest.quirks]
    ids = {i for ref in refs for i in re.findall(r"\b[A-Z]{1,2} ?\d+(?:\.\d+)?\b", ref)}
    assert ids, refs  # the check below can fail: each scaffold has reference ids to leak
    for text in outputs:
        assert str(scaffold.guide_file) not in text and "GUIDE" not in text.upper().replace("GUIDED", "")
        for ref in refs:
            assert ref not in text
        for i in ids:
            assert not re.search(rf"\b{re.escape(i)}\b", text), (i, text[:300])


def test_reveal_words_evidence_as_fixed_or_still_present_and_marks_found_or_missed():
    fixed = render.reveal(_reveal("income_screen", "fixed"))
    assert "  [found] Numbers with thousands separators coerced to missing\n" in fixed
    assert "      fixed: 0.0% of predictions change when amounts are written '2,174'" in fixed
    assert "#1: 5 of 5 bugs fixed" in fixed
    present = render.reveal(_reveal("income_screen", "present"))
    assert "  [MISSED] Numbers with thousands separators coerced to missing\n" in present
    assert "      still present: 0.0% of predictions" in present
    assert "#1: 0 of 5 bugs fixed; still present: Categories fed to a linear model" in present


def test_quirks_get_found_missed_or_not_checked_from_their_linked_bugs():
    fixed = render.reveal(_reveal("income_screen", "fixed"))
    assert "  [found] Numbers stored as text" in fixed  # mixed_types, linked to numbers_coerced_to_nan
    assert "  [not checked] Sentinel codes for missing numbers" in fixed  # no linked bug
    present = render.reveal(_reveal("income_screen", "present"))
    assert "  [MISSED] Numbers stored as text" in present
    assert "  [not checked] Sentinel codes for missing numbers" in present
    assert api.quirk_status(["fixed", "present"]) == "missed"
    assert api.quirk_status(["fixed", "unknown"]) == "unknown"
    assert api.quirk_status([]) == "unchecked"


def _result(i: int, score: float | None, iv: list[float] | None = None, status: str = "scored",
            note: str = "", metric: str = "roc_auc", decimals: int | None = 4) -> SubmissionResult:
    return SubmissionResult(submission_id=i, status=status, metric=metric, score=score, normalized=None,
                            message="", note=note, score_interval=iv, decimals=decimals if score is not None else None)


def test_history_lists_every_submission_with_exact_values_whole_notes_and_direction():
    note = "switched to gradient boosting with the categories one-hot encoded inside the pipeline"
    rs = [_result(1, 0.9164, [0.893, 0.937], note=note), _result(2, None, status="rejected", note="too big"),
          _result(3, 0.9218, [0.9001, 0.9432]), _result(4, 0.9200, [0.9, 0.94])]
    text = render.history(rs)
    assert note in text and "too big" in text
    assert "0.9164" in text and "0.9218" in text and "0.9200" in text and "0.8930 to 0.9370" in text
    assert re.search(r"^2 .*REJECTED", text, re.M)
    assert "   #2         (rejected, no score)" in text  # in the chart too, not dropped
    assert "roc_auc: higher is better." in text and "better ->" in text
    assert "two scores whose 95% intervals overlap may not differ" in text
    assert "rmse: lower is better." in render.history([_result(1, 54.3, metric="rmse", decimals=1)])


def test_the_chart_separates_close_scores_on_the_submissions_own_range():
    rs = [_result(1, 0.9164, [0.9150, 0.9180]), _result(2, 0.9218, [0.9200, 0.9230])]
    rows = {line.split()[0]: line for line in history_view.chart(rs).splitlines() if line.strip().startswith("#")}
    star = {k: v.index("*") - v.index("|") for k, v in rows.items()}
    assert star["#2"] - star["#1"] > history_view.WIDTH * 0.6, star  # far apart, not one cell
    assert rows["#1"].count("[") == 1 and rows["#2"].count("]") == 1


def test_public_values_keep_the_grid_s_digits_and_add_none():
    assert render.fmt_public(0.9, 3) == "0.900" and render.fmt_public(54.3, 1) == "54.3"
    r = _result(1, 0.9, [0.88, 0.92], decimals=3)
    assert "roc_auc (public slice): 0.900 (95% interval 0.880 to 0.920)" in render.submission(r)


def test_history_writes_a_png_beside_the_text(tmp_path):
    pytest.importorskip("matplotlib")
    out = history_view.write_png([_result(1, 0.91, [0.9, 0.92]), _result(2, None, status="failed")],
                                 tmp_path / "history.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _submit_client():
    import importlib.machinery
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docker" / "pitfalls-submit"
    loader = importlib.machinery.SourceFileLoader("pitfalls_submit_client", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def test_live_pitfalls_submit_shows_the_interval_on_the_score_s_grid(capsys):
    """The container's client prints what the server sends (the candidate view) with the grid's decimals:
    neither the old 4 fixed decimals nor more digits than the grid."""
    client = _submit_client()
    view = _result(7, 0.9, [0.88, 0.93], decimals=3).candidate_view()
    client.show_submission({**view, "status": "scored"})
    out = capsys.readouterr().out
    assert "roc_auc: 0.900 (95% interval 0.880 to 0.930)  (public slice of the held-out set)" in out
    assert "two scores whose intervals overlap may not differ" in out
    client.show_submission({**_result(8, 54.3, [50.1, 58.7], metric="rmse", decimals=1).candidate_view()})
    assert "rmse: 54.3 (95% interval 50.1 to 58.7)" in capsys.readouterr().out

"""The final submission through the real CLI on the real store (pitfalls final, history, submit's
lines): submission rows are written as the pipeline writes them, so nothing trains here. The
candidate's outputs must never carry a private score (tests/test_cli_e2e.py scores for real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pitfalls.cli import final_view, render
from pitfalls.cli.main import cli
from pitfalls.core.store import Store
from pitfalls.service import api, finals

PRIVATE = (0.7312345, 0.6512345, 0.8812345)
"""Private scores no candidate output may show (digits no public score or interval has)."""


def _rows(directory: Path) -> list[int]:
    """Submissions scored, rejected, scored, failed, scored, with the private scores of :data:`PRIVATE`."""
    store = Store()
    sid = json.loads((directory / ".pitfalls.json").read_text())["session_id"]
    ids, private = [], iter(PRIVATE)
    for status in ("scored", "rejected", "scored", "failed", "scored"):
        sub = store.insert_submission(session_id=sid, note=f"try {len(ids) + 1}", metric="balanced_accuracy",
                                      snapshot="s", snapshot_sha256="h")
        scores = dict(score_public=0.9, score_public_exact=0.90123, score_interval=[0.85, 0.95], norm_public=0.5,
                      score_private=next(private), norm_private=0.612345) if status == "scored" else {}
        store.finish_submission(sub, status=status, message=status, **scores)
        ids.append(sub)
    return ids


@pytest.fixture
def ws(tmp_path) -> tuple[Path, list[int]]:
    directory = tmp_path / "ws"
    api.start_practice(name="tumor_triage", directory=directory)
    return directory, _rows(directory)


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=code != 0)
    assert result.exit_code == code, result.output
    return result.output


def _final(directory: Path) -> int | None:
    return next((r.submission_id for r in api.history(directory=directory) if r.final), None)


def _no_private(text: str) -> None:
    assert "private" not in text and "0.612345" not in text
    assert not any(f"{p}"[:6] in text for p in PRIVATE), text


def test_history_marks_the_last_scored_by_default_and_shows_no_private_score(ws):
    directory, ids = ws
    out = _run("history", "--dir", str(directory), "--json")
    _no_private(out)
    entries = json.loads(out)
    assert [e["final"] for e in entries] == [False, False, False, False, True]
    text = _run("history", "--dir", str(directory))
    _no_private(text)
    assert f"Final submission: #{ids[4]}, the last scored one (the default)." in text


def test_final_n_marks_a_scored_submission_and_it_holds(ws):
    directory, ids = ws
    out = _run("final", str(ids[2]), "--dir", str(directory), "--json")
    _no_private(out)
    assert json.loads(out)["final"]["submission_id"] == ids[2] and json.loads(out)["final"]["chosen"]
    assert "is now your final submission" in _run("final", str(ids[2]), "--dir", str(directory))
    entries = json.loads(_run("history", "--dir", str(directory), "--json"))
    assert [e["submission_id"] for e in entries if e["final"]] == [ids[2]]
    assert f"Final submission: #{ids[2]}, your choice." in _run("history", "--dir", str(directory))
    assert _final(directory) == ids[2]


def test_final_of_a_rejected_or_unknown_submission_is_one_clear_error(ws, monkeypatch, capsys):
    """Exit code 1 and one `error:` line naming the scored submissions; the final one is unchanged."""
    import sys

    from pitfalls.cli.main import main

    directory, ids = ws
    for pick, why in ((ids[1], "it was rejected"), (ids[3], "it failed"), (999, "no submission of this workspace")):
        monkeypatch.setattr(sys, "argv", ["pitfalls", "final", str(pick), "--dir", str(directory)])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err
        assert exit_info.value.code == 1 and "Traceback" not in err
        assert err.startswith(f"error: The final submission must be one of the scored submissions {ids[0]}, {ids[2]}, "
                              f"{ids[4]}. Got {pick} instead ({why}") and "`pitfalls history` lists them." in err
    assert _final(directory) == ids[4]
    assert "Usage" in _run("final", "two", "--dir", str(directory), code=2)  # not a number: click says so


def test_another_workspace_cannot_choose_this_ones_submission(ws, tmp_path):
    directory, ids = ws
    other = tmp_path / "other"
    api.start_practice(name="tumor_triage", directory=other)
    _run("final", str(ids[0]), "--dir", str(other), code=1)
    assert _final(other) is None and _final(directory) == ids[4]


def test_submit_lines_say_whether_the_new_submission_is_final(ws):
    """What `pitfalls submit` prints under a score: final or not (and how to make it final)."""
    directory, ids = ws
    results = api.history(directory=directory)
    assert "final: yes" in render.submission(results[4])
    _run("final", str(ids[0]), "--dir", str(directory))
    results = api.history(directory=directory)
    assert f"`pitfalls final {ids[4]}` makes this one final" in render.submission(results[4])
    assert final_view.submission_lines(results[1]) == []  # a rejected one says nothing about it
    for r in results:
        _no_private(render.submission(r))
        _no_private(json.dumps(r.candidate_view()))


def test_the_reveal_headline_is_the_final_submission_with_every_private_score(ws):
    """The reveal's lines (after the end of practice): the final submission's private score, not the
    best public one's, and every scored submission's private score with the final one marked."""
    directory, ids = ws
    _run("final", str(ids[2]), "--dir", str(directory))
    store = Store()
    sid = json.loads((directory / ".pitfalls.json").read_text())["session_id"]
    rows = store.submissions(sid)
    final = finals.final_submission(store, sid, rows)
    scaffold = api.load_scaffold("tumor_triage")
    rv = api.Reveal(scaffold="tumor_triage", title="t", bugs=[], quirks=[], diff="",
                    final=finals.headline(rows, final, scaffold), scores=finals.scores_view(rows, final, scaffold))
    text = "\n".join(final_view.reveal_lines(rv))
    # public scores on the grid's decimals, as the candidate saw them (0.900, not 0.9)
    assert f"Final submission #{ids[2]} (chosen by the candidate): public 0.900, private 0.6512" in text
    assert f"* #{ids[2]}: public 0.900, private 0.6512" in text and f"  #{ids[0]}: public 0.900, private 0.7312" in text
    assert f"#{ids[4]}: public 0.900, private 0.8812" in text and text.count("<- final") == 1
    assert [s["submission_id"] for s in rv.scores] == [ids[0], ids[2], ids[4]]

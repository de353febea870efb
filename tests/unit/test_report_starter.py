"""The report's diffs (final and first submission's) start from the starter that session actually got:
the practice or live wording of BRIEF.md and eda.ipynb, and the session's variant (renamed columns,
constants, the planted bug of its pool), so an untouched workspace shows no change at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.library.brief import render_brief
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variant import variant_scaffold
from pitfalls.library.workspace import create_workspace, snapshot_workspace
from pitfalls.live import report
from pitfalls.service import api

BASE = "tumor_triage"
VARIANT = "v2"
UNCHANGED = '<p class="muted">No change against the starter.</p>'


def _practice(tmp_path: Path) -> tuple[str, Path]:
    ws = tmp_path / "practice"
    sid = api.start_practice(name=BASE, directory=ws, variant=VARIANT)["session_id"]
    return sid, ws


def _live(tmp_path: Path) -> tuple[str, Path]:
    """A live session's record and workspace as runner/live/sessions.py makes them (no container)."""
    base = load_scaffold(BASE)
    store, ws = Store(), tmp_path / "live"
    sid = store.create_session(scaffold=f"{BASE}@{VARIANT}", workspace=ws, mode="live", candidate="ada",
                               scaffold_source=str(base.root))
    create_workspace(scaffold=variant_scaffold(base, VARIANT), directory=ws, session_id=sid, live=True)
    return sid, ws


def _submit_as_is(sid: str, ws: Path) -> None:
    store = Store()
    snap, digest = snapshot_workspace(directory=ws, session_id=sid)
    sub = store.insert_submission(session_id=sid, note="as given", metric="roc_auc", snapshot=str(snap),
                                  snapshot_sha256=digest)
    store.finish_submission(sub, status="scored", score_public=0.5, score_private=0.5)


@pytest.mark.parametrize("make", [_practice, _live], ids=["practice", "live"])
def test_an_untouched_workspace_shows_no_change_against_its_own_starter(tmp_path, make):
    sid, ws = make(tmp_path)
    variant = variant_scaffold(load_scaffold(BASE), VARIANT)
    # the test can fail: the base starter, or the other mode's wording, differs from this workspace
    assert report.starter_diff(scaffold=load_scaffold(BASE), workspace=ws)
    assert (ws / "BRIEF.md").read_text() != render_brief(variant, live=make is _practice)
    _submit_as_is(sid, ws)
    html = report.render_report(session_id=sid)
    assert UNCHANGED in html, html[html.find("Final diff"):][:2000]
    assert "No change since starter." in html  # the first submission's diff starts from the same starter


def test_a_change_shows_against_the_practice_starter_and_nothing_else(tmp_path):
    sid, ws = _practice(tmp_path)
    (ws / "model.py").write_text((ws / "model.py").read_text() + "# tuned by the candidate\n")
    html = report.render_report(session_id=sid)
    final = html[html.find("Final diff against the starter"):]
    assert "+# tuned by the candidate" in final and "final/model.py" in final
    assert "BRIEF.md" not in final and "eda.ipynb" not in final

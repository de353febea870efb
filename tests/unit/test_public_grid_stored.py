"""A public score is shown on the grid it was scored on (runner/library/metrics.py, public_decimals),
everywhere and for good: the grid is stored with the submission when it is scored, so the history,
the reveal's final view and the interviewer's report show ``1.000`` (not ``1``) and keep a row's
decimals after this installation's anchors change; rows scored before the grid was stored use today's.

The anchors are written into this test's own state folder (never measured), as a submission finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitfalls.cli import final_view, history_view
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.live import report
from pitfalls.scoring import anchor_cache
from pitfalls.scoring.anchor_cache import Anchors, anchors_path, write_anchors
from pitfalls.service import api, finals
from pitfalls.service.views import public_view, result_from_row


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder of this test's own (its anchors are not the run's shared cache)."""
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(anchor_cache, "_memo", {})
    return tmp_path / "home"


def _anchors(name: str, *, baseline: float, reference: float) -> None:
    """This installation's anchors of ``name`` are now these (as a new measurement leaves them)."""
    path = anchors_path(load_scaffold(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_anchors(path, Anchors(baseline_public=baseline, baseline_private=baseline, reference_public=reference,
                                reference_private=reference, rows_public=100, rows_private=300))
    anchor_cache._memo.clear()


def _scored(name: str, tmp_path: Path, score: float, interval: tuple[float, float], *, stored: bool = True) -> tuple[str, int]:
    """A practice session with one submission scored as api.submit records it (``stored``: with its
    grid; False: a row from before the grid was stored)."""
    store, scaffold = Store(), load_scaffold(name)
    (tmp_path / "ws").mkdir(exist_ok=True)
    sid = store.create_session(scaffold=name, workspace=tmp_path / "ws", mode="practice")
    sub = store.insert_submission(session_id=sid, note="n", metric=scaffold.manifest.task.metric, snapshot="",
                                  snapshot_sha256="")
    shown = public_view(scaffold, score, interval)
    if not stored:
        shown.pop("public_decimals", None)
    store.finish_submission(sub, status="scored", **shown, score_private=score, norm_private=0.9)
    return sid, sub


def _reveal_lines(name: str, sid: str) -> str:
    store, scaffold = Store(), load_scaffold(name)
    rows = store.submissions(sid)
    final = finals.final_submission(store, sid, rows)
    rv = api.Reveal(scaffold=name, title="t", bugs=[], quirks=[], diff="",
                    final=finals.headline(rows, final, scaffold), scores=finals.scores_view(rows, final, scaffold))
    return "\n".join(final_view.reveal_lines(rv))


def test_the_final_view_keeps_the_grid_s_decimals(home, tmp_path):
    _anchors("tumor_triage", baseline=0.5, reference=0.947)  # a 0.001 grid
    sid, sub = _scored("tumor_triage", tmp_path, 1.0, (0.998, 1.0))
    text = _reveal_lines("tumor_triage", sid)
    assert f"Final submission #{sub} (the last scored (default)): public 1.000, private" in text, text
    assert f"* #{sub}: public 1.000, private 1.0000" in text, text


def test_the_report_and_history_keep_the_grid_a_row_was_scored_on_after_the_anchors_change(home, tmp_path):
    _anchors("bike_demand", baseline=80.0, reference=45.2)  # RMSE: a 0.1 grid
    sid, sub = _scored("bike_demand", tmp_path, 41.04, (38.96, 43.01))
    _, old = _scored("bike_demand", tmp_path, 41.04, (38.96, 43.01), stored=False)
    assert Store().submission(sub)["public_decimals"] == 1 and Store().submission(old)["public_decimals"] is None
    _anchors("bike_demand", baseline=20.0, reference=8.6)  # measured again later: a 0.01 grid
    html = report.render_report(session_id=sid)
    assert "public 41.0 (95% interval 39.0 to 43.0)" in html, html[html.find("Timeline"):][:1500]
    assert "public 41.00" not in html
    shown = result_from_row(Store().submission(sub), load_scaffold("bike_demand"))
    assert shown.decimals == 1 and " 41.0 " in history_view.history_text([shown])
    assert f"#{sub}: public 41.0, private" in _reveal_lines("bike_demand", sid)
    # a row scored before the grid was stored: today's grid is all there is
    assert result_from_row(Store().submission(old), load_scaffold("bike_demand")).decimals == 2

"""The interviewer's seat through a real session server (``python -m pitfalls.live.server``, no
container): each submission's own validation score and its diff against the previous one, the hint
ladder with "give hint N", the rubric, the file view's highlighting and the candidate's presence.
Hints, ratings and diffs are interviewer-only: the candidate's token, the candidate's port and
``session.sock`` are refused, and the candidate's status never shows a hint not given, the ladder or
the rubric. Submissions are stored through the real store with real snapshots (nothing trains)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import snapshot_workspace
from pitfalls.live import containers, sessions, timer
from pitfalls.live.process import spawn_server, stop_server, wait_for_server
from pitfalls.live.server.application import SESSION_SOCKET
from test_session_clock import _req  # one JSON request helper for the session-server tests


@pytest.fixture
def served(pitfalls_home: Path) -> Iterator[sessions.LiveSession]:
    """A live session (tumor_triage) served for real, with two stored submissions: the starter, then
    a train.py that prints a hostile line and a changed validation score."""
    live = sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    _submit(live, "training rows: 214, malignant: 30\nvalidation balanced accuracy: 0.916\n")
    train = live.workspace / "train.py"
    train.write_text(train.read_text().replace("def main():", "def main():\n    print('<img src=x onerror=alert(1)>')", 1))
    _submit(live, "validation balanced accuracy: 0.5\nvalidation balanced accuracy: 0.701\n"
                  "\n--- predict ---\nvalidation balanced accuracy: 0.999\n")
    proc = spawn_server(live)
    wait_for_server(live, proc)
    timer.mark_up(Store(), live.session_id)
    try:
        yield sessions.load_session(live.session_id)
    finally:
        stop_server(sessions.load_session(live.session_id))


def _submit(live: sessions.LiveSession, log: str) -> int:
    store = Store()
    path, digest = snapshot_workspace(directory=live.workspace, session_id=live.session_id)
    sid = store.insert_submission(session_id=live.session_id, note="", metric="balanced_accuracy",
                                  snapshot=str(path), snapshot_sha256=digest)
    store.finish_submission(sid, status="scored", score_public=0.6, score_private=0.55, log_tail=log)
    return sid


def _url(live: sessions.LiveSession, path: str, port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or live.interviewer_port}/pitfalls/api/{path}"


def _state_shows_each_submission_s_own_validation_score_and_the_diff(served):
    live = served
    code, state = _req(_url(live, "state"), live.interviewer_token)
    assert code == 200, state
    first, second = (s["id"] for s in state["submissions"])
    assert state["validation"][str(first)] == {"value": 0.916, "line": "validation balanced accuracy: 0.916"}
    assert state["validation"][str(second)]["value"] == 0.701  # the last line of training, not predict's
    code, diff = _req(_url(live, f"diff/{second}"), live.interviewer_token)
    assert code == 200 and diff["since"] == f"#{first}", diff
    assert "+    print('<img src=x onerror=alert(1)>')" in diff["lines"] and diff["added"] == 1
    assert diff["removed"] == 0 and diff["left"] == 0
    code, diff = _req(_url(live, f"diff/{first}"), live.interviewer_token)
    assert code == 200 and diff["since"] == "the starter"
    assert _req(_url(live, "diff/999999"), live.interviewer_token)[0] == 404


def _the_interviewer_gives_a_hint_and_the_candidate_sees_only_that_one(served):
    live = served
    ladder = load_scaffold("tumor_triage").manifest.hints
    code, given = _req(_url(live, "hint"), live.interviewer_token, {"level": 2})
    assert code == 200 and given["level"] == 2 and given["text"] == ladder[1] and given["by"] == "interviewer"
    assert _req(_url(live, "hint"), live.interviewer_token, {"level": 2})[0] == 409  # not twice
    for bad in ({"level": 0}, {"level": len(ladder) + 1}, {"level": "1"}, {"level": True}, {}):
        code, answer = _req(_url(live, "hint"), live.interviewer_token, bad)
        assert code == 400 and answer["message"].startswith("The hint level must be"), (bad, answer)
    code, state = _req(_url(live, "state"), live.interviewer_token)
    assert [h["given_at"] is not None for h in state["hints"]] == [n == 2 for n in range(1, len(ladder) + 1)]
    assert [e["data"] for e in Store().events(live.session_id, "hint_given")] == [
        {"level": 2, "text": ladder[1], "by": "interviewer"}]
    code, status = _req(_url(live, "status"), live.candidate_token)
    assert code == 200 and [h["text"] for h in status["hints_given"]] == [ladder[1]]
    raw = json.dumps(status)
    assert all(text not in raw for n, text in enumerate(ladder) if n != 1)
    assert "rubric" not in raw and "criterion" not in raw


def _the_interviewer_rates_the_rubric(served):
    live = served
    rubric = load_scaffold("tumor_triage").manifest.rubric
    code, rated = _req(_url(live, "rubric"), live.interviewer_token,
                       {"criterion": rubric[0].criterion, "rating": 3, "note": "found the leak <b>fast</b>"})
    assert code == 200 and rated["level"] == rubric[0].levels[2]
    for bad in ({"criterion": "nope", "rating": 1}, {"criterion": rubric[0].criterion, "rating": 9},
                {"criterion": rubric[0].criterion, "rating": 2.5}, {"criterion": rubric[0].criterion, "rating": 1,
                                                                    "note": "x" * 5000}):
        assert _req(_url(live, "rubric"), live.interviewer_token, bad)[0] == 400, bad
    code, state = _req(_url(live, "state"), live.interviewer_token)
    shown = {c["criterion"]: c for c in state["rubric"]}
    assert shown[rubric[0].criterion]["rating"] == 3 and shown[rubric[0].criterion]["note"] == "found the leak <b>fast</b>"
    assert shown[rubric[1].criterion]["rating"] is None
    events = Store().events(live.session_id, "rubric_rated")
    assert [(e["data"]["criterion"], e["data"]["rating"], e["data"]["note"]) for e in events] == [
        (rubric[0].criterion, 3, "found the leak <b>fast</b>")]


def _the_candidate_cannot_give_hints_rate_or_read_diffs(served):
    """Attack: the candidate's token on the interviewer's port, the candidate's own port (the proxy
    to its absent JupyterLab), and ``session.sock`` from inside the container."""
    live = served
    before = [e["id"] for e in Store().events(live.session_id)]
    attempts = [("hint", {"level": 1}), ("rubric", {"criterion": "bugs", "rating": 4}), ("diff/1", None),
                ("state", None)]
    for path, body in attempts:
        code, answer = _req(_url(live, path), live.candidate_token, body)
        assert code == 403 and "Got the candidate's token instead" in answer["message"], (path, answer)
        assert _req(_url(live, path), None, body)[0] == 403
        for prefix in ("/pitfalls/api/", "/candidate/../pitfalls/api/", "/candidate/pitfalls/api/"):
            code, _ = _req(f"http://127.0.0.1:{live.port}{prefix}{path}", live.candidate_token, body)
            assert code in (403, 404, 502), (prefix, path, code)  # 502: the proxy to the (absent) container's lab
        for sock_path in (f"/{path}", f"/pitfalls/api/{path}"):
            code, _ = containers.unix_http(socket_path=live.run_dir / SESSION_SOCKET, method="POST" if body else "GET",
                                           path=sock_path, body=body)
            assert code in (404, 405), sock_path
    assert [e["id"] for e in Store().events(live.session_id)] == before


def _the_file_view_is_highlighted_as_data_and_presence_is_shown(served):
    live = served
    code, view = _req(_url(live, "files/train.py"), live.interviewer_token)
    assert code == 200 and view["tokens"], view
    assert "".join(piece for _, piece in view["tokens"]) == view["content"]
    assert ["s", "'<img src=x onerror=alert(1)>'"] in view["tokens"]  # a string token, shown as text
    code, state = _req(_url(live, "state"), live.interviewer_token)
    presence = state["presence"]
    assert presence["last_edit"]["path"] in {f["path"] for f in _req(_url(live, "files"), live.interviewer_token)[1]["files"]}
    assert presence["connected"] is False and presence["last_seen"] is None  # nobody opened the lab yet
    _req(f"http://127.0.0.1:{live.port}/candidate/lab", None)  # the candidate's port answers (502: no container)
    code, state = _req(_url(live, "state"), live.interviewer_token)
    assert state["presence"]["connected"] is False  # an error from the absent lab is no presence


def test_reasoning_on_the_dashboard(served):
    """One server (each costs seconds): validation scores, diffs, highlighting, presence."""
    _state_shows_each_submission_s_own_validation_score_and_the_diff(served)
    _the_file_view_is_highlighted_as_data_and_presence_is_shown(served)


def test_hints_and_rubric_on_the_record_and_interviewer_only(served):
    """One server: the attacks first (nothing stored), then a hint given and a rating."""
    _the_candidate_cannot_give_hints_rate_or_read_diffs(served)
    _the_interviewer_gives_a_hint_and_the_candidate_sees_only_that_one(served)
    _the_interviewer_rates_the_rubric(served)

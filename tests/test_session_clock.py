"""The live session's clock through a real session server (``python -m pitfalls.live.server``, no
container): the interviewer extends and pauses it over the API; the candidate's token, port and
``session.sock`` cannot; the clock survives a SIGKILL of the server because it is stored events.
Also: resuming keeps the stored length unless a duration is given, and the image build's progress."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitfalls.core.clock import CLOCK_KINDS, session_clock
from pitfalls.core.store import Store
from pitfalls.live import containers, sessions, timer
from pitfalls.live.process import spawn_server, stop_server, wait_for_server
from pitfalls.live.server.application import SESSION_SOCKET


def _req(url: str, token: str | None, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw.startswith(b"{") else {}


def _clock_events(sid: str) -> list[str]:
    return [e["kind"] for e in Store().events(sid) if e["kind"] in CLOCK_KINDS]


@pytest.fixture
def served(pitfalls_home: Path) -> Iterator[sessions.LiveSession]:
    """A live session whose real session server runs and whose lab has answered (the clock runs)."""
    live = sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    proc = spawn_server(live)
    wait_for_server(live, proc)
    timer.mark_up(Store(), live.session_id)  # as start_session does once the candidate's lab answers
    try:
        yield sessions.load_session(live.session_id)
    finally:
        stop_server(sessions.load_session(live.session_id))


def test_the_interviewer_extends_and_pauses_and_the_clock_survives_a_sigkill(served):
    live, sid = served, served.session_id
    clock_url = f"http://127.0.0.1:{live.interviewer_port}/pitfalls/api/clock"
    code, view = _req(clock_url, live.interviewer_token, {"action": "extend", "minutes": 10})
    assert code == 200 and view["duration_minutes"] == 40.0 and view["extended_minutes"] == 10.0
    code, view = _req(clock_url, live.interviewer_token, {"action": "pause"})
    assert code == 200 and view["state"] == "paused" and view["closes_at"] is None
    left = view["remaining_seconds"]
    assert 39 * 60 < left <= 40 * 60
    for bad in ({"action": "extend", "minutes": -5}, {"action": "extend", "minutes": "10"},
                {"action": "extend", "minutes": True}, {"action": "extend", "minutes": 1e9},
                {"action": "stop"}, {}):
        code, answer = _req(clock_url, live.interviewer_token, bad)
        assert code == 400 and answer["message"].startswith("The "), (bad, answer)
    assert _clock_events(sid) == ["clock_set", "clock_up", "clock_extend", "clock_pause"]

    os.kill(live.server_pid, signal.SIGKILL)  # nothing of the clock is in the server's memory
    clock = session_clock(Store(), sid)
    assert (clock.state, clock.remaining_seconds, clock.minutes) == ("paused", left, 40.0)
    restarted = sessions.load_session(sid)
    wait_for_server(restarted, spawn_server(restarted))
    code, state = _req(f"http://127.0.0.1:{restarted.interviewer_port}/pitfalls/api/state", live.interviewer_token)
    assert code == 200 and state["session"]["clock"]["state"] == "paused"
    assert state["session"]["remaining_seconds"] == left
    assert [e["kind"] for e in state["events"] if e["kind"] in CLOCK_KINDS][-2:] == ["clock_extend", "clock_pause"]
    code, view = _req(clock_url, live.interviewer_token, {"action": "unpause"})
    assert code == 200 and view["state"] == "running" and view["closes_at"] is not None


def test_the_candidate_cannot_touch_the_clock(served):
    """Attack: the candidate's token on the interviewer's port, the candidate's own port, and
    ``session.sock`` from inside the container, each asking for more time or a pause."""
    live, sid = served, served.session_id
    before = _clock_events(sid)
    for body in ({"action": "extend", "minutes": 60}, {"action": "pause"}):
        code, answer = _req(f"http://127.0.0.1:{live.interviewer_port}/pitfalls/api/clock", live.candidate_token, body)
        assert code == 403 and "Got the candidate's token instead" in answer["message"]
        for path in ("/pitfalls/api/clock", "/candidate/../pitfalls/api/clock"):
            code, _ = _req(f"http://127.0.0.1:{live.port}{path}", live.candidate_token, body)
            assert code in (403, 404, 502), path  # 502: the proxy to the (absent) container's JupyterLab
        for path in ("/clock", "/pitfalls/api/clock"):
            code, _ = containers.unix_http(socket_path=live.run_dir / SESSION_SOCKET, method="POST", path=path,
                                           body=body)
            assert code in (404, 405), path
    assert _clock_events(sid) == before
    assert session_clock(Store(), sid).state == "running"


def test_resume_keeps_the_stored_length_unless_a_duration_is_given(pitfalls_home):
    store = Store()
    live, resumed = sessions.open_session(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                                          session_id=None, disk_mb=0)
    assert not resumed and session_clock(store, live.session_id).state == "waiting"
    timer.mark_up(store, live.session_id)
    timer.extend(store, live.session_id, 5, by="test")
    for _ in range(2):  # `session start` again without --duration: 30 + 5 stays
        again, resumed = sessions.open_session(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=None,
                                               session_id=None)
        assert resumed and again.session_id == live.session_id
        assert session_clock(store, live.session_id).minutes == 35.0
    sessions.open_session(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=0, session_id=None)
    assert session_clock(store, live.session_id).remaining_seconds is None  # --duration 0: untimed, on resume too
    sessions.open_session(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=45,
                          session_id=live.session_id)
    assert session_clock(store, live.session_id).minutes == 45.0
    fresh, _ = sessions.open_session(store, scaffold="tumor_triage", candidate="Bo", duration_minutes=None,
                                     session_id=None, disk_mb=0)
    assert session_clock(store, fresh.session_id).minutes == sessions.DEFAULT_MINUTES


def test_stop_stops_the_clock(pitfalls_home):
    store = Store()
    live, _ = sessions.open_session(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                                    session_id=None, disk_mb=0)
    timer.mark_up(store, live.session_id)
    assert timer.mark_down(store, live.session_id, "stopped") and not timer.mark_down(store, live.session_id, "x")
    assert session_clock(store, live.session_id).state == "stopped"
    timer.set_length(store, live.session_id, 0, by="test")
    with pytest.raises(sessions.SessionError, match="must be timed to extend"):
        timer.extend(store, live.session_id, 5, by="test")


def test_the_image_build_reports_its_steps_and_log(tmp_path):
    lines: list[str] = []
    script = "echo 'Step 1/2 : FROM base'; echo noise; echo '#5 [stage 2/2] RUN pip install x'; exit 3"
    code = containers._build_logged(["sh", "-c", script], tmp_path / "build.log", lines.append)
    assert code == 3 and "noise" in (tmp_path / "build.log").read_text()
    assert [line.split(" (")[0].strip() for line in lines] == ["image build step 1/2", "image build step 2/2"]
    assert lines[1].endswith("RUN pip install x")

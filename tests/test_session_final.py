"""The final submission in a live session, through the real session server (jupyter-server's test
fixtures, no container) and the real ``pitfalls-submit`` client on ``session.sock``.

Submission rows are written as the pipeline writes them (nothing trains). The attack: everything
the candidate's container can reach (``pitfalls-submit`` and its JSON, the socket's routes, the
candidate's token on the API) must never carry a private score, while the interviewer's state and
the report show every one and mark the final submission.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403 - the jp_* fixtures, for this module only

import test_session_api as session_api
from pitfalls.core.store import Store
from pitfalls.live.report import render_report

# the session server of tests/test_session_api.py: a real live session without a container
live, fetch, submit_socket = session_api.live, session_api.fetch, session_api.submit_socket
jp_base_url, jp_server_config, SUBMIT = session_api.jp_base_url, session_api.jp_server_config, session_api.SUBMIT

PRIVATE = ("0.7312345", "0.6512345", "0.8812345")
"""Private scores (digits no public score has): never in a candidate's answer."""


@pytest.fixture
def rows(live) -> list[int]:
    """Scored, rejected, scored, failed, scored: the private scores of :data:`PRIVATE`."""
    store, ids, private = Store(), [], iter(PRIVATE)
    for status in ("scored", "rejected", "scored", "failed", "scored"):
        sub = store.insert_submission(session_id=live.session_id, note="n", metric="balanced_accuracy",
                                      snapshot="s", snapshot_sha256="h")
        extra = dict(score_public=0.9, score_interval=[0.85, 0.95], norm_public=0.5, score_private=float(next(private)),
                     norm_private=0.4123456) if status == "scored" else {}
        store.finish_submission(sub, status=status, message=status, **extra)
        ids.append(sub)
    return ids


def _cli(sock, loop, *args: str) -> subprocess.CompletedProcess:
    async def run() -> subprocess.CompletedProcess:
        return await loop.run_in_executor(None, lambda: subprocess.run(
            [sys.executable, str(SUBMIT), *args], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PITFALLS_SESSION_SOCK": str(sock)}))
    return loop.run_until_complete(run())


def _secret_free(text: str) -> None:
    assert "private" not in text and "0.4123" not in text
    assert not any(p[:6] in text for p in PRIVATE), text


def test_pitfalls_submit_chooses_the_final_submission_and_never_sees_a_private_score(
        live, rows, submit_socket, jp_asyncio_loop, fetch):
    status = _cli(submit_socket, jp_asyncio_loop, "--status", "--json")
    assert status.returncode == 0, status.stderr
    _secret_free(status.stdout)
    assert json.loads(status.stdout)["final"] == {"submission_id": rows[4], "chosen": False, "at": None,
                                                  "how": "the last scored (default)"}
    refused = _cli(submit_socket, jp_asyncio_loop, "--set-final", str(rows[1]))
    assert refused.returncode == 2
    assert (f"The final submission must be one of the scored submissions {rows[0]}, {rows[2]}, {rows[4]}. "
            f"Got {rows[1]} instead (it was rejected). `pitfalls-submit --status` lists them.") in refused.stderr
    chosen = _cli(submit_socket, jp_asyncio_loop, "--set-final", str(rows[2]))
    assert chosen.returncode == 0 and f"final: #{rows[2]} (chosen by the candidate)" in chosen.stdout
    for answer in (chosen.stdout, _cli(submit_socket, jp_asyncio_loop, "--status").stdout,
                   _cli(submit_socket, jp_asyncio_loop, "--status", "--json").stdout,
                   fetch("GET", "pitfalls/api/status", token=live.candidate_token).body.decode()):
        _secret_free(answer)
    assert f"#{rows[2]} (chosen by the candidate)" in _cli(submit_socket, jp_asyncio_loop, "--status").stdout


@pytest.mark.parametrize("body", [{"submission_id": "1"}, {"submission_id": None}, {}, {"submission_id": True}])
def test_the_socket_refuses_anything_but_a_submission_number(fetch, live, rows, submit_socket, jp_asyncio_loop, body):
    """Raw requests to ``/final`` (a candidate need not use the client): 400 and nothing recorded."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(submit_socket))

    async def post() -> tuple[int, bytes]:
        def go() -> tuple[int, bytes]:
            conn = Conn("localhost", timeout=30)
            conn.request("POST", "/final", body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        return await jp_asyncio_loop.run_in_executor(None, go)

    code, raw = jp_asyncio_loop.run_until_complete(post())
    assert code == 400 and "The final submission must be one of the scored submissions" in json.loads(raw)["message"]
    assert Store().db.execute("SELECT COUNT(*) FROM final_choices").fetchone()[0] == 0


def test_a_submit_with_a_final_that_is_not_a_flag_is_refused_before_anything_is_stored(fetch, live):
    resp = fetch("POST", "pitfalls/api/submit", token=live.candidate_token, body={"note": "x", "final": "yes"})
    assert resp.code == 400 and json.loads(resp.body)["message"] == "final must be true or false. Got 'yes' instead."
    assert Store().submissions(live.session_id) == []


def test_the_interviewer_sees_every_private_score_and_the_final_one_marked(fetch, live, rows, submit_socket,
                                                                           jp_asyncio_loop):
    state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
    assert [s["final"] for s in state["submissions"]] == [False, False, False, False, True]
    assert state["final"]["submission_id"] == rows[4] and not state["final"]["chosen"]
    assert [s["score_private"] for s in state["submissions"] if s["status"] == "scored"] == [float(p) for p in PRIVATE]
    assert _cli(submit_socket, jp_asyncio_loop, "--set-final", str(rows[0])).returncode == 0
    state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
    assert [s["id"] for s in state["submissions"] if s["final"]] == [rows[0]] and state["final"]["chosen"]
    assert any(e["kind"] == "final" and e["data"]["submission_id"] == rows[0] for e in state["events"])
    html = render_report(session_id=live.session_id)
    assert f"balanced_accuracy 0.7312 · submission <b>#{rows[0]}</b> (chosen by the candidate)" in html
    assert f"submission #{rows[0]} (final)" in html and "best public" not in html
    assert all(p[:6] in html for p in PRIVATE)  # every submission's private score

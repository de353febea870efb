"""The timer in the candidate's lab through a real session server (``python -m pitfalls.live.server``)
in front of a stand-in for the container's JupyterLab on ``jupyter.sock`` (no container): the script
tag in JupyterLab's pages (gzip from upstream, Content-Length, CSP), everything else untouched, and
the lab's status, which answers the candidate only and holds only the hints given."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socketserver
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.live import containers, sessions, timer
from pitfalls.live.process import spawn_server, stop_server, wait_for_server
from pitfalls.live.server.application import SESSION_SOCKET

CSP = "frame-ancestors 'self'; report-uri /candidate/api/security/csp-report"
PAGE = (b'<!doctype html><html><head><script id="jupyter-config-data" type="application/json">'
        b'{"baseUrl": "/candidate/"}</script></head><body><div id="main"></div></body></html>')
CONTENTS = json.dumps({"name": "eda.ipynb", "content": "x" * 5000}).encode()
TAG = b'<script src="/candidate/pitfalls-lab/timer.js" defer></script>'
GOOD_COOKIE = "accepted"  # the value FakeJupyter accepts in its host-named login cookie


class FakeJupyter(BaseHTTPRequestHandler):
    """Answers as the container's jupyter-server would, but always gzips (ignoring Accept-Encoding),
    so the session server's decoding is exercised; records what it was asked."""

    seen: list[dict[str, str]] = []

    def log_message(self, *args) -> None:  # the client address of a UNIX socket is ""
        pass

    def _send(self, code: int, body: bytes, content_type: str, *, zipped: bool = True) -> None:
        data = gzip.compress(body) if zipped else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("ETag", '"upstream-etag"')
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        FakeJupyter.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/candidate/api/status"):
            # as jupyter-server: the login cookie is named after the Host asked for (username-127-0-0-1-PORT)
            name = re.sub(r"[^A-Za-z0-9]", "-", f"username-{self.headers.get('Host', '')}")
            ok = self.headers.get("Cookie") == f"{name}={GOOD_COOKIE}"
            self._send(200 if ok else 403, b'{"started": "x"}' if ok else b'{"message": "Forbidden"}',
                       "application/json", zipped=False)
        elif self.path.startswith("/candidate/api/contents"):
            self._send(200, CONTENTS, "application/json")
        elif self.path.startswith("/candidate/files/"):
            self._send(200, b"<html><body>my own page</body></html>", "text/html")
        else:
            self._send(200, PAGE, "text/html; charset=UTF-8")


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def served(pitfalls_home: Path) -> Iterator[sessions.LiveSession]:
    """A live session's real session server, with FakeJupyter on the session's jupyter.sock."""
    live = sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    upstream = UnixServer(str(live.run_dir / containers.JUPYTER_SOCKET), FakeJupyter)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    FakeJupyter.seen = []
    proc = spawn_server(live)
    wait_for_server(live, proc)
    timer.mark_up(Store(), live.session_id)
    try:
        yield sessions.load_session(live.session_id)
    finally:
        stop_server(sessions.load_session(live.session_id), grace=2.0)  # its graceful stop is tested elsewhere
        upstream.shutdown()
        upstream.server_close()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw GET (no decoding, no redirects): status, headers (lower-case names), body bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


NAVIGATION = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Encoding": "gzip, deflate, br",
              "If-None-Match": '"upstream-etag"'}


def _pages_get_the_script_and_nothing_else_changes(served) -> None:
    port = served.port
    code, headers, body = _get(port, "/candidate/lab/tree/eda.ipynb", NAVIGATION)
    assert code == 200 and body == PAGE.replace(b"</body>", TAG + b"</body>")
    assert int(headers["content-length"]) == len(body) and "content-encoding" not in headers
    assert headers.get("etag") != '"upstream-etag"' and headers["content-security-policy"] == CSP  # tornado's, of this body
    asked = FakeJupyter.seen[-1]
    assert asked["accept-encoding"] == "identity" and "if-none-match" not in asked
    # JupyterLab's own calls (JSON) and the candidate's files pass as they came, compressed included.
    code, headers, body = _get(port, "/candidate/api/contents/eda.ipynb", {"Accept": "application/json",
                                                                          "Accept-Encoding": "gzip"})
    assert code == 200 and gzip.decompress(body) == CONTENTS and headers["content-encoding"] == "gzip"
    assert int(headers["content-length"]) == len(body) and headers["etag"] == '"upstream-etag"'
    code, headers, body = _get(port, "/candidate/files/mine.html", NAVIGATION)
    assert gzip.decompress(body) == b"<html><body>my own page</body></html>"
    code, headers, body = _get(port, "/candidate/lab", {"Accept": "*/*", "Accept-Encoding": "gzip"})
    assert gzip.decompress(body) == PAGE  # not a browser navigation: untouched


def _the_script_is_static_and_same_origin(served) -> None:
    code, headers, body = _get(served.port, "/candidate/pitfalls-lab/timer.js")
    assert code == 200 and headers["content-type"].startswith("text/javascript")
    assert headers["x-content-type-options"] == "nosniff" and b"pitfalls-lab/" in body
    for secret in (served.candidate_token, served.interviewer_token, served.session_id):
        assert secret.encode() not in body
    assert _get(served.interviewer_port, "/candidate/pitfalls-lab/timer.js")[0] == 404  # not on the interviewer's


def _lab_status(live, **headers: str) -> tuple[int, dict]:
    code, _, body = _get(live.port, "/candidate/pitfalls-lab/status", headers)
    return code, json.loads(body)


def _the_lab_status_answers_the_candidate_only(served) -> None:
    live = served
    for headers in ({}, {"Authorization": "token wrong"}, {"Authorization": f"token {live.interviewer_token}"},
                    {"Cookie": "username-127-0-0-1-9999=forged"}, {"Authorization": f"bearer {live.candidate_token}"}):
        code, answer = _lab_status(live, **headers)
        assert code == 403 and "candidate" in answer["message"] and "clock" not in answer, headers
    code, answer = _lab_status(live, Authorization=f"token {live.candidate_token}")
    assert code == 200 and set(answer) == {"clock", "remaining_seconds", "hints_given"}
    assert answer["clock"] == "running" and 29 * 60 < answer["remaining_seconds"] <= 30 * 60
    assert _lab_status(live, Cookie=f"username-candidate={GOOD_COOKIE}")[0] == 403  # named for another host
    code, answer = _lab_status(live, Cookie=f"username-127-0-0-1-{live.port}={GOOD_COOKIE}")  # the lab page's own
    assert code == 200 and answer["hints_given"] == []
    assert _get(live.interviewer_port, "/candidate/pitfalls-lab/status",
                {"Authorization": f"token {live.candidate_token}"})[0] == 404


def _interviewer_port_status(live) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{live.interviewer_port}/pitfalls/api/status",
                                 headers={"Authorization": f"token {live.candidate_token}"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())


def test_the_candidate_sees_the_hints_given_and_nothing_of_the_interviewers(served):
    """Attack: every way the candidate reads its status (the lab, the interviewer's port with the
    candidate's token, session.sock from the container) after the interviewer gave one hint, rated
    the candidate and wrote a note: only that hint's level, text and time come back."""
    live, store = served, Store()
    ladder = load_scaffold("tumor_triage").manifest.hints
    store.add_event(live.session_id, "hint_given", {"level": 2, "text": ladder[1], "by": "interviewer"})
    store.add_event(live.session_id, "rubric_rated", {"criterion": "debugging", "rating": 1, "note": "RUBRIC-SECRET"})
    store.add_event(live.session_id, "interviewer_note", {"text": "NOTE-SECRET"})
    pause = timer.pause(store, live.session_id, by="test")
    code, lab_view = _lab_status(live, Authorization=f"token {live.candidate_token}")
    sock_code, raw = containers.unix_http(socket_path=live.run_dir / SESSION_SOCKET, method="GET", path="/status")
    assert code == 200 and sock_code == 200
    views = {"lab": lab_view, "socket": json.loads(raw), "api": _interviewer_port_status(live)}
    for where, view in views.items():
        assert view["hints_given"] == [{"level": 2, "text": ladder[1], "at": view["hints_given"][0]["at"]}], where
        assert view["clock"] == "paused" and view["remaining_seconds"] == pause.remaining_seconds, where
        text = json.dumps(view)
        for hidden in (*ladder[:1], *ladder[2:], "RUBRIC-SECRET", "NOTE-SECRET", "interviewer", "rubric",
                       live.interviewer_token):
            assert hidden not in text, (where, hidden)


def test_the_lab_gets_the_script_and_its_status_answers_the_candidate_only(served):
    """One server for the three (each start costs seconds): JupyterLab's pages get the tag and nothing
    else changes; the script is static; the status answers the candidate only. Last, with the
    container's JupyterLab gone, no cookie opens the status (the candidate's token still does)."""
    _pages_get_the_script_and_nothing_else_changes(served)
    _the_script_is_static_and_same_origin(served)
    _the_lab_status_answers_the_candidate_only(served)
    (served.run_dir / containers.JUPYTER_SOCKET).unlink()
    code, _ = _lab_status(served, Cookie="username-127-0-0-1-9999=never-seen")
    assert code == 403
    assert _lab_status(served, Authorization=f"token {served.candidate_token}")[0] == 200

"""The session server's HTTP API, through jupyter-server's own test fixtures (``jp_fetch``).

A real live session (workspace, SQLite rows) without a container: the handlers, the token
roles, the denied built-in services, the read-only file view, notes, real scoring through
the candidate's submit endpoint, the ``session.sock`` protocol of ``pitfalls-submit`` and the
report. The proxy to the candidate's JupyterLab is tested with a real container elsewhere
(tests/test_sessions.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403 - the jp_* fixtures, for this module only

from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.live import sessions
from pitfalls.live.report import render_report
from pitfalls.live.server.report_page import report_key

REPO = Path(__file__).resolve().parent.parent
SUBMIT = REPO / "docker" / "pitfalls-submit"

INTERVIEWER_ONLY = [("GET", "pitfalls/api/state"), ("GET", "pitfalls/api/files"),
                    ("GET", "pitfalls/api/files/train.py"), ("POST", "pitfalls/api/notes"),
                    ("GET", "pitfalls/report"), ("POST", "pitfalls/api/clock")]
CANDIDATE_ONLY = [("POST", "pitfalls/api/submit")]
BUILTIN = [("GET", "api/kernels"), ("POST", "api/kernels"), ("GET", "api/contents"),
           ("PUT", "api/contents/x.py"), ("GET", "api/sessions"), ("GET", "api/kernelspecs"),
           ("GET", "api/terminals"), ("GET", "api/config/notebook")]


@pytest.fixture
def live(pitfalls_home: Path) -> sessions.LiveSession:
    return sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)


@pytest.fixture
def jp_base_url() -> str:  # noqa: F811 - the session server runs at the root, like in production
    return "/"


@pytest.fixture
def submit_socket(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sock") / "session.sock"


@pytest.fixture
def jp_server_config(live, submit_socket):  # noqa: F811 - overrides pytest-jupyter's empty config
    return {"ServerApp": {"jpserver_extensions": {"pitfalls.live.server": True},
                          "identity_provider_class": "pitfalls.live.server.auth.SessionIdentityProvider",
                          "authorizer_class": "pitfalls.live.server.auth.SessionAuthorizer",
                          "terminals_enabled": False},
            "SessionApp": {"session_id": live.session_id, "submit_socket": str(submit_socket), "ip": "127.0.0.1",
                           "interviewer_port": 0, "candidate_port": 0}}


@pytest.fixture
def fetch(jp_fetch, jp_asyncio_loop):
    """Synchronous ``jp_fetch`` that never raises on an HTTP error and sends ``token`` (or none)."""

    def call(method: str, path: str, *, token: str | None = None, body: dict | None = None, **kw):
        headers = {"Authorization": f"token {token}" if token else ""}
        data = None if method in ("GET", "HEAD") else json.dumps(body or {})
        return jp_asyncio_loop.run_until_complete(
            jp_fetch(*path.split("/"), method=method, headers=headers, body=data, raise_error=False,
                     allow_nonstandard_methods=True, **kw))

    return call


def _message(resp) -> str:
    return json.loads(resp.body)["message"]


@pytest.mark.parametrize(("method", "path"), INTERVIEWER_ONLY + CANDIDATE_ONLY + [("GET", "pitfalls/api/status")])
@pytest.mark.parametrize("token", ["", "not-a-token", "jupyters-own"])
def test_every_endpoint_refuses_a_missing_or_wrong_token(fetch, jp_serverapp, method, path, token):
    token = jp_serverapp.identity_provider.token if token == "jupyters-own" else token
    resp = fetch(method, path, token=token)
    assert resp.code == 403
    if path.startswith("pitfalls/api"):
        assert "Got no valid token instead" in _message(resp)


@pytest.mark.parametrize(("method", "path"), INTERVIEWER_ONLY)
def test_candidate_token_cannot_reach_interviewer_data(fetch, live, method, path):
    resp = fetch(method, path, token=live.candidate_token)
    assert resp.code == 403
    assert b"Got the candidate's token instead" in resp.body or not path.startswith("pitfalls/api")
    assert live.interviewer_token.encode() not in resp.body


def test_interviewer_token_cannot_submit_for_the_candidate(fetch, live):
    resp = fetch("POST", "pitfalls/api/submit", token=live.interviewer_token, body={"note": "x"})
    assert resp.code == 403
    assert _message(resp) == "This endpoint needs the candidate's token. Got the interviewer's token instead."
    assert Store().submissions(live.session_id) == []


@pytest.mark.parametrize(("method", "path"), BUILTIN)
def test_no_token_reaches_jupyter_servers_built_in_services_on_the_host(fetch, live, jp_serverapp, method, path):
    for token in (live.interviewer_token, live.candidate_token, jp_serverapp.identity_provider.token):
        assert fetch(method, path, token=token).code in (403, 404), (method, path)


def test_state_has_timer_budgets_and_the_planted_bugs(fetch, live):
    resp = fetch("GET", "pitfalls/api/state", token=live.interviewer_token)
    assert resp.code == 200 and resp.headers["Cache-Control"] == "no-store"
    state = json.loads(resp.body)
    s = state["session"]
    assert (s["id"], s["scaffold"], s["candidate"], s["metric"]) == (live.session_id, "tumor_triage", "Ada",
                                                                      "balanced_accuracy")
    assert 29 * 60 < s["remaining_seconds"] <= 30 * 60
    assert s["budgets"]["max_params"] == 2000 and s["goal_normalized"] == load_scaffold("tumor_triage").manifest.task.goal_normalized
    # this installation's anchors: None until the scoring thread has measured them (runner/scoring/anchors.py)
    assert s["calibration"] is None or s["calibration"]["reference_public"] > s["calibration"]["baseline_public"]
    assert [b["id"] for b in state["bugs"]] == ["label_misalignment", "scaler_not_saved", "inverted_class_weights",
                                                "leak_feature_used"]
    assert [q["id"] for q in state["quirks"]] == ["class_imbalance", "target_leakage", "missing_values"]
    assert all(b["status"] == "not probed yet" for b in state["bugs"])
    assert state["submissions"] == [] and state["notes"] == []


def test_notes_are_kept_and_bad_notes_are_refused(fetch, live):
    ok = fetch("POST", "pitfalls/api/notes", token=live.interviewer_token, body={"text": "  asked about leakage "})
    assert ok.code == 200 and json.loads(ok.body)["text"] == "asked about leakage"
    for bad in ({"text": ""}, {"text": 3}, {"text": "x" * 2001}, {}):
        resp = fetch("POST", "pitfalls/api/notes", token=live.interviewer_token, body=bad)
        assert resp.code == 400 and _message(resp).startswith("A note must be non-empty text")
    raw = fetch("POST", "pitfalls/api/notes", token=live.interviewer_token, body=None)
    state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
    assert [n["text"] for n in state["notes"]] == ["asked about leakage"], raw.code


def test_file_view_lists_the_candidates_files_and_nothing_else(fetch, live):
    (live.workspace / "escape").symlink_to(live.dir / "session.json")
    answer = json.loads(fetch("GET", "pitfalls/api/files", token=live.interviewer_token).body)
    listing = answer["files"]
    assert answer["truncated"] is None  # a small workspace is listed whole
    paths = {f["path"] for f in listing}
    assert {"train.py", "BRIEF.md", "eda.ipynb"} <= paths
    assert not {p for p in paths if p.startswith(("data/", "artifacts/")) or p in (".pitfalls.json", "escape")}
    text = json.loads(fetch("GET", "pitfalls/api/files/train.py", token=live.interviewer_token).body)
    assert text["kind"] == "text" and text["content"] == (live.workspace / "train.py").read_text()
    nb = json.loads(fetch("GET", "pitfalls/api/files/eda.ipynb", token=live.interviewer_token).body)
    assert nb["kind"] == "notebook" and "read_csv" in "".join(c["source"] for c in nb["cells"])
    for bad in ("escape", "data/train.csv", ".pitfalls.json", "..%2Fsession.json", "nope.py"):
        resp = fetch("GET", f"pitfalls/api/files/{bad}", token=live.interviewer_token)
        assert resp.code == 404, bad
        assert live.interviewer_token.encode() not in resp.body


def test_candidate_submits_and_the_interviewer_sees_score_note_and_probes(fetch, live):
    resp = fetch("POST", "pitfalls/api/submit", token=live.candidate_token, body={"note": "starter as is"},
                 request_timeout=300)
    assert resp.code == 200, resp.body
    view = json.loads(resp.body)
    assert view["status"] == "scored" and view["note"] == "starter as is"
    assert 0 <= view["score"] <= 1 and 0 < view["remaining_seconds"] <= 1800
    assert not {"private_score", "private_normalized", "probes"} & set(view)
    state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
    [sub] = state["submissions"]
    assert sub["score_public"] == view["score"] and sub["score_private"] is not None
    assert sub["note"] == "starter as is" and sub["params"] is not None
    # answered once scored: the probes run afterwards, in a detached worker (runner/probes/worker.py)
    assert sub["probe_status"] in ("pending", "running") and sub["probes"] == []
    assert {b["status"] for b in state["bugs"]} == {"not probed yet"}
    state = _probed_state(fetch, live)
    [sub] = state["submissions"]
    assert sub["probe_status"] == "done" and sub["probes"]
    assert {b["status"] for b in state["bugs"]} <= {"present", "unknown"} and state["bugs"][0]["submission_id"] == sub["id"]
    status = json.loads(fetch("GET", "pitfalls/api/status", token=live.candidate_token).body)
    assert status["submissions"] == 1 and status["scoring"] == 0

    fetch("POST", "pitfalls/api/notes", token=live.interviewer_token, body={"text": "found the leak <quickly>"})
    (live.workspace / "train.py").write_text((live.workspace / "train.py").read_text() + "\n# tidy\n")
    html = render_report(session_id=live.session_id)
    assert "starter as is" in html and "found the leak &lt;quickly&gt;" in html and "<svg" in html
    assert "+# tidy" in html and "final/train.py" in html
    assert live.candidate_token not in html and live.interviewer_token not in html
    page = fetch("GET", "pitfalls/report", token=live.interviewer_token)
    assert page.code == 200 and b"starter as is" in page.body


def _probed_state(fetch, live, timeout: float = 300) -> dict:
    """The dashboard's state once no submission's probes are pending or running (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
        if all(s["probe_status"] not in ("pending", "running") for s in state["submissions"]):
            return state
        assert time.monotonic() < deadline, f"probes still unfinished after {timeout} s: {state['submissions']}"
        time.sleep(1)


def test_submit_refuses_bad_notes_without_recording(fetch, live):
    for bad in ({"note": 5}, {"note": "x" * 2001}):
        resp = fetch("POST", "pitfalls/api/submit", token=live.candidate_token, body=bad)
        assert resp.code == 400 and _message(resp).startswith("The note must be text")
    assert Store().submissions(live.session_id) == []


def _submit_cli(sock: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SUBMIT), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PITFALLS_SESSION_SOCK": str(sock)})


def test_session_socket_speaks_the_pitfalls_submit_protocol(fetch, live, submit_socket, jp_asyncio_loop):
    assert oct(submit_socket.stat().st_mode & 0o777) == "0o666"

    async def run(*args: str) -> subprocess.CompletedProcess:
        return await jp_asyncio_loop.run_in_executor(None, lambda: _submit_cli(submit_socket, *args))

    status = jp_asyncio_loop.run_until_complete(run("--status", "--json"))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["submissions"] == 0
    bad = jp_asyncio_loop.run_until_complete(run("--json", "x" * 2001))
    assert bad.returncode == 2 and "The note must be text of at most 2000 characters" in bad.stdout + bad.stderr
    assert Store().submissions(live.session_id) == []


@pytest.mark.parametrize("who", ["interviewer", "candidate", "nobody"])
def test_dashboard_page_is_a_shell_without_data_or_tokens(fetch, live, who):
    """The page holds no datum (its script fetches them with the token), so a reload without the
    token in the address bar still gets it; the API behind it is what checks the token."""
    token = {"interviewer": live.interviewer_token, "candidate": live.candidate_token, "nobody": None}[who]
    resp = fetch("GET", "pitfalls/dashboard", token=token)
    assert resp.code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Referrer-Policy"] == "no-referrer" and resp.headers["Cache-Control"] == "no-store"
    assert live.session_id.encode() in resp.body and b"Ada" not in resp.body
    assert live.interviewer_token.encode() not in resp.body and live.candidate_token.encode() not in resp.body


# ---- two origins, every registered route through the session's rules (issue 19) ------------------

OURS = {  # pattern -> (methods the candidate's token may use on the interviewer's port), reviewed by hand
    "/pitfalls/dashboard": {"GET"},  # the page shell: no datum, no token (test_dashboard_page_is_a_shell...)
    "/pitfalls/report": set(), "/pitfalls/report/([A-Za-z0-9_-]{16,64})": set(),
    "/pitfalls/api/report-link": set(), "/pitfalls/api/status": {"GET"}, "/pitfalls/api/state": set(),
    "/pitfalls/api/submit": {"POST"}, "/pitfalls/api/notes": set(), "/pitfalls/api/files": set(),
    "/pitfalls/api/files/(.+)": set(), "/pitfalls/api/clock": set(),  # the clock: the interviewer's alone
    "/pitfalls/api/hint": set(), "/pitfalls/api/rubric": set(), "/pitfalls/api/diff/([0-9]{1,12})": set(),
    "/pitfalls/api/container": set(),  # resume the container: the interviewer's alone
}
SAMPLES = ["x", "train.py", "00000000-0000-0000-0000-000000000000", "a/b", "abcdefghijklmnopqrstuvwx", "1"]


def _rules(router) -> list:
    out = []
    for rule in getattr(router, "rules", []):
        out.extend(_rules(rule.target) if hasattr(rule.target, "rules") else [rule])
    return out


def _sample(regex: str) -> str | None:
    """A concrete path the route's regex matches (each group filled with the first sample that fits)."""
    import re

    body = regex.rstrip("$")
    groups = re.findall(r"\((?:\?P<\w+>)?(?:[^()]|\([^()]*\))*\)", body)
    path = body
    for group in groups:
        path = path.replace(group, "\0", 1)
    for fill in SAMPLES:
        candidate = path.replace("\0", fill).replace("\\", "").replace("?", "")
        if re.fullmatch(body, candidate):
            return candidate if candidate.startswith("/") else "/" + candidate
    return None


def _port_fetch(loop, port: int, method: str, path: str, token: str | None = None, cookie: str = ""):
    from tornado import httpclient

    headers = {"Authorization": f"token {token}"} if token else {}
    if cookie:
        headers["Cookie"] = cookie
    req = httpclient.HTTPRequest(f"http://127.0.0.1:{port}{path}", method=method, headers=headers,
                                 body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                                 allow_nonstandard_methods=True, follow_redirects=False, request_timeout=30)
    return loop.run_until_complete(httpclient.AsyncHTTPClient().fetch(req, raise_error=False))


def test_every_registered_route_denies_the_candidate_token_except_the_reviewed_ones(jp_serverapp, live,
                                                                                     jp_asyncio_loop, fetch):
    """Enumerate every route jupyter-server registered (its own, ours, any extension's): each answers the
    candidate's token with 403/404 on the interviewer's port unless OURS allows it; the candidate's port
    serves none of them; no response sets a cookie or carries the interviewer's token."""
    fetch("GET", "pitfalls/api/status", token=live.candidate_token)  # the loop has run: the ports are open
    app = jp_serverapp.web_app
    ports = app.settings["pitfalls_ports"]
    rules = _rules(app.default_router) + _rules(app.wildcard_router)
    ours = {r.matcher.regex.pattern.rstrip("$") for r in rules  # every module of the session server's own
            if r.target.__module__.startswith("pitfalls.live.server.") and r.target.__name__ != "DeniedHandler"}
    assert ours == set(OURS), "a route was added or removed: review it and update OURS"
    foreign = [r for r in rules if r.matcher.regex.pattern.rstrip("$") not in OURS]
    assert len(foreign) > 30 and {r.target.__name__ for r in foreign} == {"DeniedHandler"}
    checked = 0
    for rule in rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        path = _sample(pattern)
        if path is None:
            continue
        for method in ("GET", "POST", "DELETE"):
            if method in OURS.get(pattern, set()):
                continue  # reviewed: meant for the candidate (and tested on its own above)
            resp = _port_fetch(jp_asyncio_loop, ports["interviewer"], method, path, live.candidate_token)
            assert resp.code in (403, 404, 405), (method, path, resp.code, resp.body[:200])
            assert "Set-Cookie" not in resp.headers, (method, path, resp.headers["Set-Cookie"])
            assert live.interviewer_token.encode() not in (resp.body or b"")
            on_candidate_port = _port_fetch(jp_asyncio_loop, ports["candidate"], method, path, live.interviewer_token)
            redirect = on_candidate_port.headers.get("Location") == "/candidate/lab"  # "/" on the candidate's port
            assert on_candidate_port.code in (404, 405) or path.startswith("/candidate/") or redirect, (method, path)
            checked += 1
    assert checked > 100, checked


@pytest.mark.parametrize("token", ["candidate", "interviewer"])
def test_jupyter_servers_metrics_answer_no_one(jp_asyncio_loop, jp_serverapp, live, fetch, token):
    fetch("GET", "pitfalls/api/status", token=live.candidate_token)
    ports = jp_serverapp.web_app.settings["pitfalls_ports"]
    for port in ports.values():
        resp = _port_fetch(jp_asyncio_loop, port, "GET", "/metrics", getattr(live, f"{token}_token"))
        assert resp.code == 404 and b"http_request" not in resp.body and b"process_" not in resp.body


def test_the_two_origins_serve_disjoint_paths(jp_asyncio_loop, jp_serverapp, live, fetch):
    fetch("GET", "pitfalls/api/status", token=live.candidate_token)
    ports = jp_serverapp.web_app.settings["pitfalls_ports"]
    assert ports["interviewer"] != ports["candidate"]
    assert live.port != live.interviewer_port and f":{live.interviewer_port}/pitfalls/dashboard" in live.interviewer_url
    assert f":{live.port}/candidate/lab" in live.candidate_url
    i, c = ports["interviewer"], ports["candidate"]
    assert _port_fetch(jp_asyncio_loop, i, "GET", "/pitfalls/api/state", live.interviewer_token).code == 200
    for path in ("/pitfalls/api/state", "/pitfalls/dashboard", "/pitfalls/report", "/pitfalls/api/status"):
        assert _port_fetch(jp_asyncio_loop, c, "GET", path, live.interviewer_token).code == 404, path
    for path in ("/candidate/lab", "/candidate/api/status", "/candidate/api/kernels"):
        assert _port_fetch(jp_asyncio_loop, i, "GET", path, live.candidate_token).code == 404, path
    # The candidate's port proxies /candidate/ (no container here: 502) and nothing more.
    assert _port_fetch(jp_asyncio_loop, c, "GET", "/candidate/api/status", live.candidate_token).code == 502


def test_no_cookie_authenticates_on_the_interviewers_port(jp_asyncio_loop, jp_serverapp, live, fetch):
    """Cookies are not port-scoped: the candidate's JupyterLab cookies (and any cookie a script on the
    candidate's origin sets for the host) reach the interviewer's port, and must count for nothing."""
    fetch("GET", "pitfalls/api/status", token=live.candidate_token)
    port = jp_serverapp.web_app.settings["pitfalls_ports"]["interviewer"]
    cookies = "; ".join(f"{name}={value}" for name, value in [
        (f"username-127-0-0-1-{live.port}", "2|1:0|10:1|x"), ("_xsrf", "2|a|b|c"),
        ("token", live.interviewer_token), (f"username-127-0-0-1-{port}", live.interviewer_token)])
    for method, path in [("GET", "/pitfalls/api/state"), ("POST", "/pitfalls/api/notes"), ("GET", "/pitfalls/report"),
                         ("POST", "/pitfalls/api/report-link"), ("GET", "/pitfalls/api/files")]:
        resp = _port_fetch(jp_asyncio_loop, port, method, path, None, cookie=cookies)
        assert resp.code == 403, (method, path, resp.code)
    page = _port_fetch(jp_asyncio_loop, port, "GET", "/pitfalls/dashboard", live.interviewer_token)
    assert page.code == 200 and "Set-Cookie" not in page.headers and page.headers["X-Frame-Options"] == "DENY"


def test_report_opens_at_its_own_address_in_a_sandbox(fetch, live):
    """The report's address (runner/live/server/report_page.py) reloads, grants the report only, and
    cannot be made without the interviewer's token."""
    assert fetch("POST", "pitfalls/api/report-link", token=live.candidate_token).code == 403
    link = json.loads(fetch("POST", "pitfalls/api/report-link", token=live.interviewer_token).body)
    assert link["url"].startswith("pitfalls/report/") and link["expires_in"] is None
    page = fetch("GET", link["url"])  # no token: the read-only key is the credential
    assert page.code == 200 and b"<html" in page.body.lower() and b'id="summary"' in page.body
    assert page.headers["Content-Security-Policy"].startswith("sandbox;") and "script" not in page.headers[
        "Content-Security-Policy"]
    assert "Set-Cookie" not in page.headers and live.interviewer_token.encode() not in page.body
    again = fetch("GET", link["url"])  # a reload shows the report again, never the dashboard
    assert again.code == 200 and b'id="summary"' in again.body and b"pitfalls/dashboard" not in again.body
    key = link["url"].rsplit("/", 1)[1]
    # the key is not a token: neither the API nor the dashboard's data answer to it
    assert fetch("GET", "pitfalls/api/state", token=key).code == 403
    assert fetch("POST", "pitfalls/api/report-link", token=key).code == 403
    # keys the candidate could make (from its own token, the session id, a guess) open nothing
    forged = [report_key(live.candidate_token, live.session_id), report_key(live.session_id, live.session_id),
              key[:-1] + ("A" if key[-1] != "A" else "B"), "A" * 43]
    assert [fetch("GET", "pitfalls/report/" + k).code for k in forged] == [404] * len(forged)

"""The host server (issue 18 item 1, runner/live/host/): one real process serving two live sessions
(no container: the candidate's proxy answers 502), isolated from each other by token and port;
SIGKILLed and started again with nothing lost; `pitfalls server`'s clear errors. The one test that
starts a real session through it needs Docker (marked ``docker``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import run_cli
from pitfalls.core.store import Store
from pitfalls.live import sessions
from pitfalls.live.host import process as host
from pitfalls.live.host import state
from pitfalls.live.jupyter import free_port
from pitfalls.live.process import server_running, spawn_server, stop_server, wait_for_server
from pitfalls.live.server.lab import STATUS_URL
from pitfalls.service import api

REPO = Path(__file__).resolve().parent.parent
SUBMIT = REPO / "docker" / "pitfalls-submit"


def _get(port: int, path: str, token: str = "", method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    """(status, body); 0 when nothing answers on the port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body or {}).encode() if method == "POST" else None,
                                 headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def _new_session(candidate: str) -> sessions.LiveSession:
    return sessions._create(Store(), scaffold="tumor_triage", candidate=candidate, duration_minutes=30,
                            host="127.0.0.1", port=free_port(0), interviewer_port=free_port(0), url_host="",
                            memory_mb=2048, cpus=1.0, disk_mb=0)


def _serve(live: sessions.LiveSession) -> sessions.LiveSession:
    """What `session start` does for the server part: attach (the host runs), wait for /status."""
    waiter = spawn_server(live)
    assert waiter is not None and not isinstance(waiter, subprocess.Popen), "served by a process of its own"
    wait_for_server(live, waiter)
    return sessions.load_session(live.session_id)


@pytest.fixture
def two(pitfalls_home: Path) -> Iterator[tuple[subprocess.Popen, sessions.LiveSession, sessions.LiveSession]]:
    """A host server (started as `pitfalls server --detach` starts it) serving sessions A and B."""
    api.calibrate(name="tumor_triage")  # the scale, cached for the run: no training at the host's warm-up
    proc = host.start_detached()
    try:
        a, b = _serve(_new_session("A")), _serve(_new_session("B"))
        yield proc, a, b
    finally:
        host.stop()
        proc.wait(timeout=60)


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def test_one_host_process_serves_both_sessions_each_on_its_own_ports(two):
    proc, a, b = two
    assert a.served_by == b.served_by == "host" and a.server_pid == b.server_pid == proc.pid
    assert {a.port, a.interviewer_port, b.port, b.interviewer_port} <= _listening_ports(proc.pid)
    assert set(state.attached()) == {a.session_id, b.session_id}
    assert server_running(a) and server_running(b)
    for live in (a, b):
        code, body = _get(live.interviewer_port, "/pitfalls/api/state", live.interviewer_token)
        assert code == 200 and json.loads(body)["session"]["id"] == live.session_id
        code, page = _get(live.interviewer_port, "/pitfalls/dashboard")
        assert code == 200 and live.session_id.encode() in page
        assert _get(live.port, "/candidate/lab", live.candidate_token)[0] == 502  # no container: the proxy answers
        assert json.loads(_get(live.port, STATUS_URL, live.candidate_token)[1])["clock"] == "waiting"
        assert f"served by the host server (pid {proc.pid})" in (live.dir / "server.log").read_text()
    folder = state.host_dir()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for name in (state.CONTROL_SOCKET, state.JUPYTER_SOCKET):
        assert oct((folder / name).stat().st_mode & 0o777) == "0o600", name


ATTACKS = [("interviewer", "GET", "/pitfalls/api/state"), ("interviewer", "GET", "/pitfalls/api/files"),
           ("interviewer", "POST", "/pitfalls/api/notes"), ("interviewer", "POST", "/pitfalls/api/report-link"),
           ("interviewer", "POST", "/pitfalls/api/clock"), ("candidate", "GET", "/pitfalls/api/status"),
           ("candidate", "POST", "/pitfalls/api/submit")]
BODIES = {"/pitfalls/api/notes": {"text": "written with another session's token"},
          "/pitfalls/api/clock": {"action": "pause"}, "/pitfalls/api/submit": {"note": "another session's token"}}


def test_no_token_of_one_session_reaches_the_other(two):
    """Every token of A on every port of B (and the reverse): refused, nothing written; the same
    token on its own session's port is the positive control."""
    _, a, b = two
    for mine, other in ((a, b), (b, a)):
        for role, method, path in ATTACKS:
            token = getattr(mine, f"{role}_token")
            code, body = _get(other.interviewer_port, path, token, method, BODIES.get(path))
            assert code == 403, (role, path, code, body)
            if method == "GET":
                assert _get(mine.interviewer_port, path, token)[0] == 200, (role, path)
        assert _get(other.port, STATUS_URL, mine.candidate_token)[0] == 403
        assert _get(mine.port, STATUS_URL, mine.candidate_token)[0] == 200
        assert _get(other.port, "/pitfalls/api/status", mine.interviewer_token)[0] == 404  # another origin's path
        mine_key = json.loads(_get(mine.interviewer_port, "/pitfalls/api/report-link", mine.interviewer_token,
                                   "POST")[1])["url"]
        assert _get(other.interviewer_port, f"/{mine_key}")[0] == 404  # A's report address on B's port
    store = Store()
    for live in (a, b):
        assert store.events(live.session_id, "note") == [] and store.submissions(live.session_id) == []
        assert json.loads(_get(live.interviewer_port, "/pitfalls/api/state", live.interviewer_token)[1])[
            "session"]["clock"]["state"] != "paused"


JUPYTER_ROUTES = ["/api/status", "/api/kernels", "/api/contents", "/api/sessions", "/api/terminals", "/api/me",
                  "/login", "/logout", "/metrics", "/static/style/bootstrap.min.css", "/tree", "/lab", "/files/x",
                  "/pitfalls_host/static/x"]


def test_jupyter_servers_own_routes_answer_nowhere(two):
    """jupyter-server's own routes (and the extension's static path) on each session's interviewer
    port, with each of its tokens and none: 404, as on a session server of its own."""
    _, a, b = two
    for live in (a, b):
        for path in JUPYTER_ROUTES:
            for token in (live.interviewer_token, live.candidate_token, ""):
                assert _get(live.interviewer_port, path, token)[0] == 404, (path, token)


def _submit(live: sessions.LiveSession, *args: str) -> dict:
    """The real `pitfalls-submit` client on the session's session.sock."""
    env = {**os.environ, "PITFALLS_SESSION_SOCK": str(live.run_dir / "session.sock")}
    proc = subprocess.run([sys.executable, str(SUBMIT), "--json", *args], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode in (0, 2), proc.stderr
    return json.loads(proc.stdout)


def test_sigkilled_host_server_comes_back_with_every_session_and_loses_nothing(two, pitfalls_home):
    proc, a, b = two
    answer = _submit(a, "the starter, through A's socket")
    assert answer["status"] == "scored", answer
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not state.host_pid() and _get(a.interviewer_port, "/pitfalls/api/status", a.interviewer_token)[0] == 0
    started = run_cli("server", "--detach", "--json", check=True, timeout=120)
    assert json.loads(started.stdout)["pid"] != proc.pid
    con = sqlite3.connect(pitfalls_home / "pitfalls.sqlite")
    row = con.execute("SELECT session_id, status, score_public, note FROM submissions WHERE id=?",
                      (answer["submission_id"],)).fetchone()
    assert row == (a.session_id, "scored", answer["score"], "the starter, through A's socket")
    for live in (a, b):  # the same ports and tokens, read again from disk
        again = sessions.load_session(live.session_id)
        assert (again.port, again.interviewer_port, again.interviewer_token) == (
            live.port, live.interviewer_port, live.interviewer_token)
        code, body = _get(live.interviewer_port, "/pitfalls/api/state", live.interviewer_token)
        assert code == 200
        assert [s["id"] for s in json.loads(body)["submissions"]] == (
            [answer["submission_id"]] if live is a else [])
    assert _get(b.port, STATUS_URL, b.candidate_token)[0] == 200
    assert (_submit(a, "--status")["submissions"], _submit(b, "--status")["submissions"]) == (1, 0)


def test_stop_detaches_and_a_resume_rebinds_a_port_taken_meanwhile(two):
    """`session stop`'s server part detaches (the ports close, the host keeps serving the other);
    a resume re-checks the ports as for a server of its own (928a302): a port taken since is replaced."""
    proc, a, b = two
    stop_server(a)
    assert _get(a.interviewer_port, "/pitfalls/api/status", a.interviewer_token)[0] == 0
    assert _get(b.interviewer_port, "/pitfalls/api/status", b.interviewer_token)[0] == 200
    assert set(state.attached()) == {b.session_id} and not server_running(a)
    taken, kept = a.interviewer_port, a.port
    with socket.socket() as squatter:  # another program (its port's closed connections wait in TIME_WAIT)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        resumed = _serve(a)
        assert resumed.interviewer_port != taken and resumed.port == kept
    assert _get(resumed.interviewer_port, "/pitfalls/api/status", a.interviewer_token)[0] == 200
    assert _get(kept, STATUS_URL, a.candidate_token)[0] == 200
    assert state.host_pid() == proc.pid


def test_the_control_socket_refuses_other_users_and_unmarked_sessions(two, pitfalls_home):
    _, a, _ = two
    plain = _new_session("C")  # never marked as host-served
    status, data = state.control("POST", "/attach", {"session_id": plain.session_id})
    assert status == 400 and "must be marked as served by the host server" in data["message"]
    assert state.control("POST", "/attach", {"session_id": "../x"})[0] == 400
    if os.geteuid() != 0 or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root and /usr/bin/python3 to try the control socket as uid 1000 (the candidate's uid)")
    probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\n"
             "except OSError as e:\n print(type(e).__name__)")
    out = subprocess.run(["/usr/bin/python3", "-I", "-c", probe, str(state.host_dir() / state.CONTROL_SOCKET)],
                         capture_output=True, text=True, user=1000, timeout=30).stdout.strip()
    assert out == "PermissionError", out


def test_server_cli_errors_are_clear(pitfalls_home):
    proc = run_cli("server", "--stop", "--status")
    assert proc.returncode == 2 and "At most one of --detach, --stop and --status must be given. Got --stop and " \
                                   "--status instead." in proc.stderr
    proc = run_cli("server", "--stop")
    assert proc.returncode == 0 and "No host server ran for" in proc.stdout
    assert "No host server runs" in run_cli("server", "--status").stdout
    fg = subprocess.Popen([sys.executable, "-m", "pitfalls", "server"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:  # the foreground server execs itself: a supervisor's pid is the server's
        deadline = time.monotonic() + 60
        while not state.answers() and time.monotonic() < deadline:
            assert fg.poll() is None
            time.sleep(0.1)
        assert state.host_pid() == fg.pid
        for args in (("server", "--detach"), ("server",)):
            second = run_cli(*args)
            assert second.returncode == 1 and f"Got one already running for {state.home_arg()} (pid {fg.pid}" \
                in second.stderr and "`pitfalls server --stop` first" in second.stderr, second.stderr
    finally:
        fg.send_signal(signal.SIGTERM)
        assert fg.wait(timeout=60) == 0
    assert not (state.host_dir() / state.PID_FILE).exists()


def test_sessions_started_together_start_one_host_server(pitfalls_home):
    """Sessions resumed at the same moment with their host server down each ask for it: one starts,
    the others wait for it instead of failing on its lock."""
    with ThreadPoolExecutor(4) as pool:
        pids = list(pool.map(lambda _: host.ensure_running(), range(4)))
    try:
        running = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and state.is_host_process(int(p.name))]
        assert len(set(pids)) == 1 and running == pids[:1] == [state.host_pid()]
    finally:
        host.stop()


@pytest.mark.docker
def test_session_start_uses_the_host_server_when_it_runs(pitfalls_home):
    from pitfalls.live import containers

    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    proc = host.start_detached()
    try:
        info = sessions.start_session(scaffold="tumor_triage", candidate="Ada", duration_minutes=30)
        live = sessions.load_session(info.session_id)
        assert live.served_by == "host" and live.server_pid == proc.pid and info.server_running
        assert not live.server_socket.exists()  # no jp.sock: no session server process of its own
        assert _get(live.port, "/candidate/api/status", live.candidate_token)[0] == 200  # the container's lab
        sessions.stop_session(session_id=live.session_id)
        assert state.attached() == {} and state.host_pid() == proc.pid
    finally:
        host.stop()
        proc.wait(timeout=60)


def test_a_detach_closes_kept_alive_connections_too(two):
    """Was (review): a detached session's kept-alive connections went on reaching its old application,
    so a dashboard left open across `session stop` and a resume got 500s on every poll."""
    import http.client

    _, a, b = two
    conn = http.client.HTTPConnection("127.0.0.1", a.interviewer_port, timeout=10)
    conn.request("GET", "/pitfalls/api/status", headers={"Authorization": f"token {a.interviewer_token}"})
    first = conn.getresponse()
    first.read()
    assert first.status == 200 and not first.will_close  # kept alive
    stop_server(a)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/pitfalls/api/status", headers={"Authorization": f"token {a.interviewer_token}"})
        conn.getresponse().read()
    conn.close()
    assert _get(b.interviewer_port, "/pitfalls/api/status", b.interviewer_token)[0] == 200


def _concrete(pattern: str) -> str:
    """A path that ``pattern`` (an interviewer route) matches."""
    return (pattern.replace("([A-Za-z0-9_-]{16,64})", "A" * 32).replace("(.+)", "model.py")
            .replace("([0-9]{1,12})", "1"))


def test_no_interviewer_route_answers_another_sessions_token(two):
    """Every interviewer route the server has (INTERVIEWER_ROUTES: the seat's hint, rubric and diff, the
    container recovery, the report, the files...), GET and POST, with session A's interviewer token on
    B's port: nothing answers 2xx and nothing is written. The dashboard's page is a shell without data."""
    from pitfalls.live.server.mount import INTERVIEWER_ROUTES

    _, a, b = two
    paths = [_concrete(pattern) for pattern, *_ in INTERVIEWER_ROUTES if pattern != r"/pitfalls/dashboard"]
    assert len(paths) >= 14 and "/pitfalls/api/hint" in paths and "/pitfalls/api/container" in paths
    for path in paths:
        for method in ("GET", "POST"):
            code, body = _get(b.interviewer_port, path, a.interviewer_token, method, {} if method == "POST" else None)
            assert code in (401, 403, 404, 405), (method, path, code, body[:200])
    assert _get(b.interviewer_port, "/pitfalls/api/files/model.py", b.interviewer_token)[0] == 200  # positive control
    assert _get(b.interviewer_port, "/pitfalls/api/files/model.py", a.interviewer_token)[0] == 403
    store = Store()
    assert store.events(b.session_id, "hint") == [] and store.events(b.session_id, "note") == []

"""Live sessions end to end, on a real Docker engine: `pitfalls session start|status|stop|report`.

One session of tumor_triage for the module, driven through the CLI, the proxied JupyterLab (HTTP
and a kernel's WebSocket), `pitfalls-submit` inside the container and the interviewer's API. Then
the failures an interview must survive: the session server killed with SIGKILL and the container
killed, both resumed by `session start` with nothing lost; `stop` keeps everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado import httpclient, websocket

from conftest import REPO
from pitfalls.live import containers
from pitfalls.sandbox import quota
from test_containers import assert_no_secrets

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    containers.ensure_image()
    return tmp_path_factory.mktemp("session-home")


def cli(home: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pitfalls", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PITFALLS_HOME": str(home)})
    if check and proc.returncode != 0:
        raise AssertionError(f"pitfalls {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def started(home: Path) -> Iterator[dict[str, Any]]:
    info = json.loads(cli(home, "session", "start", "tumor_triage", "--candidate", "Ada", "--duration", "30",
                          "--json").stdout)
    try:
        yield info
    finally:
        cli(home, "session", "stop", info["session_id"], check=False)


def http(url: str, *, token: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _base(info: dict[str, Any]) -> str:
    """The candidate's origin (JupyterLab under /candidate/)."""
    return info["candidate_url"].split("/candidate/")[0]


def _ibase(info: dict[str, Any]) -> str:
    """The interviewer's origin (dashboard, API and report under /pitfalls/): another port."""
    return info["interviewer_url"].split("/pitfalls/")[0]


def _tokens(info: dict[str, Any]) -> tuple[str, str]:
    return info["candidate_url"].rsplit("token=", 1)[1], info["interviewer_url"].rsplit("token=", 1)[1]


def test_start_prints_both_urls_and_a_locked_down_container(started):
    assert {"candidate_url", "interviewer_url", "session_id", "container"} <= set(started)
    cand, interviewer = _tokens(started)
    assert cand != interviewer and len(cand) >= 24 and started["container_state"] == "running"
    cfg = json.loads(subprocess.run(["docker", "inspect", started["container"]], capture_output=True).stdout)[0]
    host = cfg["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and cfg["Config"]["User"] == "1000:1000"
    assert host["Memory"] == 4096 * 2**20 and host["PidsLimit"] == 512 and "no-new-privileges" in host["SecurityOpt"]
    assert cfg["Name"] == f"/pitfalls-session-{started['session_id']}" == f"/{started['container']}"
    assert interviewer not in json.dumps(cfg)
    # Nothing writable grows without bound: a read-only image, tmpfs scratch, a bounded workspace.
    assert host["ReadonlyRootfs"] and set(host["Tmpfs"]) == {"/tmp", "/home/candidate"}
    assert quota.is_mounted(Path(started["workspace"])) == quota.available()


def test_candidate_url_is_jupyterlab_behind_its_own_token(started):
    cand, interviewer = _tokens(started)
    code, page = http(started["candidate_url"])
    assert code == 200 and b"JupyterLab" in page
    code, listing = http(f"{_base(started)}/candidate/api/contents", token=cand)
    assert code == 200 and "train.py" in {e["name"] for e in json.loads(listing)["content"]}
    for wrong in ("nope-" * 5, interviewer):
        assert http(f"{_base(started)}/candidate/api/contents", token=wrong)[0] == 403


def test_a_kernel_runs_code_through_the_proxied_websocket(started):
    cand, _ = _tokens(started)
    base = _base(started)
    code, body = http(f"{base}/candidate/api/kernels", token=cand, method="POST", body={"name": "python3"})
    assert code == 201, body
    kernel = json.loads(body)["id"]

    async def run() -> str:
        url = f"{base.replace('http', 'ws', 1)}/candidate/api/kernels/{kernel}/channels?token={cand}"
        conn = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers={"Origin": base}))
        msg_id = uuid.uuid4().hex
        await conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "t", "session": "t",
                       "version": "5.3", "date": ""}, "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": "import os; print(6 * 7, os.getuid())", "silent": False}}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = json.loads(await conn.read_message())
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "stream":
                conn.close()
                return msg["content"]["text"]
        raise AssertionError("no output from the kernel within 60 s")

    try:
        assert asyncio.run(asyncio.wait_for(run(), timeout=90)).strip() == "42 1000"
    finally:
        http(f"{base}/candidate/api/kernels/{kernel}", token=cand, method="DELETE")


def test_pitfalls_submit_in_the_container_reaches_the_interviewer(started):
    cand, interviewer = _tokens(started)
    proc = subprocess.run(["docker", "exec", started["container"], "pitfalls-submit", "--json", "from a terminal"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["status"] == "scored" and 0 < answer["remaining_seconds"] <= 1800
    assert "private_score" not in answer and "probes" not in answer
    code, body = http(f"{_ibase(started)}/pitfalls/api/state", token=interviewer)
    [sub] = json.loads(body)["submissions"]
    assert code == 200 and sub["note"] == "from a terminal" and sub["score_public"] == answer["score"]
    assert http(f"{_ibase(started)}/pitfalls/api/state", token=cand)[0] == 403


def test_the_session_container_holds_no_label_solution_guide_or_seed(started, tmp_path):
    workspace = Path(started["workspace"])
    assert_no_secrets(cid=started["container"], workspace=workspace, socket_dir=workspace.parent / "run",
                      tmp_path=tmp_path)


def test_status_and_report(started, home, tmp_path):
    listed = json.loads(cli(home, "session", "status", "--json").stdout)
    [mine] = [s for s in listed if s["session_id"] == started["session_id"]]
    assert mine["server_running"] and mine["container_state"] == "running" and mine["submissions"] == 1
    text = cli(home, "session", "status", started["session_id"]).stdout
    assert started["interviewer_url"] in text and "1 submissions" in text
    out = tmp_path / "report.html"
    cli(home, "session", "report", started["session_id"], "-o", str(out))
    html = out.read_text()
    assert "from a terminal" in html and "<svg" in html and "label_misalignment" in html
    assert _tokens(started)[0] not in html and _tokens(started)[1] not in html


def test_killed_server_and_container_are_resumed_with_nothing_lost(started, home):
    workspace = Path(started["workspace"])
    subprocess.run(["docker", "exec", started["container"], "sh", "-c", "echo kept > /home/candidate/work/mine.py"],
                   check=True, timeout=60)
    pid = json.loads((workspace.parent / "session.json").read_text())["server_pid"]
    os.kill(pid, signal.SIGKILL)
    subprocess.run(["docker", "kill", started["container"]], capture_output=True, timeout=60)
    time.sleep(0.5)
    for url in (started["candidate_url"], started["interviewer_url"]):
        with pytest.raises(OSError):  # the server is gone: nothing answers
            urllib.request.urlopen(url, timeout=5)

    again = json.loads(cli(home, "session", "start", "tumor_triage", "--candidate", "Ada", "--json").stdout)
    assert again["resumed"] and again["session_id"] == started["session_id"]
    assert again["candidate_url"] == started["candidate_url"] and again["submissions"] == 1
    assert again["interviewer_url"] == started["interviewer_url"]  # the same two ports and tokens
    assert (workspace / "mine.py").read_text() == "kept\n"
    assert http(started["candidate_url"])[0] == 200
    proc = subprocess.run(["docker", "exec", started["container"], "pitfalls-submit", "--status", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["submissions"] == 1


def test_a_start_killed_before_the_files_were_written_is_redone(home, monkeypatch):
    """A start killed after the session's record was made but before its starting files were all
    written (the workspace was never shown to anyone): starting it again writes them afresh."""
    from pitfalls.core.store import Store
    from pitfalls.live import sessions

    monkeypatch.setenv("PITFALLS_HOME", str(home))
    store = Store()
    live = sessions._create(store, scaffold="tumor_triage", candidate="Killed", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=256,
                            fill=False)
    store.close()
    (live.workspace / "train.py").write_text("half-writ")  # what the killed start left
    info = json.loads(cli(home, "session", "start", "tumor_triage", "--candidate", "Killed", "--json").stdout)
    try:
        workspace = Path(info["workspace"])
        assert info["resumed"] and info["session_id"] == live.session_id
        assert (workspace / "train.py").read_text() == (REPO / "scaffolds/tumor_triage/workspace/train.py").read_text()
        assert (workspace / "data" / "train.csv").is_file() and (workspace / "BRIEF.md").is_file()
        assert json.loads((workspace.parent / "session.json").read_text())["ready"]
    finally:
        cli(home, "session", "stop", live.session_id, check=False)


def test_stop_keeps_the_workspace_and_submissions(started, home):
    sid = started["session_id"]
    stopped = json.loads(cli(home, "session", "stop", sid, "--json").stdout)
    assert stopped["container_state"] == "absent" and not stopped["server_running"] and stopped["ended_at"]
    assert stopped["submissions"] == 1 and (Path(stopped["workspace"]) / "train.py").is_file()
    # Stopped, the workspace is a plain folder again (no mount or image left behind), files and owners kept.
    workspace = Path(stopped["workspace"])
    assert not quota.is_mounted(workspace) and not (workspace.parent / "workspace.img").exists()
    assert (workspace / "mine.py").read_text() == "kept\n" and (workspace / "mine.py").stat().st_uid == 1000
    with pytest.raises(OSError):
        urllib.request.urlopen(started["interviewer_url"], timeout=5)
    again = json.loads(cli(home, "session", "start", "tumor_triage", "--session", sid, "--json").stdout)
    assert again["resumed"] and again["ended_at"] is None and again["container_state"] == "running"
    assert http(started["interviewer_url"])[0] == 200
    assert quota.is_mounted(workspace) == quota.available() and (workspace / "mine.py").read_text() == "kept\n"


def _memory_mb(s: dict[str, Any]) -> tuple[float, float]:
    """(the session server's RSS, the container's memory as its cgroup counts it), MiB."""
    pid = json.loads((Path(s["workspace"]).parent / "session.json").read_text())["server_pid"]
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    used = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", s["container"]],
                          capture_output=True, text=True, timeout=60).stdout.split("/")[0].strip()
    number, unit = float(used[:-3]), used[-3:]
    return rss_kb / 1024, number * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_eight_sessions_start_and_score_at_once_and_keep_to_themselves(started, home):
    """Seven more sessions started at the same moment beside the first: distinct ports, containers and
    workspaces; eight simultaneous submissions, each scored and recorded in its own session (no
    deadlock: all within the timeout); memory per session bounded; no token works on another session."""
    import concurrent.futures as cf

    def start(i: int) -> dict[str, Any]:
        return json.loads(cli(home, "session", "start", "tumor_triage", "--candidate", f"C{i}", "--json").stdout)

    others: list[dict[str, Any]] = []
    try:
        with cf.ThreadPoolExecutor(7) as pool:
            others = list(pool.map(start, range(7)))
        sessions = [started, *others]
        assert len({_base(s) for s in sessions}) == 8 and len({s["container"] for s in sessions}) == 8
        assert len({s["workspace"] for s in sessions}) == 8
        before = [len(json.loads(http(f"{_ibase(s)}/pitfalls/api/state", token=_tokens(s)[1])[1])["submissions"])
                  for s in sessions]

        def submit(s: dict[str, Any]) -> tuple[dict[str, Any], float]:
            t0 = time.monotonic()
            proc = subprocess.run(["docker", "exec", s["container"], "pitfalls-submit", "--json", f"from {s['candidate']}"],
                                  capture_output=True, text=True, timeout=600)
            return json.loads(proc.stdout), time.monotonic() - t0

        with cf.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(submit, sessions))
        print("seconds per submission:", [round(t) for _, t in answers])
        assert [a["status"] for a, _ in answers] == ["scored"] * 8, answers
        for s, n in zip(sessions, before):
            subs = json.loads(http(f"{_ibase(s)}/pitfalls/api/state", token=_tokens(s)[1])[1])["submissions"]
            assert len(subs) == n + 1 and subs[-1]["note"] == f"from {s['candidate']}"
        memory = [_memory_mb(s) for s in sessions]
        print("MiB (server RSS, container) per session:", [(round(a), round(b)) for a, b in memory])
        assert all(server < 768 and container < 1024 for server, container in memory), memory
        for a, b in zip(sessions, sessions[1:] + sessions[:1]):
            assert http(f"{_base(b)}/candidate/api/contents", token=_tokens(a)[0])[0] == 403
            assert http(f"{_ibase(b)}/pitfalls/api/state", token=_tokens(a)[1])[0] == 403
    finally:  # every session but the module's own, even those of a start that failed half-way
        listed = json.loads(cli(home, "session", "status", "--json").stdout)
        for s in listed:
            if s["session_id"] != started["session_id"] and not s.get("ended_at"):
                cli(home, "session", "stop", s["session_id"], check=False)

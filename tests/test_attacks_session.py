"""Attacks by the candidate from inside a live session, and a burst of submissions (issue 5).

One live session of tumor_triage for the module (the attacker), plus a second one (the victim)
for the attacks that need one, both started through the CLI on a real Docker engine. Each test is
one attack, made the way a candidate would make it: as uid 1000 in the session's container
(``docker exec -u 1000``, the same user, namespaces and cgroups as the JupyterLab terminal; the
fork bomb runs in the JupyterLab terminal itself), or with the code a submission runs. Each test
asserts that the attempt fails and that the session goes on: ``pitfalls-submit --status``
answers, both URLs answer, and (where an attack could have broken scoring) one honest
``pitfalls-submit`` still scores.

Scored submissions are rate-limited per session (tumor_triage: ``[feedback]`` 20 per 10 min), so
the burst runs last: after it, an honest submission is rejected by the rate limit, as it should.
Attacks that succeed are strict xfails whose reason says what the hole is (a fix turns them into
failures until the mark goes). The module takes about 5-6 minutes, most of it scoring the 20
submissions the rate limit allows.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tarfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tornado import httpclient, websocket

from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import MAX_SNAPSHOT_MB
from pitfalls.live import containers
from pitfalls.live.server.service import MAX_NOTE_CHARS, MAX_QUEUED
from test_sessions import _base, _ibase, _tokens, cli, home, http  # noqa: F401 - home: the module-scoped state folder fixture

pytestmark = pytest.mark.docker

SCAFFOLD = "tumor_triage"
RUN = "/run/pitfalls"
WORK = "/home/candidate/work"
ATTACKER_DISK_MB = 512  # the attacker's workspace file system (session start --disk-mb)
SCORE_SECONDS: list[float] = []
"""Wall time of each scored honest submission of this module (the burst's time bound uses them)."""


# ---- sessions ------------------------------------------------------------------------------------

def _start(home: Path, candidate: str) -> dict[str, Any]:  # noqa: F811 - a parameter, not the fixture
    info = json.loads(cli(home, "session", "start", SCAFFOLD, "--candidate", candidate, "--duration", "30",
                          "--disk-mb", str(ATTACKER_DISK_MB), "--json").stdout)
    info["home"] = home
    return info


@pytest.fixture(scope="module")
def attacker(home: Path) -> Iterator[dict[str, Any]]:  # noqa: F811 - the imported fixture, by name
    """The candidate's live session: every attack is made from its container."""
    info = _start(home, "Mallory")
    try:
        yield info
    finally:
        cli(home, "session", "stop", info["session_id"], check=False)


@pytest.fixture(scope="module")
def victim(home: Path, attacker) -> Iterator[dict[str, Any]]:  # noqa: F811 - the imported fixture, by name
    """Another candidate's live session on the same host, with a canary file in its workspace."""
    info = _start(home, "Victim")
    canary = f"victim-canary-{uuid.uuid4().hex}"
    path = Path(info["workspace"]) / "my_notes.md"
    path.write_text(f"# private notes\n{canary}\n")
    os.chown(path, containers.CANDIDATE_UID, containers.CANDIDATE_UID)
    info["canary"] = canary
    try:
        yield info
    finally:
        cli(home, "session", "stop", info["session_id"], check=False)


def _session_json(info: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(info["workspace"]).parent / "session.json").read_text())


def _dexec(info: dict[str, Any], *cmd: str, user: str = "1000:1000", timeout: float = 120
           ) -> subprocess.CompletedProcess:
    """Run ``cmd`` in the session's container as ``user`` (the candidate by default)."""
    return subprocess.run(["docker", "exec", "-u", user, info["container"], *cmd], capture_output=True,
                          text=True, timeout=timeout)


def _py(info: dict[str, Any], code: str, *args: Any, timeout: float = 120, user: str = "1000:1000") -> Any:
    """Run Python ``code`` in the container (``sys.argv[1:]`` = ``args``); its last stdout line, as JSON."""
    proc = _dexec(info, "python3", "-c", textwrap.dedent(code), *map(str, args), user=user, timeout=timeout)
    assert proc.returncode == 0 and proc.stdout.strip(), f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _state(info: dict[str, Any]) -> dict[str, Any]:
    code, body = http(f"{_ibase(info)}/pitfalls/api/state", token=_tokens(info)[1])
    assert code == 200, body[:500]
    return json.loads(body)


def _submissions(info: dict[str, Any]) -> list[dict[str, Any]]:
    return _state(info)["submissions"]


def _submit(info: dict[str, Any], note: str, *, timeout: float = 600) -> tuple[int, dict[str, Any], float]:
    """``pitfalls-submit --json NOTE`` in the container: (exit code, answer, seconds)."""
    start = time.monotonic()
    proc = _dexec(info, "pitfalls-submit", "--json", note, timeout=timeout)
    seconds = time.monotonic() - start
    try:
        answer = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        answer = {"unparsed": proc.stdout}
    return proc.returncode, answer | ({"stderr": proc.stderr} if proc.stderr else {}), seconds


def _scores(info: dict[str, Any], note: str) -> dict[str, Any]:
    """An honest submission scores, is recorded with its note, and shows no private score."""
    code, answer, seconds = _submit(info, note)
    assert code == 0 and answer.get("status") == "scored", answer
    assert not {"private_score", "private_normalized", "probes"} & set(answer)
    SCORE_SECONDS.append(seconds)
    assert _submissions(info)[-1]["note"] == note
    return answer


def _goes_on(info: dict[str, Any], *, score: str | None = None) -> None:
    """The session goes on: ``pitfalls-submit --status`` answers, both URLs answer, the container runs;
    with ``score``, one honest submission with that note scores."""
    proc = _dexec(info, "pitfalls-submit", "--status", "--json", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["remaining_seconds"] > 0 and status["submissions"] >= 0
    assert http(info["candidate_url"])[0] == 200  # JupyterLab, through the proxy and jupyter.sock
    assert _state(info)["session"]["container_state"] in ("running", "unknown")
    assert containers.container_status(name_or_id=info["container"]).state == "running"
    if score is not None:
        _scores(info, score)


def _host_addresses() -> list[str]:
    try:
        out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, timeout=10).stdout
        found = [a["local"] for i in json.loads(out) for a in i.get("addr_info", [])]
    except (OSError, ValueError, subprocess.TimeoutExpired):
        found = []
    return [a for a in found if not a.startswith("fe80")]


def _docker_gateways() -> list[str]:
    nets = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True, timeout=30).stdout.split()
    out = ["172.17.0.1"]  # the default bridge's usual gateway, even when this engine has no bridge
    for net in nets:
        cfg = subprocess.run(["docker", "network", "inspect", "--format", "{{json .IPAM.Config}}", net],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        for entry in json.loads(cfg or "null") or []:
            if entry.get("Gateway"):
                out.append(entry["Gateway"])
    return list(dict.fromkeys(out))


# ---- a search of everything the candidate can read --------------------------------------------------

@pytest.fixture(scope="module")
def container_search(attacker, victim) -> dict[str, Any]:
    """Search all the candidate (uid 1000) can read in the attacker's container, once, for the
    interviewer's token, the victim's tokens and canary; with positive controls."""
    _, interviewer = _tokens(attacker)
    v_cand, v_int = _tokens(victim)
    needles = {"interviewer token": interviewer, "victim candidate token": v_cand,
               "victim interviewer token": v_int, "victim canary": victim["canary"],
               # controls: the own workspace marker, the image's submit command
               "control: own session id": attacker["session_id"], "control: rootfs": "POST /submit"}
    start = time.monotonic()
    proc = _dexec(attacker, "grep", "-rsaFo", "-D", "skip", "--exclude-dir=proc", "--exclude-dir=sys",
                  "--exclude-dir=dev", *[a for n in needles.values() for a in ("-e", n)], "/", timeout=600)
    files: dict[str, set[str]] = {name: set() for name in needles}
    for line in proc.stdout.splitlines():
        path, _, match = line.rpartition(":")
        for name, needle in needles.items():
            if match == needle:
                files[name].add(path)
    procs = _py(attacker, """
        import glob, json, os, sys
        needles = json.loads(sys.argv[1])
        hits = {name: [] for name in needles}
        for d in glob.glob("/proc/[0-9]*"):
            if d == f"/proc/{os.getpid()}":  # this search itself has the needles in its argv
                continue
            for part in ("cmdline", "environ"):
                try:
                    data = open(f"{d}/{part}", "rb").read().decode("utf-8", "replace")
                except OSError:
                    continue
                for name, needle in needles.items():
                    if needle in data:
                        hits[name].append(f"{d}/{part}")
        print(json.dumps(hits))
    """, json.dumps(needles | {"control: candidate token": _tokens(attacker)[0]}))
    return {"files": files, "procs": procs, "seconds": time.monotonic() - start}


# ---- 1-3: the engine, the host's processes, the network ------------------------------------------

def test_docker_socket_is_absent(attacker):
    """The candidate looks for the Docker engine's socket (and containerd's, and any UNIX socket in the
    container's filesystem or its network namespace) to start a privileged container."""
    found = _py(attacker, """
        import json, os, socket, stat
        out = {"connect": {}, "sockets": [], "unix_table": [], "env": {}}
        for p in ("/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd/containerd.sock",
                  "/run/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock"):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(3)
            try:
                s.connect(p)
                out["connect"][p] = "connected"
            except OSError as e:
                out["connect"][p] = e.errno
            finally:
                s.close()
        for root, dirs, files in os.walk("/", onerror=lambda e: None):
            if root == "/":
                dirs[:] = [d for d in dirs if d not in ("proc", "sys")]
            for name in files + dirs:
                try:
                    if stat.S_ISSOCK(os.lstat(os.path.join(root, name)).st_mode):
                        out["sockets"].append(os.path.join(root, name))
                except OSError:
                    pass
        for line in open("/proc/net/unix").read().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 7:
                out["unix_table"].append(parts[7])
        out["env"] = {k: v for k, v in os.environ.items() if "DOCKER" in k or "CONTAINERD" in k}
        print(json.dumps(out))
    """)
    assert set(found["connect"].values()) == {2}, found["connect"]  # ENOENT: no such file
    assert sorted(found["sockets"]) == [f"{RUN}/jupyter.sock", f"{RUN}/session.sock"], found["sockets"]
    assert not [p for p in found["unix_table"] if "docker" in p or "containerd" in p], found["unix_table"]
    assert found["env"] == {}
    _goes_on(attacker)


def test_host_processes_are_invisible(attacker):
    """The candidate lists /proc for the session server (which holds both tokens), dockerd and
    containerd, and signals the server's host pid: only the container's own processes exist."""
    server_pid = _session_json(attacker)["server_pid"]
    cmdline = Path(f"/proc/{server_pid}/cmdline").read_bytes()  # the session's own server, or the host server
    assert b"pitfalls.live.server" in cmdline or b"pitfalls.live.host" in cmdline, cmdline
    seen = _py(attacker, """
        import glob, json, os, sys
        procs = {}
        for d in glob.glob("/proc/[0-9]*"):
            try:
                cmd = open(d + "/cmdline", "rb").read().replace(b"\\0", b" ").decode("utf-8", "replace")
                uid = [l.split()[1] for l in open(d + "/status") if l.startswith("Uid:")][0]
            except OSError:
                continue
            procs[d.split("/")[-1]] = {"cmd": cmd, "uid": uid}
        try:
            os.kill(int(sys.argv[1]), 0)
            signal = "delivered: " + procs.get(sys.argv[1], {}).get("cmd", "?")
        except ProcessLookupError:
            signal = "no such process"
        except PermissionError:
            signal = "permission denied"
        print(json.dumps({"procs": procs, "signal": signal, "ns": os.readlink("/proc/self/ns/pid")}))
    """, server_pid)
    cmds = [p["cmd"] for p in seen["procs"].values()]
    for word in ("session_server", "dockerd", "containerd", "pytest", "bwrap", attacker["session_id"]):
        assert not [c for c in cmds if word in c], (word, cmds)
    assert {p["uid"] for p in seen["procs"].values()} == {"1000"}
    assert "docker-init" in seen["procs"]["1"]["cmd"] and any("jupyter-lab" in c or "jupyter lab" in c for c in cmds)
    assert len(cmds) < 32, cmds
    assert seen["ns"] != os.readlink("/proc/self/ns/pid")
    assert not seen["signal"].startswith("delivered") or "pitfalls" not in seen["signal"], seen["signal"]
    _goes_on(attacker)


def test_network_reaches_nothing(attacker):
    """The candidate connects to the session server's TCP port (127.0.0.1, ::1 and each host address),
    the Docker gateways, 1.1.1.1 and 8.8.8.8 (TCP and UDP), and resolves a name: all fail, only lo exists."""
    ports = [int(_base(attacker).rsplit(":", 1)[1]), int(_ibase(attacker).rsplit(":", 1)[1])]
    hosts = list(dict.fromkeys(["127.0.0.1", "::1", *_host_addresses()]))
    for port in ports:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # positive control: both ports (candidate's, interviewer's) answer on the host
    targets = [(h, port) for h in hosts for port in ports]
    targets += [(g, p) for g in _docker_gateways() for p in (*ports, 2375, 2376, 80)]
    targets += [("1.1.1.1", 443), ("1.1.1.1", 53), ("8.8.8.8", 53)]
    got = _py(attacker, """
        import json, os, socket, sys
        out = {"tcp": {}, "udp": None, "dns": None, "ifaces": sorted(os.listdir("/sys/class/net"))}
        for host, port in json.loads(sys.argv[1]):
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(3)
            try:
                s.connect((host, port))
                out["tcp"][f"{host}:{port}"] = "connected"
            except OSError as e:
                out["tcp"][f"{host}:{port}"] = f"{type(e).__name__} {e.errno}"
            finally:
                s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.sendto(b"x", ("1.1.1.1", 53))
            out["udp"] = "sent"
        except OSError as e:
            out["udp"] = f"{type(e).__name__} {e.errno}"
        try:
            socket.getaddrinfo("example.com", 80)
            out["dns"] = "resolved"
        except OSError as e:
            out["dns"] = type(e).__name__
        print(json.dumps(out))
    """, json.dumps(targets), timeout=300)
    assert got["ifaces"] == ["lo"]
    assert len(got["tcp"]) == len(set(map(tuple, targets))) >= 8
    assert not [t for t, r in got["tcp"].items() if r == "connected"], got["tcp"]
    assert got["udp"] != "sent" and got["dns"] != "resolved", got
    _goes_on(attacker)


# ---- 4: the host's store, snapshots, session.json, tokens ----------------------------------------

def test_host_store_snapshots_and_tokens_are_not_in_the_container(attacker, container_search):
    """The candidate searches all it can read for the interviewer's token, looks for the host's SQLite
    store, snapshots and session.json (their host paths show in /proc/self/mountinfo), and plants
    symlinks to them in the workspace for the snapshot, the interviewer's file view and Jupyter to follow."""
    home = Path(attacker["home"])  # noqa: F811 - a local, not the fixture
    sid = attacker["session_id"]
    folder = Path(attacker["workspace"]).parent
    secret_paths = [home / "pitfalls.sqlite", home / "snapshots" / sid, folder / "session.json",
                    folder / "server.log", home / "sessions"]
    assert all(p.exists() for p in secret_paths if p.parent.name != "snapshots")  # on the host
    hits, procs = container_search["files"], container_search["procs"]
    assert hits["control: own session id"] and hits["control: rootfs"], "the search missed its controls"
    assert procs["control: candidate token"], "the /proc search missed its control"
    assert not hits["interviewer token"] and not procs["interviewer token"], (hits, procs)

    seen = _py(attacker, """
        import json, os, sys
        paths = json.loads(sys.argv[1])
        mounts = [l.split()[3:5] for l in open("/proc/self/mountinfo")]
        print(json.dumps({"exists": {p: os.path.exists(p) for p in paths}, "mounts": mounts}))
    """, json.dumps([str(p) for p in secret_paths] + [str(home)]))
    assert not any(seen["exists"].values()), seen["exists"]
    # Of the session's folder only the workspace and the sealed socket folder are mounted; nothing else of
    # home. The workspace is its own file system (root "/") when the host bounds it, else a host folder.
    from_session = sorted(mp for root, mp in seen["mounts"] if sid in root)
    assert from_session in ([RUN], sorted([RUN, WORK])), seen["mounts"]
    assert [root for root, mp in seen["mounts"] if mp == WORK] in (["/"], [f"{folder}/workspace"]), seen["mounts"]
    assert not [m for m in seen["mounts"] if re.search(r"snapshots|pitfalls\.sqlite|session\.json|/sessions/?$", m[0])]

    links = {"store.sqlite": home / "pitfalls.sqlite", "session.json": secret_paths[2],
             "snapshots": home / "snapshots", "etc": Path("/etc")}
    for name, target in links.items():
        assert _dexec(attacker, "ln", "-s", str(target), f"{WORK}/{name}").returncode == 0
    try:
        cand, interviewer = _tokens(attacker)
        listed = json.loads(http(f"{_ibase(attacker)}/pitfalls/api/files", token=interviewer)[1])["files"]
        assert not {f["path"] for f in listed} & set(links)
        container_passwd = _dexec(attacker, "cat", "/etc/passwd").stdout
        for name in ("store.sqlite", "session.json", "snapshots", "etc/passwd"):
            code, body = http(f"{_ibase(attacker)}/pitfalls/api/files/{name}", token=interviewer)
            assert code == 404 and interviewer.encode() not in body and b"SQLite" not in body, (name, code, body[:200])
            # Jupyter, in the container, follows a link there: to nothing, or to the container's own files.
            code, body = http(f"{_base(attacker)}/candidate/api/contents/{name}?content=1", token=cand)
            assert interviewer.encode() not in body and b"SQLite format" not in body, (name, code, body[:200])
            if code == 200:
                assert name == "etc/passwd" and json.loads(body)["content"] == container_passwd, (name, body[:300])
            else:  # 400 "Cannot read non-file" (a dangling link) or 404
                assert code in (400, 404), (name, code, body[:200])
        _scores(attacker, "with links to the host's store")
        snapshot = max((home / "snapshots" / sid).iterdir(), key=lambda p: p.stat().st_mtime)
        with tarfile.open(snapshot) as tar:
            names = tar.getnames()
            assert not [n for n in names if n.split("/")[0] in links], names
            assert not [m.name for m in tar.getmembers() if not (m.isfile() or m.isdir())]
    finally:
        for name in links:
            _dexec(attacker, "rm", "-f", f"{WORK}/{name}")
    _goes_on(attacker)


def test_submitted_code_cannot_read_the_host_store_or_tokens(attacker):
    """The candidate's train.py (run by the scorer on the host, in its sandbox) reads the host's store,
    session.json, snapshots and server log, searches its processes for the interviewer's token and
    connects to the session server and its sockets, then crashes to show the findings in log_tail."""
    home, ws = Path(attacker["home"]), Path(attacker["workspace"])  # noqa: F811 - a local, not the fixture
    port = int(_base(attacker).rsplit(":", 1)[1])
    iport = int(_ibase(attacker).rsplit(":", 1)[1])
    _, interviewer = _tokens(attacker)
    secrets = [str(p) for p in (home / "pitfalls.sqlite", ws.parent / "session.json", ws.parent / "server.log",
                                home / "snapshots", home / "sessions", home)]
    sockets = [str(ws.parent / "run" / "session.sock"), str(ws.parent / "run" / "jupyter.sock")]
    probe = textwrap.dedent(f"""
        import glob, json, os, socket
        out = {{"read": {{}}, "connect": {{}}, "server_in_proc": [], "procs": 0, "env": sorted(os.environ)}}
        for p in {json.dumps(secrets)}:
            try:
                if os.path.isdir(p):
                    out["read"][p] = "listed %d" % len(os.listdir(p))
                else:
                    out["read"][p] = "read %d" % len(open(p, "rb").read())
            except OSError as e:
                out["read"][p] = "errno %d" % e.errno
        for d in glob.glob("/proc/[0-9]*"):
            out["procs"] += 1
            for part in ("cmdline", "environ"):
                try:
                    text = open(d + "/" + part, "rb").read().decode("utf-8", "replace")
                    if "session_server" in text or {attacker["session_id"]!r} in text:
                        out["server_in_proc"].append(d + "/" + part)
                except OSError:
                    pass
        for target in [*{json.dumps(sockets)}, ("127.0.0.1", {port}), ("127.0.0.1", {iport})]:
            s = socket.socket(socket.AF_UNIX if isinstance(target, str) else socket.AF_INET)
            s.settimeout(3)
            try:
                s.connect(target if isinstance(target, str) else tuple(target))
                out["connect"][str(target)] = "connected"
            except OSError as e:
                out["connect"][str(target)] = e.errno
        print("PROBE " + json.dumps(out), flush=True)
        raise SystemExit(3)
    """)
    original = (ws / "train.py").read_text()
    assert _dexec(attacker, "cp", f"{WORK}/train.py", "/tmp/train.py.orig").returncode == 0
    assert _dexec(attacker, "sh", "-c", f"cat > {WORK}/train.py << 'EOF'\n{probe}\nEOF").returncode == 0
    try:
        code, answer, _ = _submit(attacker, "a train.py that goes looking")
    finally:
        assert _dexec(attacker, "cp", "/tmp/train.py.orig", f"{WORK}/train.py").returncode == 0
    assert (ws / "train.py").read_text() == original
    assert code == 2 and answer["status"] == "failed", answer
    [line] = [tail for tail in answer["log_tail"].splitlines() if tail.startswith("PROBE ")]
    found = json.loads(line.removeprefix("PROBE "))
    assert all(str(r).startswith("errno") for r in found["read"].values()), found["read"]
    assert not [t for t, r in found["connect"].items() if r == "connected"], found["connect"]
    assert found["server_in_proc"] == [] and found["procs"] < 10, found
    assert interviewer not in json.dumps(answer) and not [k for k in found["env"] if "TOKEN" in k], found["env"]
    assert _submissions(attacker)[-1]["status"] == "failed"
    _goes_on(attacker)


# ---- 5: the sealed socket folder ----------------------------------------------------------------

def test_socket_folder_cannot_be_tampered_with(attacker):
    """The candidate creates a file, a folder and a socket in /run/pitfalls, deletes, renames and
    replaces session.sock and jupyter.sock (with symlinks to the Docker socket), chmods and chowns the
    folder, and mounts over or unmounts it: all refused; afterwards both sockets work."""
    run_dir = Path(attacker["workspace"]).parent / "run"
    before = {p.name: (p.stat().st_ino, p.stat().st_uid) for p in run_dir.iterdir()}
    got = _py(attacker, """
        import ctypes, errno, json, os, socket
        RUN = "/run/pitfalls"
        libc = ctypes.CDLL(None, use_errno=True)
        def sysc(fn, *a):
            if fn(*a) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        def bind(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.bind(path)
            finally:
                s.close()
        LINK = "/home/candidate/work/evil.sock"
        os.symlink("/var/run/docker.sock", LINK)
        ops = {
            "create a file": lambda: open(RUN + "/x", "w").close(),
            "mkdir": lambda: os.mkdir(RUN + "/d"),
            "bind a socket": lambda: bind(RUN + "/evil.sock"),
            "symlink in the folder": lambda: os.symlink("/var/run/docker.sock", RUN + "/evil.sock"),
            "delete session.sock": lambda: os.unlink(RUN + "/session.sock"),
            "delete jupyter.sock": lambda: os.unlink(RUN + "/jupyter.sock"),
            "rename session.sock": lambda: os.rename(RUN + "/session.sock", RUN + "/old.sock"),
            "rename jupyter.sock": lambda: os.rename(RUN + "/jupyter.sock", RUN + "/old.sock"),
            "replace session.sock by a symlink": lambda: os.replace(LINK, RUN + "/session.sock"),
            "replace jupyter.sock by a symlink": lambda: os.replace(LINK, RUN + "/jupyter.sock"),
            "chmod the folder": lambda: os.chmod(RUN, 0o777),
            "chown the folder": lambda: os.chown(RUN, 1000, 1000),
            "chmod session.sock": lambda: os.chmod(RUN + "/session.sock", 0),
            "overwrite the lab's cookie secret": lambda: open(RUN + "/jupyter_cookie_secret", "wb").close(),
            "delete the lab's cookie secret": lambda: os.unlink(RUN + "/jupyter_cookie_secret"),
            "mount over the folder": lambda: sysc(libc.mount, b"none", RUN.encode(), b"tmpfs", 0, None),
            "unmount the folder": lambda: sysc(libc.umount2, RUN.encode(), 2),
        }
        out = {}
        for name, op in ops.items():
            try:
                op()
                out[name] = "done"
            except OSError as e:
                out[name] = errno.errorcode.get(e.errno, str(e.errno))
        os.unlink(LINK)
        print(json.dumps(out))
    """)
    assert "done" not in got.values(), got
    assert set(got.values()) <= {"EACCES", "EPERM", "EXDEV"}, got
    st = run_dir.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755)
    after = {p.name: (p.stat().st_ino, p.stat().st_uid) for p in run_dir.iterdir()}
    # the lab's own cookie secret (kept over container recreation, so an open lab reconnects): the
    # candidate's lab reads it, nobody in the container may change it
    assert after == before and set(after) == {"jupyter.sock", "session.sock", "jupyter_cookie_secret"}
    assert all(stat.S_ISSOCK(p.lstat().st_mode) for p in run_dir.iterdir() if p.name.endswith(".sock"))
    secret = (run_dir / "jupyter_cookie_secret").lstat()
    assert stat.S_ISREG(secret.st_mode) and (secret.st_uid, stat.S_IMODE(secret.st_mode)) == (0, 0o644)
    assert stat.S_IMODE((run_dir / "session.sock").stat().st_mode) == 0o666

    # jupyter.sock is the candidate's own (Jupyter created it as uid 1000): a chmod is allowed, and harmless.
    assert _dexec(attacker, "chmod", "000", f"{RUN}/jupyter.sock").returncode == 0
    try:
        assert http(attacker["candidate_url"])[0] == 200  # the host side connects as root
    finally:
        _dexec(attacker, "chmod", "600", f"{RUN}/jupyter.sock")
    _goes_on(attacker)


# ---- 6-7: another session ----------------------------------------------------------------------

def test_another_sessions_workspace_is_not_visible(attacker, victim, container_search):
    """The candidate looks for another candidate's workspace: its host path (from the mount table's
    pattern), its tokens and a canary file in it, anywhere in the container: nothing."""
    victim_ws = Path(victim["workspace"])
    assert victim["canary"] in (victim_ws / "my_notes.md").read_text()
    for name in ("victim canary", "victim candidate token", "victim interviewer token"):
        assert not container_search["files"][name] and not container_search["procs"][name], name
    seen = _py(attacker, """
        import json, os, sys
        sid, paths = sys.argv[1], json.loads(sys.argv[2])
        mounts = open("/proc/self/mountinfo").read()
        print(json.dumps({"exists": {p: os.path.exists(p) for p in paths}, "in_mounts": sid in mounts,
                          "listing": sorted(os.listdir(os.path.dirname(os.path.dirname(paths[0]))))
                                     if os.path.isdir(os.path.dirname(os.path.dirname(paths[0]))) else None}))
    """, victim["session_id"], json.dumps([str(victim_ws), str(victim_ws / "my_notes.md"),
                                           str(victim_ws.parent / "run")]))
    assert not any(seen["exists"].values()) and not seen["in_mounts"] and seen["listing"] is None, seen
    _goes_on(attacker)
    _goes_on(victim)


def test_marker_naming_another_session_records_in_ones_own(attacker, victim):
    """The candidate edits the workspace's .pitfalls.json to name the victim's session, then submits:
    the submission is recorded in the candidate's own session, and the victim's has nothing new."""
    marker = Path(attacker["workspace"]) / ".pitfalls.json"
    original = marker.read_text()
    victim_before = _submissions(victim)
    tampered = json.dumps({"session_id": victim["session_id"], "scaffold": SCAFFOLD})
    assert _dexec(attacker, "sh", "-c", f"printf '%s' '{tampered}' > {WORK}/.pitfalls.json").returncode == 0
    try:
        assert json.loads(marker.read_text())["session_id"] == victim["session_id"]
        answer = _scores(attacker, "marker names the victim")
    finally:
        _dexec(attacker, "sh", "-c", f"printf '%s' '{original}' > {WORK}/.pitfalls.json")
    mine = _submissions(attacker)
    assert mine[-1]["note"] == "marker names the victim" and mine[-1]["score_public"] == answer["score"]
    assert _submissions(victim) == victim_before
    assert "marker names the victim" not in json.dumps(_state(victim))
    assert marker.read_text() == original
    _goes_on(attacker)


# ---- 8: Jupyter's API and the socket server, from inside -----------------------------------------

def test_jupyter_api_stays_in_the_workspace(attacker):
    """From inside the container the candidate looks for a host-side twin of the sockets (the session
    server's dashboard, API or proxy on session.sock), takes the Jupyter token from Jupyter's command
    line and asks Jupyter (over jupyter.sock, and through the host's proxy) for files outside the
    workspace by path traversal: /etc/passwd and the host's session.json holding the interviewer's token."""
    cand, interviewer = _tokens(attacker)
    session_json = str(Path(attacker["workspace"]).parent / "session.json")
    ups = "../" * 12
    paths = ["/api/contents/../../etc/passwd", "/api/contents/%2E%2E/%2E%2E/etc/passwd",
             "/api/contents/..%2F..%2F..%2Fetc%2Fpasswd", "/api/contents//etc/passwd", "/api/contents/%2Fetc%2Fpasswd",
             "/files/../../etc/passwd", "/files/%2E%2E/%2E%2E/etc/passwd", "/files/..%2F..%2F..%2Fetc%2Fpasswd",
             "/api/contents/~/../../etc/passwd", f"/api/contents/{ups}{session_json.lstrip('/')}",
             f"/files/{ups}{session_json.lstrip('/')}", f"/api/contents/{'..%2F' * 7}..{session_json}",
             "/edit/../../etc/passwd", "/view/../../etc/passwd", "/api/contents/../../etc"]
    got = _py(attacker, """
        import glob, http.client, json, os, socket, sys
        class Unix(http.client.HTTPConnection):
            def __init__(self, path):
                super().__init__("localhost", timeout=30)
                self.path_ = path
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(30)
                self.sock.connect(self.path_)
        def ask(sock, method, path, token=None, body=None):
            c = Unix(sock)
            c.putrequest(method, path, skip_accept_encoding=True)
            if token:
                c.putheader("Authorization", "token " + token)
            data = json.dumps(body).encode() if body is not None else b""
            c.putheader("Content-Length", str(len(data)))
            c.endheaders(data)
            r = c.getresponse()
            out = r.status, r.read().decode("utf-8", "replace")
            c.close()
            return out
        token = None
        for d in glob.glob("/proc/[0-9]*"):
            try:
                for arg in open(d + "/cmdline", "rb").read().decode().split("\\0"):
                    if arg.startswith("--IdentityProvider.token="):
                        token = arg.split("=", 1)[1]
            except OSError:
                pass
        paths = json.loads(sys.argv[1])
        out = {"token": token, "listing": sorted(os.listdir("/run/pitfalls")), "jupyter": {}, "session": {},
               "write": None, "passwd": open("/etc/passwd").read()}
        for p in paths:
            out["jupyter"][p] = ask("/run/pitfalls/jupyter.sock", "GET", "/candidate" + p, token)
        out["write"] = ask("/run/pitfalls/jupyter.sock", "PUT", "/candidate/api/contents/../../../tmp/pwned.txt", token,
                           {"type": "file", "format": "text", "content": "x"})
        for method, p in [("GET", "/pitfalls/api/state"), ("GET", "/pitfalls/dashboard"),
                          ("GET", "/candidate/api/status"), ("GET", "/api/contents"), ("POST", "/pitfalls/api/notes"),
                          ("GET", "/pitfalls/api/files"), ("GET", "/candidate/lab"), ("GET", "/pitfalls/report")]:
            out["session"][method + " " + p] = ask("/run/pitfalls/session.sock", method, p, token)
        print(json.dumps(out))
    """, json.dumps(paths))
    assert got["token"] == cand and got["listing"] == ["jupyter.sock", "jupyter_cookie_secret", "session.sock"]
    host_passwd = Path("/etc/passwd").read_text()
    for path, (code, body) in got["jupyter"].items():
        assert code >= 400 and "root:x:0:0" not in body and interviewer not in body, (path, code, body[:300])
    assert got["write"][0] >= 400 and _dexec(attacker, "test", "-e", "/tmp/pwned.txt").returncode != 0, got["write"]
    for what, (code, body) in got["session"].items():
        assert code == 404 and interviewer not in body and "score" not in body, (what, code, body[:300])
    assert "candidate:x:1000" in got["passwd"] and (got["passwd"] != host_passwd or "candidate:x:1000" in host_passwd)

    # The same traversals through the host's proxy, from outside: the container's Jupyter still decides.
    for path in paths[:9] + paths[-3:]:
        code, body = http(f"{_base(attacker)}/candidate{path}", token=cand)
        assert code >= 400 and b"root:x:0:0" not in body and interviewer.encode() not in body, (path, code, body[:300])
    for path in ("/candidate/../pitfalls/api/state", "/candidate/%2E%2E/pitfalls/api/state"):
        code, body = http(f"{_base(attacker)}{path}", token=cand)
        assert code in (403, 404) and b"submissions" not in body, (path, code, body[:300])
    _goes_on(attacker)


# ---- 9: bad requests to session.sock ------------------------------------------------------------

_RAW_CLIENT = textwrap.dedent("""
    import json, socket, sys, time
    SOCK = "/run/pitfalls/session.sock"
    def raw(head, body=b"", chunk=65536, timeout=60):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(SOCK)
        sent = "all"
        try:
            s.sendall(head)
            for i in range(0, len(body), chunk):
                s.sendall(body[i:i + chunk])
        except OSError as e:
            sent = f"stopped: {type(e).__name__}"
        data = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except OSError as e:
            data += f"<{type(e).__name__}>".encode()
        s.close()
        head_, _, rest = data.partition(b"\\r\\n\\r\\n")
        line = head_.split(b"\\r\\n")[0].decode("latin-1")
        code = int(line.split()[1]) if line.startswith("HTTP/") else 0
        return {"code": code, "body": rest.decode("utf-8", "replace")[:2000], "sent": sent}
    def request(method, path, body=b"", length=None, extra=""):
        n = len(body) if length is None else length
        head = (f"{method} {path} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n"
                f"Content-Type: application/json\\r\\nContent-Length: {n}\\r\\n{extra}\\r\\n").encode()
        return raw(head, body)
""")


def test_bad_requests_to_the_submit_socket_are_refused_clearly(attacker):
    """The candidate sends session.sock invalid JSON, a JSON list, a non-text note, a 100k-character
    note, a GET to /submit, unknown paths, a path traversal and bytes that are not HTTP: each gets a
    4xx with a message (or the connection closed), nothing is recorded, the server still answers."""
    before = len(_submissions(attacker))
    got = _py(attacker, _RAW_CLIENT + textwrap.dedent("""
        out = {
            "invalid JSON": request("POST", "/submit", b"{not json"),
            "a JSON list": request("POST", "/submit", b"[1, 2]"),
            "a number as note": request("POST", "/submit", b'{"note": 5}'),
            "a 100k note": request("POST", "/submit", json.dumps({"note": "n" * 100_000}).encode()),
            "GET /submit": request("GET", "/submit"),
            "PUT /submit": request("PUT", "/submit", b'{"note": "x"}'),
            "POST /status": request("POST", "/status", b'{"note": "x"}'),
            "unknown path": request("POST", "/admin", b'{"note": "x"}'),
            "traversal": request("GET", "/../../etc/passwd"),
            "not HTTP": raw(b"\\x00\\xff\\xfe hello\\r\\n\\r\\n"),
            "a 200 KB header": raw(b"POST /submit HTTP/1.1\\r\\nX-Big: " + b"a" * 200_000 + b"\\r\\n\\r\\n"),
        }
        print(json.dumps(out))
    """))
    for name, answer in got.items():
        print(f"{name}: {answer['code']} {answer['body'][:150]!r}")
        if name in ("not HTTP", "a 200 KB header"):  # tornado refuses these at the HTTP layer
            assert answer["code"] in (0, 400, 431), (name, answer)
            continue
        assert 400 <= answer["code"] < 500 and answer["body"].strip(), (name, answer)
    for name in ("invalid JSON", "a JSON list"):
        assert "must be a JSON object" in json.loads(got[name]["body"])["message"], name
    for name in ("a number as note", "a 100k note"):
        message = json.loads(got[name]["body"])["message"]
        assert f"at most {MAX_NOTE_CHARS} characters" in message, (name, message)
    assert "Got 100,000 characters instead" in json.loads(got["a 100k note"]["body"])["message"]
    assert got["GET /submit"]["code"] == 405 and "Method Not Allowed" in got["GET /submit"]["body"]
    assert got["unknown path"]["code"] == 404 and got["traversal"]["code"] == 404
    assert "root:x" not in json.dumps(got)
    assert len(_submissions(attacker)) == before
    _goes_on(attacker)


def test_an_oversized_body_is_refused_with_a_clear_message(attacker):
    """The candidate POSTs a 5 MB body to /submit: refused with a 4xx that says why; nothing recorded."""
    before = len(_submissions(attacker))
    got = _py(attacker, _RAW_CLIENT + textwrap.dedent("""
        print(json.dumps(request("POST", "/submit", b'{"note": "' + b"x" * (5 * 2**20) + b'"}')))
    """))
    assert len(_submissions(attacker)) == before
    _goes_on(attacker)
    assert 400 <= got["code"] < 500, got
    assert "MiB" in got["body"] or "too large" in got["body"].lower() or "at most" in got["body"], got


def test_half_open_connections_do_not_block_an_honest_submission(attacker):
    """The candidate leaves 100 connections to session.sock open mid-request (slowloris: half the
    headers, or headers and half a body) while an honest pitfalls-submit goes through."""
    got = _py(attacker, """
        import json, socket, subprocess, time
        held = []
        for i in range(100):
            s = socket.socket(socket.AF_UNIX)
            s.connect("/run/pitfalls/session.sock")
            if i % 2:
                s.sendall(b"POST /submit HTTP/1.1\\r\\nHost: x\\r\\nContent-Le")
            else:
                s.sendall(b"POST /submit HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"note\\": ")
            held.append(s)
        start = time.monotonic()
        proc = subprocess.run(["pitfalls-submit", "--json", "while 100 connections hang"], capture_output=True,
                              text=True, timeout=600)
        seconds = time.monotonic() - start
        open_after = 0
        for s in held:
            s.setblocking(False)
            try:
                open_after += s.recv(1) != b""  # b"": the server closed it
            except BlockingIOError:
                open_after += 1  # nothing to read and not closed: still held open by the server
        for s in held:
            s.close()
        print(json.dumps({"code": proc.returncode, "out": proc.stdout, "err": proc.stderr, "seconds": seconds,
                          "held": open_after}))
    """, timeout=700)
    assert got["code"] == 0 and json.loads(got["out"])["status"] == "scored", got
    assert got["held"] == 100
    SCORE_SECONDS.append(got["seconds"])
    notes = [s["note"] for s in _submissions(attacker)]
    assert notes[-1] == "while 100 connections hang" and notes.count("while 100 connections hang") == 1
    _goes_on(attacker)


def _open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files limit")


def _answers(url: str, token: str, timeout: float = 10) -> str:
    """The HTTP status of a GET within ``timeout`` seconds, or what went wrong."""
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return str(resp.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except OSError as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def test_many_held_connections_do_not_starve_the_interviewer(attacker):
    """The candidate opens more connections to session.sock than the session server may hold files
    open (its RLIMIT_NOFILE) and keeps them open for 12 s: the interviewer's API and the candidate's
    JupyterLab must answer within 3 s each time they are asked, and the server must not flood its log."""
    pid = _session_json(attacker)["server_pid"]
    limit = _open_files_limit(pid)
    if limit > 60_000:
        pytest.skip(f"the session server may open {limit} files; too many connections to hold here")
    want = limit + 50  # what the server cannot accept waits in the listen backlog (128)
    script = textwrap.dedent("""
        import json, os, resource, signal, socket, sys, time
        want, hold, connect_for = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        per = min(hard - 100, want)
        kids = []
        n_procs = -(-want // per)
        for k in range(n_procs):
            r, w = os.pipe()
            if os.fork() == 0:
                os.close(r)
                held = []
                def stop(*_):
                    raise TimeoutError
                signal.signal(signal.SIGALRM, stop)
                signal.alarm(connect_for)  # a blocking connect waits while the server's backlog is full
                try:
                    for i in range(min(per, want - k * per)):
                        s = socket.socket(socket.AF_UNIX)
                        s.connect("/run/pitfalls/session.sock")
                        held.append(s)
                except (TimeoutError, OSError):
                    pass
                signal.alarm(0)
                os.write(w, str(len(held)).encode().ljust(16))
                time.sleep(hold)
                os._exit(0)
            os.close(w)
            kids.append(r)
        total = sum(int(os.read(r, 16)) for r in kids)
        print(json.dumps({"held": total, "nofile": [soft, hard], "procs": n_procs}), flush=True)
        for _ in kids:
            os.wait()
    """)
    log = Path(attacker["workspace"]).parent / "server.log"
    log_before = log.stat().st_size
    cand, interviewer = _tokens(attacker)
    holder = subprocess.Popen(["docker", "exec", "-u", "1000:1000", attacker["container"], "python3", "-c", script,
                               str(want), "12", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        report = json.loads(holder.stdout.readline() or "{}")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        during = []
        for _ in range(3):
            during.append(_answers(f"{_ibase(attacker)}/pitfalls/api/status", interviewer, timeout=3))
            during.append(_answers(f"{_base(attacker)}/candidate/api/status", cand, timeout=3))
        holder.wait(timeout=180)
    finally:
        if holder.poll() is None:
            holder.kill()
    time.sleep(2)
    with open(log, "rb") as f:
        f.seek(log_before)
        emfile = f.read().count(b"Too many open files")
    log_grew = (log.stat().st_size - log_before) / 2**20
    print(f"held {report}; server fds {fds} of {limit}; during: {during}; server.log grew {log_grew:.1f} MiB "
          f"with {emfile} EMFILE errors")
    _goes_on(attacker)  # once the connections close, the server recovers
    assert report.get("held", 0) >= limit - 100, report  # the attack really opened about that many
    assert set(during) == {"200"}, f"while {report['held']} connections were held: {during}"
    assert emfile == 0 and log_grew < 1, f"server.log grew {log_grew:.0f} MiB with {emfile} EMFILE errors"


# ---- 11: disk and processes ---------------------------------------------------------------------

def _write_mb(info: dict[str, Any], name: str, mb: int) -> None:
    free = shutil.disk_usage(info["home"]).free
    if free < 5 * 2**30:
        pytest.skip(f"only {free / 2**30:.1f} GiB free on the host's disk; not writing {mb} MB into a host folder")
    dd = _dexec(info, "dd", "if=/dev/urandom", f"of={WORK}/{name}", "bs=1M", f"count={mb}", timeout=300)
    assert dd.returncode == 0, dd.stderr
    assert (Path(info["workspace"]) / name).stat().st_size == mb * 2**20


def test_a_huge_workspace_is_refused_and_the_session_goes_on(attacker):
    """The candidate writes 200 MB into the workspace (a bounded write: it is a host folder) and submits:
    refused by the snapshot limit, nothing recorded; once the file is removed, an honest submission scores."""
    before = len(_submissions(attacker))
    try:
        _write_mb(attacker, "big.bin", 200)
        code, answer, seconds = _submit(attacker, "with 200 MB")
        assert code == 2 and answer.get("status") != "scored", answer
        assert len(_submissions(attacker)) == before and seconds < 30
    finally:
        _dexec(attacker, "rm", "-f", f"{WORK}/big.bin")
    assert not (Path(attacker["workspace"]) / "big.bin").exists()
    _goes_on(attacker, score="after removing 200 MB")


def test_a_huge_workspace_is_refused_with_a_clear_message(attacker):
    """The candidate submits a workspace over the snapshot limit with pitfalls-submit: the answer is a 4xx
    or a rejection that names the limit and the largest file."""
    try:
        _write_mb(attacker, "big.bin", MAX_SNAPSHOT_MB + 10)
        code, answer, _ = _submit(attacker, "with 60 MB")
    finally:
        _dexec(attacker, "rm", "-f", f"{WORK}/big.bin")
    message = answer.get("message", "")
    assert code == 2 and f"at most {MAX_SNAPSHOT_MB} MiB" in message and "big.bin" in message, answer


def test_the_candidates_writable_space_is_bounded(attacker):
    """The candidate fills every place it may write (the workspace, /tmp, its home folder, the image's
    own folders) with `dd`: each stops at its own size (the workspace's file system, --disk-mb; the
    tmpfs), far below the host's free space; the image is read-only; once the files are removed, an
    honest submission scores."""
    host_free = shutil.disk_usage(attacker["home"]).free
    written = {}
    try:
        for target in (f"{WORK}/fill.bin", "/tmp/fill.bin", "/home/candidate/fill.bin", "/dev/shm/fill.bin",
                       "/var/tmp/fill.bin"):
            dd = _dexec(attacker, "dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=4096", timeout=300)
            size = _dexec(attacker, "stat", "-c", "%s", target).stdout.strip()
            written[target] = (dd.returncode, int(size or 0) // 2**20, dd.stderr.strip().splitlines()[:1])
    finally:
        _dexec(attacker, "rm", "-f", f"{WORK}/fill.bin", "/tmp/fill.bin", "/home/candidate/fill.bin",
               "/dev/shm/fill.bin")
    print(written, f"host free {host_free / 2**30:.1f} GiB")
    assert written[f"{WORK}/fill.bin"][0] != 0 and written[f"{WORK}/fill.bin"][1] <= ATTACKER_DISK_MB, written
    assert "No space left" in written[f"{WORK}/fill.bin"][2][0], written
    for tmpfs in ("/tmp/fill.bin", "/home/candidate/fill.bin", "/dev/shm/fill.bin"):
        assert written[tmpfs][0] != 0 and written[tmpfs][1] <= 4096 // 8, written
    assert written["/var/tmp/fill.bin"][1] == 0 and "Read-only file system" in written["/var/tmp/fill.bin"][2][0]
    assert max(mib for _, mib, _ in written.values()) * 2**20 < host_free / 4
    _scores(attacker, "after filling the disk")


def test_a_fork_bomb_in_the_terminal_does_not_stop_the_session(attacker):
    """The candidate runs a fork bomb (bounded to 10 s) in a JupyterLab terminal: it hits the pids
    limit; the container survives, Jupyter answers through the proxy during and after it, the terminal
    works again, and an honest submission scores."""
    cand, _ = _tokens(attacker)
    base = _base(attacker)
    events_before = _dexec(attacker, "cat", "/sys/fs/cgroup/pids/pids.events").stdout
    code, body = http(f"{base}/candidate/api/terminals", token=cand, method="POST", body={})
    assert code == 200, body
    term = json.loads(body)["name"]
    bomb = ("end=$((EPOCHSECONDS + 10)); b() { while ((EPOCHSECONDS < end)); do b & done; }; "
            "b 2>/dev/null; wait 2>/dev/null; echo BOMB-$((40 + 2))-OVER")

    async def run() -> dict[str, Any]:
        url = f"{base.replace('http', 'ws', 1)}/candidate/terminals/websocket/{term}?token={cand}"
        conn = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers={"Origin": base}))
        out: dict[str, Any] = {"during": []}
        text = ""

        async def until(marker: str, seconds: float) -> bool:
            nonlocal text
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(conn.read_message(), timeout=deadline - time.monotonic())
                except TimeoutError:
                    return False
                if raw is None:
                    return False
                msg = json.loads(raw)
                if msg[0] == "stdout":
                    text += msg[1]
                    if marker in text:
                        return True
            return False

        await conn.write_message(json.dumps(["stdin", "echo READY-$((6*7))\r"]))
        out["ready"] = await until("READY-42", 30)
        text = ""
        await conn.write_message(json.dumps(["stdin", bomb + "\r"]))
        started = time.monotonic()
        await asyncio.sleep(3)
        for _ in range(3):  # during the bomb: Jupyter's API through the proxy
            t = time.monotonic()
            code, _ = await asyncio.to_thread(http, f"{base}/candidate/api/status", token=cand)
            out["during"].append((code, round(time.monotonic() - t, 2), round(time.monotonic() - started, 1)))
            await asyncio.sleep(1)
        out["over"] = await until("BOMB-42-OVER", 120)
        out["bomb_seconds"] = round(time.monotonic() - started, 1)
        text = ""
        await conn.write_message(json.dumps(["stdin", "echo ALIVE-$((6*7))\r"]))
        out["alive"] = await until("ALIVE-42", 60)
        conn.close()
        return out

    try:
        out = asyncio.run(asyncio.wait_for(run(), timeout=300))
    finally:
        deadline = time.monotonic() + 60
        while _dexec(attacker, "true", timeout=30).returncode != 0 and time.monotonic() < deadline:
            time.sleep(1)
        http(f"{base}/candidate/api/terminals/{term}", token=cand, method="DELETE")
    print(out)
    assert out["ready"] and out["over"] and out["alive"], out
    assert any(code == 200 for code, _, at in out["during"] if at < 10), out["during"]

    def forks_refused(events: str) -> int:
        return int(re.search(r"max (\d+)", events).group(1)) if re.search(r"max (\d+)", events) else 0

    events_after = _dexec(attacker, "cat", "/sys/fs/cgroup/pids/pids.events").stdout
    assert forks_refused(events_after) > forks_refused(events_before), (events_before, events_after)  # it hit the limit
    code, body = http(f"{base}/candidate/api/kernels", token=cand, method="POST", body={"name": "python3"})
    assert code == 201, body  # a new kernel (a new process) starts again
    http(f"{base}/candidate/api/kernels/{json.loads(body)['id']}", token=cand, method="DELETE")
    _goes_on(attacker, score="after a fork bomb")


# ---- 10: the scorer as an oracle: a burst -------------------------------------------------------

def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_a_burst_of_50_submissions(attacker):
    """The candidate fires 50 submissions over session.sock as fast as it can: 45 from 10 threads, and
    5 more while the queue is full. Every acknowledged one is recorded; at most max_scored are scored
    in the window, the rest rejected by the rate limit; the 429s (queue full) record nothing; all
    answer within a bound; the server's memory stays bounded; no answer shows the private score.
    Runs last: after it, the rate limit refuses scoring for the rest of the window."""
    fb = load_scaffold(SCAFFOLD).manifest.feedback
    pid = _session_json(attacker)["server_pid"]
    subs = _submissions(attacker)
    since = datetime.now(UTC) - timedelta(minutes=fb.window_minutes)
    scored_before = len([s for s in subs
                         if s["status"] == "scored" and datetime.fromisoformat(s["created_at"]) >= since])
    budget = max(0, fb.max_scored - scored_before)
    per_score = max(sorted(SCORE_SECONDS)[len(SCORE_SECONDS) // 2] if SCORE_SECONDS else 15.0, 3.0)
    bound = 60 + 3 * per_score * budget
    rss_before = _rss_kib(pid)
    start = time.monotonic()
    got = _py(attacker, """
        import concurrent.futures as cf, http.client, json, socket, sys, threading, time
        class Unix(http.client.HTTPConnection):
            def __init__(self):
                super().__init__("localhost", timeout=900)
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(900)
                self.sock.connect("/run/pitfalls/session.sock")
        T0 = time.monotonic()
        def post(i, kind):
            t = time.monotonic() - T0
            try:
                c = Unix()
                c.request("POST", "/submit", body=json.dumps({"note": f"burst {i}"}),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                code, raw = r.status, r.read().decode("utf-8", "replace")
                c.close()
            except Exception as e:
                code, raw = 0, repr(e)
            return {"i": i, "kind": kind, "code": code, "raw": raw, "sent": round(t, 3),
                    "answered": round(time.monotonic() - T0, 3)}
        with cf.ThreadPoolExecutor(10) as pool, cf.ThreadPoolExecutor(5) as extra:
            futures = [pool.submit(post, i, "pool") for i in range(45)]
            time.sleep(1.5)  # the 10 threads now hold the queue full while the first is scored
            more = []
            for i in range(45, 50):
                more.append(extra.submit(post, i, "extra"))
                time.sleep(0.2)
            results = [f.result() for f in futures + more]
        print(json.dumps(results))
    """, timeout=bound + 120)
    elapsed = time.monotonic() - start
    rss_after = _rss_kib(pid)
    assert len(got) == 50 and all(r["code"] for r in got), [r for r in got if not r["code"]]
    ok = [r for r in got if r["code"] == 200]
    busy = [r for r in got if r["code"] == 429]
    assert len(ok) + len(busy) == 50, [(r["code"], r["raw"][:200]) for r in got if r["code"] not in (200, 429)]

    answers = {r["i"]: json.loads(r["raw"]) for r in ok}
    for r in got:  # the candidate's view never holds the private slice or the probes
        assert "private" not in r["raw"] and "probes" not in r["raw"], r["raw"][:300]
    for r in busy:
        message = json.loads(r["raw"])["message"]
        assert f"At most {MAX_QUEUED} submissions may wait for scoring" in message, message
        assert "submit again" in message, message

    rows = _submissions(attacker)[len(subs):]
    by_note = {}
    for row in rows:
        by_note.setdefault(row["note"], []).append(row)
    assert sorted(by_note) == sorted(f"burst {i}" for i in answers), "recorded rows differ from acknowledged answers"
    assert all(len(v) == 1 for v in by_note.values())
    for i, answer in answers.items():
        row = by_note[f"burst {i}"][0]
        assert row["status"] == answer["status"] and row["id"] == answer["submission_id"]
    scored = [i for i, a in answers.items() if a["status"] == "scored"]
    rejected = [i for i, a in answers.items() if a["status"] == "rejected"]
    assert len(scored) + len(rejected) == len(answers), {a["status"] for a in answers.values()}
    assert len(scored) == min(budget, len(answers)), (len(scored), budget)
    for i in rejected:
        [violation] = answers[i]["violations"]
        assert violation["constraint"] == "submission_rate", violation
        assert f"At most {fb.max_scored} scored submissions are allowed per" in answers[i]["message"]
    all_rows = _submissions(attacker)
    in_window = [s for s in all_rows if s["status"] == "scored" and datetime.fromisoformat(s["created_at"]) >= since]
    assert len(in_window) <= fb.max_scored
    # the scorer runs in arrival order: every scored one was recorded before every rejected one
    assert max(by_note[f"burst {i}"][0]["id"] for i in scored) < min(by_note[f"burst {i}"][0]["id"] for i in rejected)
    assert busy, "no request found the queue full (the extra 5 were sent while 10 waited)"
    assert elapsed < bound, f"the burst took {elapsed:.0f} s; bound {bound:.0f} s"
    grew = (rss_after - rss_before) / 1024
    print(f"burst: {len(scored)} scored, {len(rejected)} rate-limited, {len(busy)} x 429 in {elapsed:.1f} s "
          f"(bound {bound:.0f} s, {per_score:.1f} s per score); server RSS {rss_before // 1024} -> "
          f"{rss_after // 1024} MiB; last answer at {max(r['answered'] for r in got):.1f} s")
    assert grew < 150, f"the session server grew by {grew:.0f} MiB"

    # The session goes on: status answers, and an honest submission is recorded, refused by the rate limit.
    _goes_on(attacker)
    code, answer, _ = _submit(attacker, "honest, after the burst")
    assert answer["status"] == "rejected" and answer["violations"][0]["constraint"] == "submission_rate", answer
    assert _submissions(attacker)[-1]["note"] == "honest, after the burst"

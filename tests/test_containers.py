"""The candidate's container, on a real Docker engine: image, isolation, limits, Jupyter, secrecy.

One image build (cached by a hash of the build context, across tests and runs) and one running
container for most checks. The secrecy test mounts a real tumor_triage workspace and searches
everything the container holds (its whole filesystem, the mounted folders, every process's
environment and command line, the container's configuration) for the held-out labels, held-out
rows, the reference solution, the interviewer guide and the dataset seed. Positive controls show
each search does find what is there.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import io
import json
import os
import re
import secrets
import socket
import socketserver
import subprocess
import sysconfig
import tarfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from tornado import httpclient, netutil, websocket

from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import create_workspace
from pitfalls.live import containers

pytestmark = pytest.mark.docker

SCAFFOLD = "tumor_triage"
MEMORY_MB, CPUS, PIDS = 1536, 1.0, 256


@pytest.fixture(scope="session")
def image() -> str:
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    return containers.ensure_image()  # a failed build is a failure, not a skip


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], check=False, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} exited {proc.returncode}: {proc.stderr.decode()[-800:]}")
    return proc


def _exec(container: str, *cmd: str, check: bool = True) -> str:
    return _docker("exec", container, *cmd, check=check).stdout.decode()


class Candidate:
    def __init__(self, *, cid: str, workspace: Path, socket_dir: Path, token: str) -> None:
        self.cid, self.workspace, self.socket_dir, self.token = cid, workspace, socket_dir, token

    def api(self, method: str, path: str, *, token: str | None = "default", body: dict | None = None):
        return containers.unix_http(socket_path=self.socket_dir / containers.JUPYTER_SOCKET, method=method,
                                    path=path, token=self.token if token == "default" else token, body=body)


@pytest.fixture(scope="module")
def candidate(image, tmp_path_factory) -> Iterator[Candidate]:
    """A running candidate container on a fresh tumor_triage workspace."""
    base = tmp_path_factory.mktemp("candidate")
    workspace, socket_dir = base / "ws", base / "run"
    create_workspace(scaffold=load_scaffold(SCAFFOLD), directory=workspace, session_id="container-test")
    token = secrets.token_hex(24)
    name = f"pitfalls-test-{uuid.uuid4().hex[:10]}"
    cid = containers.run_candidate_container(name=name, workspace=workspace, socket_dir=socket_dir,
                                             token=token, memory_mb=MEMORY_MB, cpus=CPUS, pids=PIDS)
    try:
        containers.wait_for_jupyter(container=cid, socket_dir=socket_dir, token=token)
        yield Candidate(cid=cid, workspace=workspace, socket_dir=socket_dir, token=token)
    finally:
        containers.stop_container(name_or_id=cid)


def test_image_is_cpu_only_and_has_no_pitfalls(image):
    """Is the image tagged by its build context, CPU-only, and free of the pitfalls package?"""
    assert image == containers.image_tag() and containers.image_exists(tag=image)
    info = json.loads(_docker("image", "inspect", image).stdout)[0]
    assert info["Config"]["User"] == "candidate"
    assert info["Size"] < 2_500_000_000, f"image grew to {info['Size'] / 1e9:.2f} GB"
    probe = ("import importlib.util as u, json, torch, sklearn, jupyterlab; print(json.dumps({"
             "'pitfalls': [m for m in ('pitfalls', 'runner') if u.find_spec(m)], 'torch': torch.__version__, "
             "'cuda': torch.cuda.is_available()}))")
    out = json.loads(_docker("run", "--rm", "--network", "none", image, "python", "-c", probe).stdout)
    assert out["pitfalls"] == [] and out["cuda"] is False and out["torch"].startswith("2.13.")
    assert out["torch"].endswith("+cpu")


def test_runs_as_unprivileged_user_without_capabilities(candidate):
    """uid/gid 1000, no effective capabilities, no_new_privs set (checked in the kernel, not the config)."""
    assert _exec(candidate.cid, "id", "-u").strip() == "1000"
    assert _exec(candidate.cid, "id", "-g").strip() == "1000"
    status = _exec(candidate.cid, "cat", "/proc/1/status")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["Uid"].split()[0]) == 1000
    assert int(fields["CapEff"].strip(), 16) == 0 and int(fields["CapBnd"].strip(), 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert set(_exec(candidate.cid, "ps", "-eo", "uid=").split()) == {"1000"}  # every process


def test_has_no_network_but_loopback(candidate):
    """Only `lo` exists; connecting out fails at once."""
    lines = _exec(candidate.cid, "cat", "/proc/net/dev").splitlines()[2:]
    assert [line.split(":")[0].strip() for line in lines] == ["lo"]
    code = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
            "    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)")
    assert _exec(candidate.cid, "python", "-c", code).startswith("refused")


def test_has_memory_cpu_and_process_limits(candidate):
    """The limits are in the container's config and in its cgroups (what the kernel enforces)."""
    host = json.loads(_docker("inspect", candidate.cid).stdout)[0]["HostConfig"]
    assert host["Memory"] == MEMORY_MB * 2**20 and host["MemorySwap"] == MEMORY_MB * 2**20
    assert host["PidsLimit"] == PIDS and host["NanoCpus"] == int(CPUS * 1e9)
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"] and not host["Privileged"]
    cg = _exec(candidate.cid, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
               "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null "
               "|| cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max").split()
    assert cg[0] == str(MEMORY_MB * 2**20) and cg[1] == str(PIDS)


def test_jupyter_answers_through_the_socket_with_its_token(candidate):
    """/api/status: 200 with the token, 403 without or with a wrong one; the workspace is served."""
    status, body = candidate.api("GET", "/api/status")
    assert status == 200 and "started" in json.loads(body)
    assert candidate.api("GET", "/api/status", token=None)[0] == 403
    assert candidate.api("GET", "/api/status", token="0" * 48)[0] == 403
    status, body = candidate.api("GET", "/api/contents")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {"train.py", "model.py", "BRIEF.md", "data"} <= names, names


def test_socket_folder_is_sealed_once_jupyter_answers(candidate, tmp_path):
    """The candidate cannot plant a symlink next to the sockets; the host never follows one."""
    planted = _docker("exec", candidate.cid, "ln", "-s", "/var/run/docker.sock", "/run/pitfalls/evil.sock",
                      check=False)
    assert planted.returncode != 0 and b"Permission denied" in planted.stderr
    assert not (candidate.socket_dir / "evil.sock").exists()
    link = tmp_path / "link.sock"
    link.symlink_to(candidate.socket_dir / containers.JUPYTER_SOCKET)
    with pytest.raises(containers.ContainerError, match="must be a UNIX socket"):
        containers.unix_http(socket_path=link, method="GET", path="/api/status", token=candidate.token)


class _UnixResolver(netutil.Resolver):
    def initialize(self, path: str) -> None:  # tornado's Configurable calls this with the kwargs
        self.path = path

    async def resolve(self, host, port, family=0):
        return [(socket.AF_UNIX, self.path)]


async def _execute(*, socket_path: Path, token: str, kernel: str, code: str, timeout: float = 90) -> str:
    """Run ``code`` in a kernel through Jupyter's websocket over the UNIX socket; return its stdout."""
    request = httpclient.HTTPRequest(f"ws://localhost/api/kernels/{kernel}/channels",
                                     headers={"Authorization": f"token {token}"})
    ws = await websocket.websocket_connect(request, resolver=_UnixResolver(path=str(socket_path)))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.read_message(), timeout=deadline - time.monotonic())
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"])[-1500:])
            elif msg["msg_type"] == "execute_reply":
                return "".join(out)
    finally:
        ws.close()
    raise AssertionError(f"no execute_reply within {timeout} s; output so far: {out}")


def test_a_kernel_runs_code_under_the_limits(candidate):
    """A notebook kernel starts, runs torch and pandas code and has no network (ZMQ runs over lo)."""
    status, body = candidate.api("POST", "/api/kernels", body={"name": "python3"})
    assert status == 201, body
    kernel = json.loads(body)["id"]
    code = ("import os, socket, torch, pandas as pd\n"
            "df = pd.read_csv('data/train.csv')\n"
            "print(os.getuid(), len(df), torch.nn.Linear(3, 2)(torch.ones(1, 3)).shape[1])\n"
            "try:\n    socket.create_connection(('1.1.1.1', 443), timeout=3); print('online')\n"
            "except OSError: print('offline')")
    try:
        out = asyncio.run(_execute(socket_path=candidate.socket_dir / containers.JUPYTER_SOCKET,
                                   token=candidate.token, kernel=kernel, code=code))
        rows = len((candidate.workspace / "data" / "train.csv").read_text().splitlines()) - 1
        assert out.split() == ["1000", str(rows), "2", "offline"], out
    finally:
        candidate.api("DELETE", f"/api/kernels/{kernel}")


class _SessionHandler(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[dict]] = []

    def _reply(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answers.append({"path": self.path, "body": body})
        self._reply({"status": "rejected", "score": 0.8125, "metric": "balanced_accuracy",
                     "message": "over budget", "remaining_seconds": 1234.0,
                     "violations": [{"constraint": "max_params", "limit": 2000, "actual": 4100,
                                     "message": "4100 parameters > 2000"}]})

    def do_GET(self) -> None:
        self._reply({"remaining_seconds": 1200.0, "submissions": 3})

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args) -> None:
        pass


def test_pitfalls_submit_talks_to_the_session_socket(candidate):
    """pitfalls-submit in the container POSTs the note over /run/pitfalls/session.sock and prints the answer."""
    missing = _docker("exec", candidate.cid, "pitfalls-submit", "hello", check=False)
    assert missing.returncode == 1 and b"session socket must exist" in missing.stderr
    path = candidate.socket_dir / "session.sock"
    server = socketserver.UnixStreamServer(str(path), _SessionHandler)
    os.chmod(path, 0o666)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = _docker("exec", candidate.cid, "pitfalls-submit", "--note", "pipeline fixes the scaler", check=False)
        out = done.stdout.decode()
        assert done.returncode == 2, done.stderr  # rejected
        assert "0.8125" in out and "4100 parameters > 2000" in out and "20 min 34 s" in out
        assert _SessionHandler.answers[-1] == {"path": "/submit", "body": {"note": "pipeline fixes the scaler",
                                                                         "final": False}}
        status = _exec(candidate.cid, "pitfalls-submit", "--status")
        assert "submissions: 3" in status and "20 min 00 s" in status
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)


# ---- secrecy ---------------------------------------------------------------------------------------

def _blobs_of_tar(stream) -> Iterator[tuple[str, bytes]]:
    """Every regular file of a tar stream, and one level of the zip/gzip archives among them."""
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            data = extracted.read()
            yield member.name, data
            try:
                if data[:4] == b"PK\x03\x04":
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        for info in z.infolist():
                            if info.file_size < 256 * 2**20:
                                yield f"{member.name}!{info.filename}", z.read(info)
                elif data[:2] == b"\x1f\x8b":
                    yield f"{member.name}!gunzip", gzip.decompress(data)[: 256 * 2**20]
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError):
                pass


def _exported(container: str) -> Iterator[tuple[str, bytes]]:
    """The container's whole root filesystem (image layers and its writable layer)."""
    proc = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield from (("rootfs:" + name, data) for name, data in _blobs_of_tar(proc.stdout))
    finally:
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0


def _mounted(container: str, mounts: list[str]) -> Iterator[tuple[str, bytes]]:
    """The bind-mounted folders, as the candidate sees them (tar inside the container)."""
    proc = subprocess.Popen(["docker", "exec", container, "tar", "-cf", "-", "-C", "/",
                             *(m.lstrip("/") for m in mounts)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        yield from (("mount:" + name, data) for name, data in _blobs_of_tar(proc.stdout))
    finally:
        proc.stdout.close()
        proc.wait(timeout=60)


def _environment(container: str) -> Iterator[tuple[str, bytes]]:
    """Every process's environment and command line, and the container's own configuration."""
    yield "inspect", _docker("inspect", container).stdout
    script = 'for p in /proc/[0-9]*; do cat "$p/environ" "$p/cmdline" 2>/dev/null; echo; done'
    yield "proc", _docker("exec", container, "sh", "-c", script).stdout
    yield "env", _docker("exec", container, "env").stdout


def _distinctive(lines: list[str], *, known: str, min_len: int) -> list[str]:
    out = []
    for line in (raw.strip() for raw in lines):
        if len(line) >= min_len and line not in known and not line.startswith(("from ", "import ")):
            out.append(line)
    return list(dict.fromkeys(out))


LIBRARIES = ("sklearn", "numpy", "pandas", "scipy", "torch", "matplotlib", "skops", "safetensors",
             "jupyterlab", "jupyter_server", "IPython", "ipykernel")


def _library_text() -> bytes:
    """The host's copies of the image's libraries (Python files): lines found there are too generic."""
    site = Path(sysconfig.get_paths()["purelib"])
    return b"\n".join(p.read_bytes() for lib in LIBRARIES for p in (site / lib).rglob("*.py"))


def test_container_holds_no_label_solution_guide_or_seed(candidate, tmp_path):
    """Search all the container holds for the held-out labels and rows, the solution, the guide, the seed."""
    assert_no_secrets(cid=candidate.cid, workspace=candidate.workspace, socket_dir=candidate.socket_dir,
                      tmp_path=tmp_path)


def assert_no_secrets(*, cid: str, workspace: Path, socket_dir: Path, tmp_path: Path,
                      scaffold_name: str = SCAFFOLD) -> None:
    """The secrecy search of a tumor_triage candidate container (also run on a live session's)."""
    scaffold = load_scaffold(scaffold_name)
    target = scaffold.manifest.task.target
    heldout = scaffold.dataset().heldout
    # What the candidate may see: a pristine workspace of its own (not the mounted one, which is searched).
    create_workspace(scaffold=scaffold, directory=tmp_path / "pristine", session_id="pristine")
    ws_text = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "pristine").rglob("*") if p.is_file())
    library = _library_text()

    labels = heldout[target].to_numpy()
    needles: dict[str, bytes] = {
        "labels as a CSV column": "\n".join(map(str, labels)).encode(),
        "labels comma-separated": ",".join(map(str, labels)).encode(),
        "labels as digits": "".join(map(str, labels)).encode(),
        "labels as int64": labels.astype(np.int64).tobytes(),
        "labels as uint8": labels.astype(np.uint8).tobytes(),
        "labels as float64": labels.astype(np.float64).tobytes(),
    }
    rows = heldout.to_csv(header=False, index=False).splitlines()
    features = heldout.drop(columns=[target]).to_csv(header=False, index=False).splitlines()
    picks = [i for i in range(len(rows)) if features[i] not in ws_text][:: max(1, len(rows) // 8)]
    for i in picks:
        needles[f"held-out row {i}"] = rows[i].encode()
        needles[f"held-out row {i} features"] = features[i].encode()
    solution = _distinctive([line for p in sorted(scaffold.solution_dir.glob("*.py"))
                             for line in p.read_text().splitlines()], known=ws_text, min_len=24)
    solution = [line for line in solution if line.encode() not in library]
    guide = _distinctive(scaffold.guide_file.read_text().splitlines(), known=ws_text, min_len=30)
    guide = [line for line in guide[:: max(1, len(guide) // 15)] if line.encode() not in library]
    assert len(picks) >= 5 and len(solution) >= 8 and len(guide) >= 8, (len(picks), solution, guide)
    needles.update({f"solution: {line}": line.encode() for line in solution})
    needles.update({f"guide: {line}": line.encode() for line in guide})
    seed = str(scaffold.manifest.dataset_seed).encode()
    seed_re = re.compile(rb"seed\W{0,8}" + seed + rb"(?!\d)", re.IGNORECASE)

    controls = {  # must be found, or the search itself is broken
        "rootfs": b"POST /submit",
        "mount": (workspace / "data" / "train.csv").read_text().splitlines()[3].encode(),
        "env": b"PATH=/opt/venv/bin",
    }
    mounts = json.loads(_docker("inspect", cid).stdout)[0]["Mounts"]
    assert sorted(m["Destination"] for m in mounts) == ["/home/candidate/work", "/run/pitfalls"]
    assert sorted(m["Source"] for m in mounts) == sorted([str(workspace.resolve()), str(socket_dir.resolve())])

    found: list[str] = []
    seen_controls: set[str] = set()
    files = 0
    sources = [_exported(cid), _mounted(cid, [m["Destination"] for m in mounts]), _environment(cid)]
    for source in sources:
        for where, data in source:
            files += 1
            kind = where.split(":")[0] if ":" in where else "env"
            if controls.get(kind, b"\0\0") in data:
                seen_controls.add(kind)
            found += [f"{name} in {where}" for name, needle in needles.items() if needle in data]
            if seed in data and seed_re.search(data):
                found.append(f"dataset seed {seed.decode()} in {where}")
    assert files > 10_000
    assert seen_controls == set(controls), f"the search missed its controls: {set(controls) - seen_controls}"
    assert not found, f"{len(found)} secrets in the candidate's container:\n" + "\n".join(found[:40])


def test_start_to_ready_and_stop(image, tmp_path):
    """A second container reaches Jupyter's API quickly; stop_container removes it and is idempotent."""
    (tmp_path / "ws").mkdir()
    token = secrets.token_hex(24)
    name = f"pitfalls-test-{uuid.uuid4().hex[:10]}"
    cid = containers.run_candidate_container(name=name, workspace=tmp_path / "ws", socket_dir=tmp_path / "run",
                                             token=token, memory_mb=1024, cpus=1, pids=128)
    try:
        waited = containers.wait_for_jupyter(container=cid, socket_dir=tmp_path / "run", token=token)
        assert waited < 30
        assert containers.container_status(name_or_id=name).state == "running"
    finally:
        containers.stop_container(name_or_id=name)
    assert containers.container_status(name_or_id=name) is None
    containers.stop_container(name_or_id=name)  # absent: no error
    with pytest.raises(containers.ContainerError, match="token"):
        containers.run_candidate_container(name=name, workspace=tmp_path / "ws", socket_dir=tmp_path / "run",
                                           token="short", memory_mb=1024, cpus=1, pids=128)


"""Fault injection (issue 5): what a submission survives, with real parts only (no Docker).

- The live session server (the real process, ``python -m pitfalls.live.server``) is SIGKILLed
  at chosen stages of scoring and restarted, as ``pitfalls session start`` would restart it.
- The state folder (``PITFALLS_HOME``) and the runner's temporary folder (``TMPDIR``) fill up
  (small tmpfs mounts filled with a file).
- The workspace and the state folder are read-only (read-only bind mounts).

After every fault: no acknowledged submission is lost, no row is half-written, the SQLite file
passes ``PRAGMA integrity_check``, every snapshot matches its recorded sha256, and the next honest
submission scores. Mounting needs root; those tests skip without it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest

from pitfalls.core.errors import PitfallsError
from pitfalls.core.results import Status
from pitfalls.core.store import JSON_COLUMNS, Store
from pitfalls.live import sessions
from pitfalls.live.jupyter import free_port
from pitfalls.scoring.anchors import PREPARING
from pitfalls.service import api

REPO = Path(__file__).resolve().parent.parent
SUBMIT = REPO / "docker" / "pitfalls-submit"
SEED = int(os.environ.get("PITFALLS_FAULT_SEED", "20261122"))
FINAL_STATUSES = set(get_args(Status))
INTERRUPTED = "Scoring was interrupted before it finished"


# --- the store, read as it is on disk -------------------------------------------------------------

def raw_rows(db: Path) -> list[dict[str, Any]]:
    """Every submission row as stored, read with plain sqlite3 (no :meth:`Store.recover`)."""
    con = sqlite3.connect(db, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM submissions ORDER BY id")]
    finally:
        con.close()


def assert_store_intact(db: Path) -> list[dict[str, Any]]:
    """No row is half-written and nothing points nowhere; returns the rows.

    The file passes ``PRAGMA integrity_check`` and ``foreign_key_check``; every status is final;
    finished rows have ``finished_at``; JSON columns parse; scored rows have a score; every
    snapshot exists, matches ``snapshot_sha256`` and holds the workspace's code.
    """
    con = sqlite3.connect(db, timeout=30)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    rows = raw_rows(db)
    for r in rows:
        where = f"submission {r['id']} ({r['note']!r})"
        assert r["status"] in FINAL_STATUSES, f"{where} is {r['status']!r}"
        assert r["finished_at"], f"{where} has no finished_at"
        for key in JSON_COLUMNS:
            json.loads(r[key])
        if r["status"] == "scored":
            assert r["score_public"] is not None and r["score_private"] is not None, where
        snap = Path(r["snapshot"])
        assert snap.is_file(), f"{where}: snapshot {snap} is missing"
        assert hashlib.sha256(snap.read_bytes()).hexdigest() == r["snapshot_sha256"], f"{where}: snapshot differs"
        with tarfile.open(snap) as tar:
            assert {"train.py", "model.py"} <= set(tar.getnames()), where
    return rows


def partial_snapshots(home: Path) -> list[Path]:
    """Snapshot files a writer left half-written (``*.part``)."""
    return sorted((home / "snapshots").glob("*/*.part"))


# --- processes ------------------------------------------------------------------------------------

def sandboxes_of(parent: int) -> dict[int, str]:
    """The bubblewrap sandboxes ``parent`` started: pid -> what runs in it (its script)."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (d / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and argv[0].endswith("bwrap"):
            script = next((a for a in ("train.py", "/harness/predict.py", "/harness/probe.py") if a in argv), "?")
            found[int(d.name)] = script
    return found


class StageWatch:
    """Follows the sandbox stage of a runner process. The prediction sandbox starts (warm, waiting
    for its go) before training does, so it marks the prediction stage only once training's
    sandbox has come and gone; before that the stage is ``before training``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: set[str] = set()
        self.sandboxes: dict[int, str] = {}

    def stage(self) -> str | None:
        """The stage now (None: no sandbox runs)."""
        self.sandboxes = sandboxes_of(self.pid)
        scripts = set(self.sandboxes.values())
        stage = ("probes" if "/harness/probe.py" in scripts else "training" if "train.py" in scripts
                 else ("prediction" if "training" in self.seen else "before training")
                 if "/harness/predict.py" in scripts else None)
        self.seen |= {stage} - {None}
        return stage


def wait_until(condition, *, timeout: float, what: str, poll: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``pitfalls`` CLI in a subprocess with ``env``."""
    return subprocess.run([sys.executable, "-m", "pitfalls", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def cli_json(env: dict[str, str], *args: str) -> Any:
    proc = cli(env, *args, "--json")
    assert proc.stdout.strip(), f"pitfalls {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return json.loads(proc.stdout)


def assert_clear_error(proc: subprocess.CompletedProcess, *, folder: Path, says: tuple[str, ...],
                       fix: tuple[str, ...]) -> None:
    """The CLI's error contract: exit 1 and one ``error:`` line (no traceback) that names
    ``folder``, says what is wrong (one of ``says``) and how to fix it (one of ``fix``). Progress
    lines (the scoring scale being measured, runner/scoring/anchors.py) may come before it on stderr, never
    on stdout, which holds only the result."""
    assert "Traceback" not in proc.stderr, f"a raw traceback instead of an error message:\n{proc.stderr[-2500:]}"
    assert PREPARING not in proc.stdout, f"a progress line on stdout:\n{proc.stdout[-2500:]}"
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith(PREPARING)]
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    line = lines[0].lower()
    assert str(folder).lower() in line, f"the message must name {folder}: {lines[0]}"
    assert any(s in line for s in says), f"the message must say {' or '.join(says)}: {lines[0]}"
    assert any(s in line for s in fix), f"the message must say what to do ({' or '.join(fix)}): {lines[0]}"


# --- mounts (root only) ---------------------------------------------------------------------------

def _mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount here (mount {' '.join(args)}): {proc.stderr.strip()}")


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A ``size_mb`` MiB tmpfs mounted at ``path`` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` bind-mounted read-only onto itself for the duration (root ignores modes, not this)."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _umount(path)


def fill(folder: Path, *, leave_kib: int = 0) -> Path:
    """Fill ``folder``'s file system with one file until writes fail with ENOSPC, then give back
    ``leave_kib`` KiB; returns the file (delete it to free the space)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (b"\xa5" * 2**20, b"\xa5" * 4096):
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave_kib * 1024))
    return filler


# --- 1. the session server SIGKILLed while it scores ----------------------------------------------

class Client:
    """One candidate submission, sent in the background: over TCP with the candidate's token, or
    through ``session.sock`` with the real ``pitfalls-submit`` client."""

    def __init__(self, live: sessions.LiveSession, note: str, via: str) -> None:
        self.live, self.note, self.via = live, note, via
        self.answer: dict[str, Any] | None = None  # the JSON that came back (acknowledged)
        self.refused: tuple[int, str] | None = None  # an HTTP error answer: status and body
        self.error = ""
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Client:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._tcp() if self.via == "tcp" else self._socket()
        except Exception as exc:  # noqa: BLE001 - a killed server is expected to break the request
            self.error = repr(exc)
        finally:
            self.done.set()

    def _tcp(self) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.live.interviewer_port}/pitfalls/api/submit", method="POST",
                                     data=json.dumps({"note": self.note}).encode(),
                                     headers={"Authorization": f"token {self.live.candidate_token}"})
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                self.answer = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            self.refused = (err.code, err.read().decode(errors="replace"))

    def _socket(self) -> None:
        env = {**os.environ, "PITFALLS_SESSION_SOCK": str(self.live.run_dir / "session.sock")}
        proc = subprocess.run([sys.executable, str(SUBMIT), "--json", self.note], capture_output=True, text=True,
                              timeout=300, env=env)
        try:
            answer = json.loads(proc.stdout)
        except ValueError:
            self.error = f"pitfalls-submit exited {proc.returncode}: {proc.stderr.strip()}"
            return
        if proc.returncode in (0, 2) and "submission_id" in answer:
            self.answer = answer

    @property
    def acknowledged(self) -> bool:
        return self.answer is not None

    def wait(self, timeout: float = 300) -> Client:
        assert self.done.wait(timeout), f"the submission {self.note!r} never came back"
        return self


@dataclass(frozen=True)
class KillPoint:
    """Where a SIGKILL lands: a seeded random delay within ``window`` after ``trigger`` is seen."""

    stage: str
    """The stage the kill must interrupt (checked afterwards; ``anywhere`` is not checked)."""
    trigger: str
    """``sent``, ``connected`` (the server accepted the request on session.sock: socket clients
    only), ``.part`` (a snapshot being written), a sandbox stage (:class:`StageWatch`), or
    ``answered``."""
    window: tuple[float, float]
    blob: bool = False
    """A 45 MiB incompressible file in the workspace makes the snapshot take about a second."""


KILL_POINTS = [
    # Snapshots stream into their .part file as soon as the checks pass (runner/library/workspace.py), so
    # "before the row" is the moment the server holds the request: its checks take milliseconds.
    KillPoint("before the row", "connected", (0.0, 0.02), blob=True),
    KillPoint("snapshot write", ".part", (0.0, 0.0), blob=True),
    KillPoint("training", "training", (0.0, 0.4)),
    KillPoint("prediction", "prediction", (0.0, 0.2)),
    # No "probes" point: the server answers before the probes, which a detached worker runs
    # (runner/probes/worker.py); the end of the test checks that they finish although servers were killed.
    KillPoint("after the answer", "answered", (0.0, 0.5)),
    KillPoint("anywhere", "sent", (0.0, 8.0)),
    KillPoint("anywhere", "sent", (0.0, 8.0)),
]


class Server:
    """The real session server of ``live``, started detached by :func:`sessions.spawn_server`."""

    def __init__(self, live: sessions.LiveSession) -> None:
        self.live = live
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = sessions.spawn_server(self.live)
        assert self.proc is not None, "a server was already running"
        # GET /pitfalls/api/status with the interviewer's token; a port another worker bound meanwhile moves
        self.proc = sessions.wait_moving_ports(self.live, self.proc)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def log(self) -> str:
        return (self.live.dir / "server.log").read_text(errors="replace")[-3000:]


@contextmanager
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A live tumor_triage session without a container (in ``$PITFALLS_HOME``) and its real server
    process, stopped at the end. The server's TMPDIR is a folder of ``tmp_path``, so what killed
    runs leave behind can be counted."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "server-tmp"))
    (tmp_path / "server-tmp").mkdir()
    store = Store()
    live = sessions._create(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=free_port(0), url_host="", memory_mb=2048,
                            cpus=1.0, disk_mb=0)
    store.close()
    # A prediction that takes half a second, so a kill can land inside it (the warm predictor
    # otherwise loads and predicts in under 0.1 s).
    model = live.workspace / "model.py"
    slow = model.read_text().replace("def predict(model, features):\n",
                                     "def predict(model, features):\n    __import__('time').sleep(0.5)\n")
    assert "sleep(0.5)" in slow, "the starter's predict() changed"
    model.write_text(slow)
    # The scale first: a server with no cached anchors measures them on its scoring thread at start
    # (runner/scoring/anchors.py), and the kills must land in the submissions' stages, not in that training.
    api.calibrate(name="tumor_triage")
    srv = Server(live)
    try:
        srv.start()
        yield srv
    finally:
        sessions.stop_server(live)
        if srv.proc is not None:
            srv.proc.wait(timeout=30)  # reap it: a zombie's pid still looks alive to Store.recover


@pytest.fixture
def server(pitfalls_home, tmp_path, monkeypatch) -> Iterator[Server]:
    with live_server(tmp_path, monkeypatch) as srv:
        yield srv


def _socket_connected(sock: Path) -> bool:
    """Whether the server holds a connection on ``sock`` (an accepted socket, bound to its path,
    is listed in /proc/net/unix in state 03, connected; the listener is in state 01)."""
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[5] == "03" and fields[7] == str(sock):
            return True
    return False


def _kill_at(point: KillPoint, server: Server, client: Client, delay: float,
             parts_before: set[Path]) -> tuple[str, dict[int, str]]:
    """Wait for ``point.trigger``, wait ``delay`` more, SIGKILL the server; return the stage the kill
    interrupted and the sandboxes that were running then."""
    home = Path(os.environ["PITFALLS_HOME"])
    watch = StageWatch(server.proc.pid)
    parts = lambda: set(partial_snapshots(home)) - parts_before  # noqa: E731
    triggers = {"sent": lambda: True, ".part": lambda: bool(parts()), "answered": lambda: client.done.is_set(),
                "connected": lambda: _socket_connected(server.live.run_dir / "session.sock")}
    trigger = triggers.get(point.trigger) or (lambda: watch.stage() == point.trigger)
    wait_until(lambda: trigger() or (client.done.is_set() and point.trigger != "answered"), timeout=120,
               what=f"{point.trigger} (server log: {server.log()})", poll=0.001 if point.trigger == ".part" else 0.01)
    assert point.trigger == "answered" or not client.done.is_set(), (
        f"the submission finished before {point.trigger}: {client.answer or client.error}")
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:  # keep following the stages until the kill
        watch.stage()
        time.sleep(0.01)
    stage = watch.stage() if point.trigger != ".part" else None
    running, answered = dict(watch.sandboxes), client.done.is_set() and client.acknowledged
    server.kill()
    if answered:
        return "after the answer", running
    if stage:
        return stage, running
    if parts():
        return "snapshot write", running
    return ("before the row" if not [r for r in raw_rows(home / "pitfalls.sqlite") if r["note"] == client.note]
            else "between stages"), running


def test_sigkilled_session_server_loses_no_acknowledged_submission(server):
    """Fault: SIGKILL of the session server process at each stage of scoring (before the row,
    while the snapshot is written, in training and prediction, right after the answer, and
    twice at a random moment), each time followed by a restart like ``session start``'s. The probes of
    the answered submissions run in detached workers and finish although their server was killed.

    Every acknowledged submission is stored with the status and score it was answered with; rows
    the killed server left ``running`` are ``failed`` ("interrupted") once the restarted server
    opens the store; no sandbox outlives the server; the store stays intact and the next honest
    submission scores. Seed: ``PITFALLS_FAULT_SEED`` (default 20261122)."""
    rng = random.Random(SEED)
    live = server.live
    home = Path(os.environ["PITFALLS_HOME"])
    db = home / "pitfalls.sqlite"
    blob = live.workspace / "blob.bin"
    clients: list[Client] = []
    seen: list[tuple[str, str, float, bool]] = []
    for i, point in enumerate(KILL_POINTS):
        if point.blob and not blob.exists():
            blob.write_bytes(random.Random(SEED).randbytes(45 * 2**20))
        elif not point.blob and blob.exists():
            blob.unlink()
        delay = rng.uniform(*point.window)
        parts_before = set(partial_snapshots(home))
        client = Client(live, f"round {i}: kill at {point.stage}", "socket" if i % 2 == 0 else "tcp").start()
        clients.append(client)
        stage, sandboxes = _kill_at(point, server, client, delay, parts_before)
        client.wait(60)
        seen.append((point.stage, stage, round(delay, 2), client.acknowledged))
        # The checks before the snapshot take milliseconds, and the snapshot then streams into its
        # .part file at once: a kill aimed before the row may land in that write. Both stages come
        # before any row exists, which is what that point is about.
        allowed = {"before the row": {"before the row", "snapshot write"}}.get(point.stage, {point.stage})
        if point.stage != "anywhere":
            assert stage in allowed, f"round {i}: the kill landed in {stage!r}, not {point.stage!r}"
        wait_until(lambda gone=sandboxes: not any(Path(f"/proc/{p}").exists() for p in gone), timeout=10,
                   what=f"the sandboxes {sorted(sandboxes)} to die with their server", poll=0.05)

        left_running = [r for r in raw_rows(db) if r["status"] == "running"]
        assert all(r["runner_pid"] == server.proc.pid for r in left_running), left_running
        server.start()  # its first /status opens the store, which recovers the killed server's rows
        after = {r["id"]: r for r in raw_rows(db)}
        for r in (after[r["id"]] for r in left_running):
            assert r["status"] == "failed" and r["message"].startswith(INTERRUPTED), r

    final = Client(live, "honest, after the kills", "tcp").start().wait()
    assert final.acknowledged and final.answer["status"] == "scored", final.answer or final.error
    rows = assert_store_intact(db)
    by_id = {r["id"]: r for r in rows}
    for c in clients + [final]:
        if c.acknowledged:
            row = by_id[c.answer["submission_id"]]
            assert (row["status"], row["score_public"], row["norm_public"], row["note"]) == (
                c.answer["status"], c.answer["score"], c.answer["normalized"], c.note)
    notes = [r["note"] for r in rows]
    assert len(notes) == len(set(notes)) and set(notes) <= {c.note for c in clients + [final]}
    # the probe workers outlive the killed servers: every answered submission's probes finish
    wait_until(lambda: all(r["probe_status"] not in ("pending", "running") for r in raw_rows(db)), timeout=600,
               what="the probe workers to finish", poll=0.5)
    assert {r["probe_status"] for r in raw_rows(db) if r["finished_at"] and r["status"] != "failed"} <= {"done"}
    leftovers = sorted(p.name for p in Path(os.environ["TMPDIR"]).iterdir())
    # the killed servers' job, probe and snapshot folders (and their mounts) went with the next job
    assert not [n for n in leftovers if re.match(r"pitfalls-(job|probe|snap)-", n)], leftovers
    assert os.environ["TMPDIR"] not in Path("/proc/self/mountinfo").read_text()
    print(f"\nseed {SEED}; (target, landed in, delay s, acknowledged): {seen}\n"
          f"rows: {[(r['id'], r['status']) for r in rows]}\n"
          f"left by the kills: {len(partial_snapshots(home))} .part snapshot(s), temporary folders {leftovers}")


# --- 2. a full disk --------------------------------------------------------------------------------

DISK_FAULTS = {
    "state folder, no byte free": ("home", 0),
    "state folder, room for the database only": ("home", 256),
    "state folder, fills during training": ("home", None),
    "TMPDIR, fills during training": ("tmpdir", None),
}
"""variant -> (the folder whose disk fills, KiB left free when the submission starts; None: the
disk fills as soon as the submission's training sandbox starts)."""


@dataclass
class DiskFault:
    proc: subprocess.CompletedProcess
    """``pitfalls submit --json --no-probes`` while the disk was full."""
    parts_left: list[Path]
    """Half-written snapshots it left, seen before space was freed."""


@dataclass
class DiskFaults:
    home: Path
    earlier: dict[str, Any]
    """A submission scored before any fault."""
    faults: dict[str, DiskFault]
    history: list[dict[str, Any]]
    """``pitfalls history`` once space was freed (its Store() recovers interrupted rows)."""
    again: dict[str, Any]
    """The next submission."""
    rows: list[dict[str, Any]]
    """Every row at the end, checked by :func:`assert_store_intact`."""


def _scored(proc: subprocess.CompletedProcess) -> bool:
    """Whether ``pitfalls submit --json`` answered ``scored`` (a disk that filled during training
    may have filled too late to stop anything)."""
    try:
        return json.loads(proc.stdout)["status"] == "scored"
    except (ValueError, KeyError, TypeError):
        return False


def _submit_on_full_disk(env: dict[str, str], ws: Path, folder: Path, leave_kib: int | None,
                         note: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``pitfalls submit`` with ``folder``'s disk full (but ``leave_kib``) when it starts, or filled as
    soon as its training sandbox starts (``leave_kib`` None); returns it and the filler file."""
    args = [sys.executable, "-m", "pitfalls", "submit", "--dir", str(ws), "--json", "--no-probes", "--note", note]
    if leave_kib is not None:
        filler = fill(folder, leave_kib=leave_kib)
        return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env), filler
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_until(lambda: "train.py" in sandboxes_of(proc.pid).values() or proc.poll() is not None,
                   timeout=120, what="the training sandbox")
        filler = fill(folder)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(args, proc.returncode, out, err), filler


@pytest.fixture(scope="module")
def disk_faults(tmp_path_factory) -> Iterator[DiskFaults]:
    """One practice workspace whose state folder (a 64 MiB tmpfs) and TMPDIR (a 32 MiB tmpfs) fill
    up in turn, as DISK_FAULTS says, with a submission each time and the space freed after each."""
    tmp = tmp_path_factory.mktemp("disk-faults")
    ws = tmp / "ws"
    with tmpfs(tmp / "home", 64) as home, tmpfs(tmp / "tmpdir", 32) as tmpdir:
        env = {**os.environ, "PITFALLS_HOME": str(home), "TMPDIR": str(tmpdir)}
        assert cli(env, "practice", "tumor_triage", "--dir", str(ws), "--no-jupyter").returncode == 0
        (ws / "notes.bin").write_bytes(random.Random(SEED).randbytes(2**20))  # snapshots of over 1 MiB
        earlier = cli_json(env, "submit", "--dir", str(ws), "--no-probes", "--note", "before the disk filled")
        assert earlier["status"] == "scored", earlier
        faults = {}
        for variant, (which, leave_kib) in DISK_FAULTS.items():
            # the scale is measured (cached) first: the training the filler waits for is the candidate's
            assert cli(env, "calibrate", "tumor_triage").returncode == 0
            parts_before = set(partial_snapshots(home))
            proc, filler = _submit_on_full_disk(env, ws, home if which == "home" else tmpdir, leave_kib,
                                                note=f"full disk: {variant}")
            faults[variant] = DiskFault(proc, sorted(set(partial_snapshots(home)) - parts_before))
            filler.unlink()
        history = cli_json(env, "history", "--dir", str(ws))
        again = cli_json(env, "submit", "--dir", str(ws), "--no-probes", "--note", "after freeing space")
        rows = assert_store_intact(home / "pitfalls.sqlite")
        yield DiskFaults(home, earlier, faults, history, again, rows)


def test_full_disks_lose_nothing(disk_faults):
    """Fault: the state folder's disk is full when a practice submission starts, has room for the
    database but not the snapshot, or fills while it trains; then the runner's TMPDIR fills while
    it trains (DISK_FAULTS). Once space is freed: the store is intact, the earlier submission is
    there with its score, every submission that reached training is recorded and failed (scored
    only if it was answered so), history lists them all, and a new submission scores."""
    d = disk_faults
    first = d.rows[0]
    assert (first["id"], first["note"], first["status"], first["score_public"]) == (
        d.earlier["submission_id"], "before the disk filled", "scored", d.earlier["score"])
    faulted = {r["note"]: r for r in d.rows if r["note"].startswith("full disk: ")}
    assert {f"full disk: {v}" for v, (_, leave) in DISK_FAULTS.items() if leave is None} <= set(faulted)
    scored = {f"full disk: {v}": json.loads(f.proc.stdout)["submission_id"]
              for v, f in d.faults.items() if _scored(f.proc)}
    for note, r in faulted.items():  # scored only if it was answered so (the disk filled too late)
        assert r["status"] == "failed" or scored.get(note) == r["id"], r
    assert [h["note"] for h in d.history] == [r["note"] for r in d.rows[:-1]]
    assert d.again["status"] == "scored" and d.rows[-1]["note"] == "after freeing space", d.again


@pytest.mark.parametrize("variant", [
    "state folder, no byte free",
    "state folder, room for the database only",
    "state folder, fills during training",
])
def test_full_state_folder_gives_a_clear_error(disk_faults, variant):
    """Fault: the state folder's disk is full (see DISK_FAULTS). The CLI must say, in one line,
    that the disk of PITFALLS_HOME is full and to free space, instead of a traceback."""
    if _scored(disk_faults.faults[variant].proc):
        pytest.skip("the disk filled too late: the submission's outcome was written before")
    assert_clear_error(disk_faults.faults[variant].proc, folder=disk_faults.home, says=("full", "no space left"),
                       fix=("free ",))


@pytest.mark.parametrize("variant", [
    "state folder, no byte free",
    "state folder, room for the database only",
    "state folder, fills during training",
])
def test_full_state_folder_leaves_no_half_written_snapshot(disk_faults, variant):
    """Fault: as above. A snapshot that could not be written must not stay behind as a ``.part``
    file, holding the very space the user has to free."""
    assert disk_faults.faults[variant].parts_left == []


def test_full_tmpdir_during_training_says_the_host_disk_is_full(disk_faults):
    """Fault: the runner's TMPDIR (which holds the sandbox's copy of the workspace, where training
    writes the artifact and its log) fills as soon as training starts. The result must say that
    the scoring host's disk is full, not that the candidate's code crashed."""
    proc = disk_faults.faults["TMPDIR, fills during training"].proc
    if _scored(proc):
        pytest.skip("TMPDIR filled too late: training had written everything before")
    answer = json.loads(proc.stdout)
    assert answer["status"] == "failed", answer
    message = answer["message"].lower()
    assert ("full" in message or "no space left" in message) and "tmpdir" in message, answer["message"]


def test_full_tmpdir_before_scoring_gives_a_clear_error(workspace, tmp_path, monkeypatch):
    """Fault: a long-lived runner (like the session server) whose temporary folder (a 16 MiB tmpfs)
    is already full when a submission arrives, so the snapshot cannot even be unpacked to train.
    The submission is recorded as failed with its snapshot kept, ``api.submit`` raises a
    :class:`PitfallsError` that says the disk is full (no raw OSError), and after freeing space the
    next submission scores."""
    ws = workspace("tumor_triage")
    with tmpfs(tmp_path / "tmpdir", 16) as folder:
        monkeypatch.setattr(tempfile, "tempdir", str(folder))  # chosen when the runner started
        filler = fill(folder)
        with pytest.raises(Exception) as raised:
            api.submit(directory=ws, note="tmp full", probes=False)
        [row] = assert_store_intact(Path(os.environ["PITFALLS_HOME"]) / "pitfalls.sqlite")
        filler.unlink()
        again = api.submit(directory=ws, note="freed", probes=False)
    assert (row["note"], row["status"], again.status) == ("tmp full", "failed", "scored"), row
    error = raised.value
    assert isinstance(error, PitfallsError), f"api.submit raised {error!r}, not a PitfallsError"
    assert "full" in str(error) and "full" in row["message"], (error, row["message"])


@dataclass
class LiveDiskFull:
    client: Client
    """The candidate's submission during which the state folder filled."""
    bit: bool
    """False when the disk filled too late: the client was answered ``scored``."""
    stuck: list[dict[str, Any]]
    """Rows still ``running`` after space was freed and the next submission scored (server alive)."""
    again: Client
    rows: list[dict[str, Any]]
    """Every row once the server stopped and the store was reopened."""


@pytest.fixture(scope="module")
def live_disk_full(tmp_path_factory) -> LiveDiskFull:
    """A live session whose state folder (a 64 MiB tmpfs) fills as soon as a candidate's submission
    starts training; space is freed once it is answered, and the candidate submits again."""
    tmp = tmp_path_factory.mktemp("live-disk-full")
    with tmpfs(tmp / "home", 64) as home, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PITFALLS_HOME", str(home))
        with live_server(tmp, mp) as srv:
            client = Client(srv.live, "full disk in a live session", "tcp").start()
            wait_until(lambda: "train.py" in sandboxes_of(srv.proc.pid).values() or client.done.is_set(),
                       timeout=120, what="the training sandbox")
            filler = fill(home)
            client.wait()
            filler.unlink()
            again = Client(srv.live, "after freeing space", "tcp").start().wait()
            stuck = [r for r in raw_rows(home / "pitfalls.sqlite") if r["status"] == "running"]
        Store(home / "pitfalls.sqlite").close()  # the server is gone: opening the store recovers its rows
        rows = assert_store_intact(home / "pitfalls.sqlite")
    bit = not (client.acknowledged and client.answer["status"] == "scored")
    return LiveDiskFull(client, bit, stuck, again, rows)


def test_full_state_disk_in_a_live_session_loses_nothing(live_disk_full):
    """Fault: the live session's state folder fills while a submission trains. The submission is
    recorded (failed, once the store recovers it), the store is intact, and once space is freed
    the next one scores."""
    d = live_disk_full
    assert d.again.acknowledged and d.again.answer["status"] == "scored", d.again.answer or d.again.refused
    faulted = "failed" if d.bit else "scored"  # scored only if it was answered so (the disk filled too late)
    assert [(r["note"], r["status"]) for r in d.rows] == [("full disk in a live session", faulted),
                                                          ("after freeing space", "scored")]


def test_full_state_disk_in_a_live_session_leaves_no_row_running(live_disk_full):
    """Fault: as above. Once space is freed and the candidate submits again, no row may still be
    ``running`` while the server lives."""
    if not live_disk_full.bit:
        pytest.skip("the disk filled too late: the submission's outcome was written before")
    assert live_disk_full.stuck == []


def test_full_state_disk_in_a_live_session_tells_the_candidate(live_disk_full):
    """Fault: as above. The candidate's answer must say that the scoring host's disk is full."""
    if not live_disk_full.bit:
        pytest.skip("the disk filled too late: the submission's outcome was written before")
    refused = live_disk_full.client.refused
    assert refused is not None, live_disk_full.client.answer or live_disk_full.client.error
    assert "full" in json.loads(refused[1])["message"].lower(), refused


# --- 3. read-only folders --------------------------------------------------------------------------

def test_read_only_workspace_still_scores_and_keeps_history(workspace):
    """Fault: the practice workspace is bind-mounted read-only. Submitting only reads it (the
    snapshot and the sandbox's copy), so it scores; hint and history work; nothing is lost and
    nothing in the workspace changed."""
    ws = workspace("tumor_triage")
    assert api.submit(directory=ws, note="writable", probes=False).status == "scored"
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    with read_only(ws):
        result = api.submit(directory=ws, note="read-only", probes=False)
        hint = api.hint(directory=ws)
        history = api.history(directory=ws)
    assert result.status == "scored", result.message
    assert hint.level == 1 and hint.text
    assert [h.note for h in history] == ["writable", "read-only"]
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before
    assert_store_intact(Path(os.environ["PITFALLS_HOME"]) / "pitfalls.sqlite")


def test_read_only_state_folder_gives_a_clear_error(tmp_path, pitfalls_home):
    """Fault: the state folder (PITFALLS_HOME) is bind-mounted read-only after one submission (no
    process has the store open). Submitting and asking for a hint must fail with one line that
    names the folder and says it must be writable, history must work or fail the same way;
    read-write again, nothing is lost and the next submission scores."""
    env, ws = {**os.environ}, tmp_path / "ws"
    assert cli(env, "practice", "tumor_triage", "--dir", str(ws), "--no-jupyter").returncode == 0
    first = cli_json(env, "submit", "--dir", str(ws), "--no-probes", "--note", "before read-only")
    assert first["status"] == "scored"
    with read_only(pitfalls_home):
        submit, hint, history = (cli(env, *args, "--dir", str(ws)) for args in (
            ("submit", "--no-probes", "--note", "read-only"), ("hint",), ("history", "--json")))
    rows = assert_store_intact(pitfalls_home / "pitfalls.sqlite")
    assert [(r["note"], r["score_public"]) for r in rows] == [("before read-only", first["score"])]
    assert cli_json(env, "submit", "--dir", str(ws), "--no-probes", "--note", "writable again")["status"] == "scored"
    for proc in (submit, hint) + ((history,) if history.returncode else ()):
        assert_clear_error(proc, folder=pitfalls_home, says=("read-only", "writable"),
                           fix=("remount", "pitfalls_home"))

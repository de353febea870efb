"""The host server's files and its control socket, as every other process sees them.

``$PITFALLS_HOME/host/`` (mode 0700) holds ``server.json`` (pid, start time), ``control.sock`` (mode
0600: attach, detach, list), ``jp.sock`` (jupyter-server itself, mode 0600, nothing served),
``host.lock`` (held by the running host server: one per home) and ``server.log``. The pid is checked
against ``/proc/PID/cmdline`` (our module and this home), so a recycled pid is never trusted.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitfalls.core.errors import SessionError
from pitfalls.core.store import home

MODULE = "pitfalls.live.host"
CONTROL_SOCKET = "control.sock"
JUPYTER_SOCKET = "jp.sock"
PID_FILE = "server.json"
LOCK_FILE = "host.lock"
LOG_FILE = "server.log"
SERVED_BY_HOST = "host"
"""``LiveSession.served_by`` of a session the host server serves."""


def host_dir(*, create: bool = False) -> Path:
    """``$PITFALLS_HOME/host`` (created, mode 0700, when ``create``: only the host server writes there)."""
    path = home() / "host"
    if create:
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def home_arg() -> str:
    """This home as the host server's command line names it (resolved: one home, one server)."""
    return str(home().resolve())


@dataclass
class HostRecord:
    """What ``server.json`` holds."""

    pid: int
    started_at: str
    home: str


def read_record() -> HostRecord | None:
    """``server.json``, or None when absent or damaged."""
    try:
        data = json.loads((host_dir() / PID_FILE).read_text())
        return HostRecord(pid=int(data["pid"]), started_at=str(data["started_at"]), home=str(data["home"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(record: HostRecord) -> None:
    """Write ``server.json`` atomically (mode 0600)."""
    folder = host_dir(create=True)
    tmp = folder / f"{PID_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record.__dict__, f)
    os.replace(tmp, folder / PID_FILE)


def is_host_process(pid: int, home_path: str | None = None) -> bool:
    """True when ``pid`` runs the host server module for ``home_path`` (default: this home)."""
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return pid > 0 and MODULE.encode() in parts and (home_path or home_arg()).encode() in parts


def lock_held() -> bool:
    """True while a host server process holds this home's ``host.lock`` (running, or still starting)."""
    path = host_dir() / LOCK_FILE
    if not path.exists():
        return False
    with open(path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def host_pid() -> int:
    """The running host server's pid for this home, or 0."""
    record = read_record()
    return record.pid if record and is_host_process(record.pid) else 0


def control(method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30.0) -> tuple[int, Any]:
    """One request on the control socket: (status, parsed JSON). Status 0: nothing answers there."""
    from pitfalls.live.containers import ContainerError, unix_http

    sock = host_dir() / CONTROL_SOCKET
    if not sock.exists():
        return 0, None
    try:
        status, raw = unix_http(socket_path=sock, method=method, path=path, body=body, timeout=timeout)
    except (OSError, ContainerError):
        return 0, None
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, {"message": raw.decode(errors="replace")[:300]}


def answers() -> bool:
    """True when a host server runs for this home and its control socket answers."""
    return host_pid() > 0 and control("GET", "/sessions", timeout=5.0)[0] == 200


def attached() -> dict[str, dict[str, Any]]:
    """The sessions the host server serves now: id -> its ports (empty when none answers)."""
    status, data = control("GET", "/sessions", timeout=5.0)
    return {s["session_id"]: s for s in data["sessions"]} if status == 200 else {}


def attach(session_id: str) -> dict[str, Any]:
    """Ask the host server to serve ``session_id`` (its ports bound and accepting on return).

    Raises:
        SessionError: no host server answers, or it could not serve the session (its message).
    """
    status, data = control("POST", "/attach", {"session_id": session_id}, timeout=60.0)
    if status != 200:
        why = (data or {}).get("message", "no answer on its control socket") if isinstance(data, dict) else data
        raise SessionError(f"The host server must serve session {session_id}. Got {status or 'no answer'}: {why} "
                           f"(log: {host_dir() / LOG_FILE}). Fix: `pitfalls server --status`, then "
                           f"`pitfalls session start --session {session_id} ...` again.")
    return data


def detach(session_id: str) -> bool:
    """Ask the host server to stop serving ``session_id`` (its submission in scoring is recorded
    first); False when no host server answers or the session was not attached."""
    status, data = control("POST", "/detach", {"session_id": session_id}, timeout=600.0)
    return status == 200 and bool((data or {}).get("detached"))

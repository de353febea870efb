"""The session server's process: its port, and starting it detached, waiting for it, checking it, stopping it.

The server (``python -m pitfalls.live.server``) outlives the ``pitfalls session start`` that
spawned it; its pid is kept in ``session.json`` and checked against its command line, so a
recycled pid is never signalled.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pitfalls.core.errors import SessionError
from pitfalls.core.store import home
from pitfalls.live.jupyter import free_port

if TYPE_CHECKING:
    from pitfalls.live.record import LiveSession


def server_running(live: LiveSession) -> bool:
    """True when the session's server process is alive (its pid runs our module for this session)."""
    try:
        cmdline = Path(f"/proc/{live.server_pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return live.server_pid > 0 and b"pitfalls.live.server" in cmdline and live.session_id.encode() in cmdline


def server_code(live: LiveSession, timeout: float = 3.0) -> int:
    """The HTTP status of ``/pitfalls/api/status`` on the interviewer's port (0: nothing answers)."""
    req = urllib.request.Request(f"http://127.0.0.1:{live.interviewer_port}/pitfalls/api/status",
                                 headers={"Authorization": f"token {live.interviewer_token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, urllib.error.URLError):
        return 0


def _log_tail(live: LiveSession) -> str:
    """The error lines at the end of the server's log (else its last three lines), for a message."""
    lines = (live.dir / "server.log").read_text(errors="replace").strip().splitlines()
    return " | ".join(line for line in lines[-40:] if "Error" in line or "error" in line)[-600:] or " | ".join(lines[-3:])


def spawn_server(live: LiveSession, *, fixed: frozenset[int] = frozenset()) -> subprocess.Popen | None:
    """Start the session server (a detached jupyter-server with the pitfalls extension) unless it
    already runs and answers; return the new process (None when the running one is kept).

    A port another program took since the session claimed it is replaced by a free one, unless it
    is in ``fixed`` (given on the command line): then :class:`SessionError` says so."""
    if server_running(live) and server_code(live) == 200:
        return None
    stop_server(live)
    _replace_taken_ports(live, fixed)
    with open(live.dir / "server.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-I", "-m", "pitfalls.live.server", "--session-id", live.session_id],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",  # -I, /:
                                # no cwd on sys.path (a `pitfalls/` folder there would replace the server)
                                start_new_session=True, env={**os.environ, "PITFALLS_HOME": str(home().resolve())})
    live.server_pid = proc.pid
    live.save()
    return proc


def wait_for_server(live: LiveSession, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until a server started by :func:`spawn_server` answers with the pitfalls API.

    Raises:
        SessionError: it exited, runs without the pitfalls extension, or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SessionError(f"The session server must keep running. Got exit code {proc.returncode}: "
                               f"{_log_tail(live)} (full log: {live.dir / 'server.log'})")
        code = server_code(live, timeout=1.0)
        if code == 200:
            return
        if code == 0:  # the ports open with the extension: ask jupyter-server itself, on its socket
            code = _socket_code(live)
        if code == 404:  # jupyter-server runs, but the pitfalls extension failed to load
            stop_server(live)
            raise SessionError(f"The session server's pitfalls extension must load. Got a server without it: "
                               f"{_log_tail(live)} (full log: {live.dir / 'server.log'})")
        time.sleep(0.1)
    raise SessionError(f"The session server must answer on port {live.interviewer_port} within {timeout:g} s. "
                       f"Got no answer "
                       f"(log: {live.dir / 'server.log'}).")


def _socket_code(live: LiveSession) -> int:
    """The status of ``/pitfalls/api/status`` on the server's own ``jp.sock`` (0: nothing answers there)."""
    from pitfalls.live.containers import ContainerError, unix_http

    try:
        return unix_http(socket_path=live.server_socket, method="GET", path="/pitfalls/api/status", timeout=1.0)[0]
    except (OSError, ContainerError):
        return 0


def stop_server(live: LiveSession, grace: float = 10.0) -> None:
    """SIGTERM the session server (SIGKILL after ``grace`` seconds); no-op if it is not running."""
    if not server_running(live):
        return
    os.kill(live.server_pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while server_running(live) and time.monotonic() < deadline:
        time.sleep(0.1)
    if server_running(live):
        os.kill(live.server_pid, signal.SIGKILL)


def _bindable(host: str, port: int) -> bool:
    """True when a server could listen on ``host``:``port`` now (with SO_REUSEADDR, as tornado binds)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _replace_taken_ports(live: LiveSession, fixed: frozenset[int]) -> None:
    """Just before the server binds: the ports are claimed in session.json, which another program
    (or another PITFALLS_HOME) does not read, so one may have taken a port since the claim."""
    flags = {"port": "--port", "interviewer_port": "--interviewer-port"}
    with port_lock(live.dir.parent):
        for attr, flag in flags.items():
            port = getattr(live, attr)
            if _bindable(live.host, port):
                continue
            if port in fixed:
                raise SessionError(f"Port {port} must be free for the session server. Got it in use by another "
                                   f"program. Fix: stop that program, or pass another {flag}.")
            setattr(live, attr, unclaimed_port(live.dir.parent, preferred=0, taken={live.port, live.interviewer_port}))
        live.save()


@contextmanager
def port_lock(folder: Path) -> Iterator[None]:
    """Hold the host-wide lock under which a session claims its ports (``folder``: the sessions folder)."""
    with open(folder / ".ports.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def claimed_ports(folder: Path) -> set[int]:
    """Every port (candidate's and interviewer's) a session in ``folder`` has claimed."""
    claimed = set()
    for path in folder.glob("*/session.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        claimed.update(p for p in (data.get("port"), data.get("interviewer_port")) if isinstance(p, int) and p)
    return claimed


def unclaimed_port(folder: Path, *, preferred: int = 8890, taken: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """``preferred``, or a port the OS finds free, that no session in ``folder`` has claimed and not in
    ``taken`` (call under :func:`port_lock`)."""
    claimed = claimed_ports(folder) | set(taken)
    for _ in range(100):
        port = free_port(preferred if preferred not in claimed else 0)
        if port not in claimed:
            return port
    raise SessionError(f"A free TCP port must exist for the session server. Got {len(claimed)} claimed and no "
                       "other free. Fix: stop sessions (`pitfalls session stop ID`) or pass --port and "
                       "--interviewer-port.")

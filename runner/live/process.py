"""The session server's process: its port, and starting it detached, waiting for it, checking it, stopping it.

The server (``python -m pitfalls.live.server``) outlives the ``pitfalls session start`` that
spawned it; its pid is kept in ``session.json`` and checked against its command line, so a
recycled pid is never signalled.

When a host server runs for this home (``pitfalls server``, runner/live/host/), a session is served by
it instead: marked ``served_by: "host"``, attached and detached through its control socket, and
waited for the same way (GET /pitfalls/api/status on the interviewer's port).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from pitfalls.core.errors import SessionError
from pitfalls.core.store import home
from pitfalls.live.host import state as host_state
from pitfalls.live.jupyter import free_port
from pitfalls.live.record import port_lock

if TYPE_CHECKING:
    from pitfalls.live.record import LiveSession


def server_running(live: LiveSession) -> bool:
    """True when the session's server process is alive (its pid runs our module for this session); for a
    host-served session, when the host server runs and serves it."""
    if live.served_by == host_state.SERVED_BY_HOST:
        return host_state.host_pid() > 0 and live.session_id in host_state.attached()
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


def _log_path(live: LiveSession) -> Path:
    return (host_state.host_dir() / host_state.LOG_FILE if live.served_by == host_state.SERVED_BY_HOST
            else live.dir / "server.log")


def _log_tail(live: LiveSession) -> str:
    """The error lines at the end of the server's log (else its last three lines), for a message."""
    try:
        lines = _log_path(live).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(line for line in lines[-40:] if "Error" in line or "error" in line)[-600:] or " | ".join(lines[-3:])


def spawn_server(live: LiveSession, *,
                 fixed: frozenset[int] = frozenset()) -> subprocess.Popen | HostServing | None:
    """Start the session server (a detached jupyter-server with the pitfalls extension) unless it
    already runs and answers; return the new process (None when the running one is kept).

    A port another program took since the session claimed it is replaced by a free one, unless it
    is in ``fixed`` (given on the command line): then :class:`SessionError` says so.

    When a host server runs for this home (``pitfalls server``), or the session is already marked as
    served by it, the host server serves it instead (:func:`serve_on_host`)."""
    if live.served_by == host_state.SERVED_BY_HOST:
        return serve_on_host(live, fixed=fixed)
    if server_running(live) and server_code(live) == 200:
        return None
    stop_server(live)
    if host_state.answers():
        return serve_on_host(live, fixed=fixed)
    _replace_taken_ports(live, fixed)
    with open(live.dir / "server.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-I", "-m", "pitfalls.live.server", "--session-id", live.session_id],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",  # -I, /:
                                # no cwd on sys.path (a `pitfalls/` folder there would replace the server)
                                start_new_session=True, env={**os.environ, "PITFALLS_HOME": str(home().resolve())})
    live.server_pid = proc.pid
    live.save()
    return proc


class HostServing:
    """What :func:`wait_for_server` watches for a host-served session: the host server's process
    (not a child of this one), in :class:`subprocess.Popen`'s terms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while the host server runs; else -1."""
        if self.returncode is None and not host_state.is_host_process(self.pid):
            self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Return at once: the host server is not this process's child to reap."""
        return self.poll()


def serve_on_host(live: LiveSession, *, fixed: frozenset[int] = frozenset()) -> HostServing | None:
    """Serve ``live`` from the host server: mark it ``served_by: host`` (stopping a server of its own
    first), start the host server detached if it is down (it then attaches every open host-served
    session, this one included), re-check its ports as :func:`spawn_server` does, and attach it.
    Returns what to wait on (None: it already answers)."""
    from pitfalls.live.host import process as host_process

    if live.served_by != host_state.SERVED_BY_HOST:
        stop_server(live)  # a server process of its own, from before the host server ran
        live.served_by, live.server_pid = host_state.SERVED_BY_HOST, 0
        live.save()
    pid = host_process.ensure_running()
    if live.session_id in host_state.attached() and server_code(live) == 200:
        live.server_pid = pid
        live.save()
        return None
    stop_server(live)  # detach: its ports are closed before the check below
    _replace_taken_ports(live, fixed)
    live.server_pid = pid
    live.save()
    host_state.attach(live.session_id)
    return HostServing(pid)


def wait_for_server(live: LiveSession, proc: subprocess.Popen | HostServing, timeout: float = 60.0) -> None:
    """Wait until a server started by :func:`spawn_server` answers with the pitfalls API.

    Raises:
        SessionError: it exited, runs without the pitfalls extension, or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SessionError(f"The session server must keep running. Got exit code {proc.returncode}: "
                               f"{_log_tail(live)} (full log: {_log_path(live)})")
        code = server_code(live, timeout=1.0)
        if code == 200:
            return
        if code == 0:  # the ports open with the extension: ask jupyter-server itself, on its socket
            code = _socket_code(live)
        if code == 404:  # jupyter-server runs, but the pitfalls extension failed to load
            stop_server(live)
            raise SessionError(f"The session server's pitfalls extension must load. Got a server without it: "
                               f"{_log_tail(live)} (full log: {_log_path(live)})")
        time.sleep(0.1)
    raise SessionError(f"The session server must answer on port {live.interviewer_port} within {timeout:g} s. "
                       f"Got no answer "
                       f"(log: {_log_path(live)}).")


def _socket_code(live: LiveSession) -> int:
    """The status of ``/pitfalls/api/status`` on the server's own ``jp.sock`` (0: nothing answers there)."""
    from pitfalls.live.containers import ContainerError, unix_http

    try:
        return unix_http(socket_path=live.server_socket, method="GET", path="/pitfalls/api/status", timeout=1.0)[0]
    except (OSError, ContainerError):
        return 0


def stop_server(live: LiveSession, grace: float = 10.0) -> None:
    """SIGTERM the session server (SIGKILL after ``grace`` seconds); no-op if it is not running. A
    host-served session is detached from the host server instead (which keeps running)."""
    if live.served_by == host_state.SERVED_BY_HOST:
        host_state.detach(live.session_id)
        return
    if not server_running(live):
        return
    os.kill(live.server_pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while server_running(live) and time.monotonic() < deadline:
        time.sleep(0.1)
    if server_running(live):
        os.kill(live.server_pid, signal.SIGKILL)


def _bindable_soon(host: str, port: int, within: float = 1.0) -> bool:
    """:func:`_bindable` within ``within`` seconds: a server just SIGKILLed may hold its ports a moment
    after its pid stops looking like ours (its memory goes before its sockets)."""
    deadline = time.monotonic() + within
    while not _bindable(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


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
            if _bindable_soon(live.host, port):
                continue
            if port in fixed:
                raise SessionError(f"Port {port} must be free for the session server. Got it in use by another "
                                   f"program. Fix: stop that program, or pass another {flag}.")
            setattr(live, attr, unclaimed_port(live.dir.parent, preferred=0, taken={live.port, live.interviewer_port}))
        live.save()


ADDRESS_IN_USE = "Address already in use"


def wait_moving_ports(live: LiveSession, proc: subprocess.Popen | HostServing | None, *,
                      fixed: frozenset[int] = frozenset(),
                      attempts: int = 3) -> subprocess.Popen | HostServing | None:
    """:func:`wait_for_server`, and when the server could not bind a port because another process bound
    it between the check and the server's own bind (another PITFALLS_HOME's session starting at the same
    moment), move the session's ports that were not given (``fixed``) and start it again, up to
    ``attempts`` times. Returns the server that answers (a new one after a move). Raises what
    :func:`wait_for_server` raises otherwise."""
    for attempt in range(attempts):
        if proc is None:
            return None
        try:
            wait_for_server(live, proc)
            return proc
        except SessionError as exc:
            movable = [a for a in ("port", "interviewer_port") if getattr(live, a) not in fixed]
            if ADDRESS_IN_USE not in str(exc) or not movable or attempt == attempts - 1:
                raise
            stop_server(live)
            with port_lock(live.dir.parent):
                for attr in movable:
                    setattr(live, attr, unclaimed_port(live.dir.parent, preferred=0,
                                                       taken={live.port, live.interviewer_port}))
                live.save()
            proc = spawn_server(live, fixed=fixed)
    return proc


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

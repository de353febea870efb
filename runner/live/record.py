"""A live session's record: ``session.json`` (:class:`LiveSession`), what status reports
(:class:`SessionInfo`), and where sessions live (``$PITFALLS_HOME/sessions``).

The bottom of :mod:`pitfalls.live`: the session server's process helpers (:mod:`pitfalls.live.process`)
and the lifecycle (:mod:`pitfalls.live.sessions`) both read it, so neither imports the other for it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from pitfalls.core.errors import SessionError
from pitfalls.core.store import home

CANDIDATE_PREFIX = "/candidate/"
_SAVING = threading.Lock()
DASHBOARD_PATH = "/pitfalls/dashboard"


@dataclass
class LiveSession:
    """What ``session.json`` holds; the tokens never leave the host."""

    session_id: str
    scaffold: str
    candidate: str
    host: str
    port: int
    """The candidate's port: JupyterLab under /candidate/, nothing else."""
    candidate_token: str
    interviewer_token: str
    container: str
    memory_mb: int = 4096
    cpus: float = 2.0
    server_pid: int = 0
    url_host: str = ""
    disk_mb: int = 2048
    ready: bool = True
    """False until the starting files are in the workspace (a start killed before that is redone)."""
    interviewer_port: int = 0
    """The interviewer's port: dashboard, API and report under /pitfalls/ (0: not claimed yet, a
    session from before the ports were split; claimed when it resumes)."""
    scaffold_source: str = ""
    """The folder the scaffold (``scaffold`` is its id) was loaded from; empty: look the id up."""
    served_by: str = ""
    """Who serves it: empty, a session server process of its own (``server_pid``); ``"host"``, the host
    server (runner/live/host/, ``pitfalls server``), which attaches it again whenever it starts."""

    @property
    def dir(self) -> Path:
        return sessions_dir() / self.session_id

    @property
    def workspace(self) -> Path:
        return self.dir / "workspace"

    @property
    def run_dir(self) -> Path:
        return self.dir / "run"

    def base(self, port: int) -> str:
        """``http://HOST:port`` as the URLs name it."""
        host = self.url_host or (socket.getfqdn() if self.host in ("0.0.0.0", "::") else self.host)
        return f"http://{host}:{port}"

    @property
    def candidate_url(self) -> str:
        return f"{self.base(self.port)}{CANDIDATE_PREFIX}lab?token={self.candidate_token}"

    @property
    def interviewer_url(self) -> str:
        return f"{self.base(self.interviewer_port)}{DASHBOARD_PATH}?token={self.interviewer_token}"

    @property
    def server_socket(self) -> Path:
        """Where the session server's jupyter-server listens (the host's own health check)."""
        return self.dir / "jp.sock"

    def save(self) -> None:
        """Write ``session.json`` atomically, readable by the owner only (one writer at a time: a
        start saves from two threads)."""
        with _SAVING:
            tmp = self.dir / "session.json.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(self), f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.dir / "session.json")


@dataclass
class SessionInfo:
    """What ``session start`` and ``session status`` report (the CLI's ``--json``)."""

    session_id: str
    scaffold: str
    candidate: str
    candidate_url: str
    interviewer_url: str
    container: str
    container_state: str
    server_running: bool
    workspace: str
    created_at: str
    duration_minutes: float | None
    remaining_seconds: float | None
    submissions: int
    ended_at: str | None
    resumed: bool = False
    clock: str = ""
    """``waiting`` (the candidate's lab has not answered yet), ``running``, ``paused``, ``stopped``, ``expired``."""


@contextmanager
def port_lock(folder: Path) -> Iterator[None]:
    """Hold the host-wide lock under which a session claims its ports and records itself (``folder``:
    the sessions folder; a warm container's claim holds it too, runner/live/pool.py)."""
    with open(folder / ".ports.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def sessions_dir() -> Path:
    """``$PITFALLS_HOME/sessions``."""
    path = home() / "sessions"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


SOCKET_PATH_MAX = 107
"""The longest path an AF_UNIX socket may have on Linux (108 bytes with the terminating NUL)."""


def check_socket_room() -> None:
    """Refuse a state folder so deep that a session's sockets (``sessions/ID/run/session.sock``, the
    longest) cannot be bound: the server's extension and the proxy to the candidate's Jupyter would
    fail later with no clear reason.

    Raises:
        SessionError: naming the path, its length and the fix.
    """
    longest = sessions_dir() / ("0" * 8) / "run" / "session.sock"  # ids are 8 hex digits (Store)
    if len(str(longest).encode()) > SOCKET_PATH_MAX:
        raise SessionError(f"A session's socket paths must be at most {SOCKET_PATH_MAX} bytes (a Unix socket's "
                           f"limit). Got {len(str(longest).encode())} bytes for {longest} instead. Fix: set "
                           "PITFALLS_HOME to a shorter folder (e.g. ~/.pitfalls).")


def load_session(session_id: str) -> LiveSession:
    """Read a session's ``session.json``.

    Raises:
        SessionError: no such session, or a damaged file.
    """
    path = sessions_dir() / session_id / "session.json"
    if not session_id or "/" in session_id or not path.is_file():
        known = ", ".join(sorted(p.name for p in sessions_dir().iterdir() if (p / "session.json").is_file()))
        raise SessionError(f"The session must be one of this host's live sessions ({known or 'none yet'}). "
                           f"Got {session_id!r} instead. `pitfalls session status` lists them.")
    try:
        return LiveSession(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise SessionError(f"{path} must be the JSON written by `pitfalls session start`. Got a damaged "
                           f"file instead ({exc}).") from None

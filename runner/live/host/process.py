"""Starting the host server (foreground or detached), waiting for it, stopping it, and its status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pitfalls.core.errors import SessionError
from pitfalls.live.pool import WARM_ENV, drain, ready_entries, warm_dir

from .state import (
    CONTROL_SOCKET,
    LOG_FILE,
    MODULE,
    answers,
    attached,
    home_arg,
    host_dir,
    host_pid,
    is_host_process,
    lock_held,
    read_record,
)


def _command(warm: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The host server's command line and environment (``-I``, cwd ``/``: no folder of the caller's on
    its import path); ``warm``: how many warm containers it keeps (None: ``$PITFALLS_WARM`` or 1)."""
    env = {**os.environ, "PITFALLS_HOME": home_arg()}
    if warm is not None:
        env[WARM_ENV] = str(warm)
    return [sys.executable, "-I", "-m", MODULE, "--home", home_arg()], env


def _refuse_second() -> None:
    pid = host_pid()
    if pid:
        record = read_record()
        raise SessionError(f"One host server must run per PITFALLS_HOME. Got one already running for {home_arg()} "
                           f"(pid {pid}, since {record.started_at if record else '?'}). Fix: use it as it is, or "
                           "`pitfalls server --stop` first.")


def run_foreground(warm: int | None = None) -> NoReturn:
    """Become the host server (exec: same pid, for a supervisor such as systemd); never returns.

    Raises:
        SessionError: one already runs for this home.
    """
    _refuse_second()
    command, env = _command(warm)
    os.chdir("/")
    os.execve(command[0], command, env)


def log_tail(lines: int = 3) -> str:
    """The error lines at the end of the host server's log (else its last ``lines``), for a message."""
    try:
        text = (host_dir() / LOG_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log yet"
    return " | ".join(line for line in text[-40:] if "rror" in line)[-600:] or " | ".join(text[-lines:])


def start_detached(timeout: float = 60.0, *, warm: int | None = None) -> subprocess.Popen:
    """Start the host server detached and return once its control socket answers (every open
    host-served session is attached by then); ``warm``: as :func:`_command`.

    Raises:
        SessionError: one already runs, or it exited or did not answer within ``timeout`` seconds.
    """
    _refuse_second()
    command, env = _command(warm)
    with open(host_dir(create=True) / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",
                                start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SessionError(f"The host server must keep running. Got exit code {proc.returncode}: {log_tail()} "
                               f"(full log: {host_dir() / LOG_FILE})")
        if host_pid() == proc.pid and answers():
            return proc
        time.sleep(0.1)
    raise SessionError(f"The host server must answer on {host_dir() / CONTROL_SOCKET} within {timeout:g} s. Got no "
                       f"answer (log: {host_dir() / LOG_FILE}). Fix: read the log, then `pitfalls server --stop`.")


def ensure_running(timeout: float = 60.0) -> int:
    """The running host server's pid; started detached first when none runs. Several callers at once
    (sessions started together) start one: the others wait for it to answer.

    Raises:
        SessionError: it could not start, or one holds the home's lock without answering in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = host_pid()
        if pid and answers():
            return pid
        if not lock_held():
            try:
                return start_detached(timeout).pid
            except SessionError:
                if not lock_held():  # not a race lost to another start: a real failure
                    raise
        time.sleep(0.2)
    raise SessionError(f"The host server must answer on {host_dir() / CONTROL_SOCKET} within {timeout:g} s. Got "
                       f"a server holding {host_dir() / 'host.lock'} without answering: {log_tail()}. Fix: "
                       "`pitfalls server --stop`, then start the session again.")


def stop(grace: float = 60.0) -> int:
    """SIGTERM the host server (its sessions detach: each submission in scoring is recorded first),
    SIGKILL after ``grace`` seconds; then remove the warm containers it left. Returns its pid (0:
    none ran; warm containers a killed one left are removed all the same)."""
    pid = host_pid()
    if not pid:
        if any(warm_dir().iterdir()):
            drain()
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while is_host_process(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_host_process(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended meanwhile
        pass
    except PermissionError:
        raise SessionError(f"The host server (pid {pid}) must be stoppable by this user. Got permission denied "
                           "instead. Fix: stop it as the user who started it.") from None
    if not is_host_process(pid) and any(warm_dir().iterdir()):
        drain()  # what it had no time to remove (killed after the grace, or killed before)
    return pid


@dataclass
class HostStatus:
    """What ``pitfalls server --status`` reports."""

    running: bool
    pid: int
    started_at: str
    home: str
    control_socket: str
    log: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    warm_ready: int = 0
    """Warm containers ready to claim (runner/live/pool.py)."""


def status() -> HostStatus:
    """Whether the host server runs for this home, since when, and the sessions it serves."""
    pid = host_pid()
    record = read_record() if pid else None
    served = sorted(attached().values(), key=lambda s: s["session_id"]) if pid else []
    return HostStatus(running=bool(pid), pid=pid, started_at=record.started_at if record else "", home=home_arg(),
                      control_socket=str(host_dir() / CONTROL_SOCKET), log=str(host_dir() / LOG_FILE),
                      sessions=served, warm_ready=len(ready_entries()))

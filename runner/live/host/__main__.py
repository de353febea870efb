"""``python -m pitfalls.live.host --home HOME``: run the host server in the foreground.

``pitfalls server`` execs this (same pid: a supervisor such as systemd sees the server itself);
``pitfalls server --detach`` spawns it. ``--home`` names the state folder on the command line, so
``/proc/PID/cmdline`` tells which home a running host server serves.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import secrets
import sys
from pathlib import Path
from typing import IO

from pitfalls.core.errors import SessionError

from .state import JUPYTER_SOCKET, LOCK_FILE, LOG_FILE, host_dir, read_record


def host_argv() -> list[str]:
    """jupyter-server's options: itself on a private UNIX socket, an empty root, no built-in service
    reachable (the session server's identity provider and authorizer), extension failures fatal."""
    folder = host_dir(create=True)
    root = folder / "server-root"
    root.mkdir(mode=0o700, exist_ok=True)
    return [
        f"--ServerApp.sock={folder / JUPYTER_SOCKET}", "--ServerApp.sock_mode=0600", "--ServerApp.open_browser=False",
        "--ServerApp.record_http_request_metrics=False", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False", "--ServerApp.allow_remote_access=False",
        "--ServerApp.reraise_server_extension_failures=True",
        "--ServerApp.identity_provider_class=pitfalls.live.server.auth.SessionIdentityProvider",
        "--ServerApp.authorizer_class=pitfalls.live.server.auth.SessionAuthorizer",
        f"--SessionIdentityProvider.token={secrets.token_urlsafe(24)}",
        f"--HostApp.log_file={folder / LOG_FILE}",
    ]


def take_lock() -> IO[str]:
    """Hold ``host.lock`` for this process's life: one host server per home.

    Raises:
        SessionError: another host server holds it.
    """
    lock = open(host_dir(create=True) / LOCK_FILE, "a")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        record = read_record()
        raise SessionError(f"One host server must run per PITFALLS_HOME. Got one already running for "
                           f"{host_dir().parent} (pid {record.pid if record else '?'}). Fix: use it, or "
                           "`pitfalls server --stop` first.") from None
    return lock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pitfalls.live.host")
    parser.add_argument("--home", required=True, help="The PITFALLS_HOME whose sessions it serves.")
    args = parser.parse_args(argv)
    os.environ["PITFALLS_HOME"] = str(Path(args.home).resolve())
    try:
        lock = take_lock()
    except SessionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    from pitfalls.live.server.__main__ import raise_file_limit

    from .application import HostApp

    raise_file_limit(want=65536)  # every session's capped connections share this process's descriptors
    try:
        HostApp.launch_instance(argv=host_argv())
    finally:
        lock.close()


if __name__ == "__main__":
    sys.exit(main())

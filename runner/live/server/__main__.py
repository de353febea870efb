"""``python -m pitfalls.live.server --session-id ID``: run one live session's server (foreground).

``pitfalls session start`` launches this detached; the tokens are read from the session's
``session.json``, never from the command line.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import sys

from pitfalls.live.sessions import load_session

from .application import SessionApp


def server_argv(session_id: str) -> list[str]:
    """The jupyter-server options of a session: jupyter-server itself on a private UNIX socket, the
    two TCP ports opened by the extension, an empty root, no built-in services, a rotated log."""
    live = load_session(session_id)
    root = live.dir / "server-root"
    root.mkdir(mode=0o700, exist_ok=True)
    loopback = live.host in ("127.0.0.1", "localhost", "::1")
    return [
        f"--ServerApp.sock={live.server_socket}", "--ServerApp.sock_mode=0600", "--ServerApp.open_browser=False",
        "--ServerApp.record_http_request_metrics=False", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False", f"--ServerApp.allow_remote_access={not loopback}",
        "--ServerApp.identity_provider_class=pitfalls.live.server.auth.SessionIdentityProvider",
        "--ServerApp.authorizer_class=pitfalls.live.server.auth.SessionAuthorizer",
        # jupyter-server's own token guards nothing here (the authorizer denies its services).
        f"--SessionIdentityProvider.token={secrets.token_urlsafe(24)}",
        f"--SessionApp.session_id={session_id}", f"--SessionApp.ip={live.host}",
        f"--SessionApp.interviewer_port={live.interviewer_port}", f"--SessionApp.candidate_port={live.port}",
        f"--SessionApp.log_file={live.dir / 'server.log'}",
    ]


def raise_file_limit(want: int = 8192) -> None:
    """Let the server hold its capped connections with room to spare (soft RLIMIT_NOFILE up to ``want``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pitfalls.live.server")
    parser.add_argument("--session-id", required=True)
    args = parser.parse_args(argv)
    raise_file_limit()
    SessionApp.launch_instance(argv=server_argv(args.session_id))


if __name__ == "__main__":
    sys.exit(main())

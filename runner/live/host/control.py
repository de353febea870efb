"""The host server's control socket (``$PITFALLS_HOME/host/control.sock``, mode 0600): attach, detach, list.

Only this user's processes can connect (the socket's mode, its folder's 0700, and each connection's
peer uid checked with ``SO_PEERCRED``). Nothing here takes or returns a token.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any

from tornado import httpserver, web
from tornado.netutil import bind_unix_socket

from pitfalls.core.errors import PitfallsError

from .registry import Registry


def peer_uid(handler: web.RequestHandler) -> int | None:
    """The uid of the process on the other end of the request's UNIX socket (None: unknown)."""
    try:
        sock = handler.request.connection.stream.socket  # type: ignore[union-attr]
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return None
    return struct.unpack("3i", creds)[1]


class _Control(web.RequestHandler):
    def initialize(self, registry: Registry) -> None:
        self.registry = registry

    def prepare(self) -> None:
        uid = peer_uid(self)
        if uid != os.geteuid():
            self._answer(403, {"message": f"The control socket's caller must be uid {os.geteuid()}. Got uid {uid} "
                                          "instead."})

    def _answer(self, status: int, data: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def _session_id(self) -> str | None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        sid = body.get("session_id") if isinstance(body, dict) else None
        if not isinstance(sid, str) or not sid:
            self._answer(400, {"message": 'The body must be a JSON object like {"session_id": "0a1b2c3d"}. Got '
                                          "something else instead."})
            return None
        return sid

    def check_xsrf_cookie(self) -> None:
        """A UNIX socket of this user only: no browser reaches it."""


class AttachHandler(_Control):
    """POST /attach {"session_id"}: serve the session on its recorded ports (200 once they accept)."""

    def post(self) -> None:
        sid = self._session_id()
        if sid is None:
            return
        try:
            self._answer(200, self.registry.attach(sid))
        except PitfallsError as exc:
            self._answer(400, {"message": str(exc)})
        except OSError as exc:  # a port in use: the caller replaces it and asks again
            self._answer(409, {"message": f"The session's ports must be free to serve it. Got {exc} instead."})


class DetachHandler(_Control):
    """POST /detach {"session_id"}: stop serving it (after the submission in scoring is recorded)."""

    async def post(self) -> None:
        sid = self._session_id()
        if sid is not None:
            self._answer(200, {"session_id": sid, "detached": await self.registry.detach(sid)})


class SessionsHandler(_Control):
    """GET /sessions: the attached sessions and their ports, and the server's pid."""

    def get(self) -> None:
        self._answer(200, {"pid": os.getpid(), "sessions": [self.registry.view(s) for s in sorted(self.registry.mounts)]})


def serve_control(path: Path, registry: Registry) -> httpserver.HTTPServer:
    """Listen on ``path`` (mode 0600) with the three control handlers."""
    app = web.Application([(r"/attach", AttachHandler, {"registry": registry}),
                           (r"/detach", DetachHandler, {"registry": registry}),
                           (r"/sessions", SessionsHandler, {"registry": registry})],
                          log_function=lambda handler: None)
    server = httpserver.HTTPServer(app, max_body_size=4096)
    sock = bind_unix_socket(str(path), mode=0o600)
    os.chmod(path, 0o600)
    server.add_socket(sock)
    return server

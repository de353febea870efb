"""One live session's serving parts, for any process that serves it: its service, its two TCP
ports, its ``session.sock``, and stopping them.

:class:`~.application.SessionApp` (one session per process, ``python -m pitfalls.live.server``) holds
one :class:`SessionMount`; the host server (:mod:`pitfalls.live.host`) holds one per attached session.
The caller gives the interviewer's application: SessionApp gives jupyter-server's own web application
(its routes denied), the host one tornado application per session (:func:`interviewer_application`),
so a session's port, token and service are reachable only through that session's own application.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from tornado import httpserver, netutil, web
from tornado.log import app_log
from tornado.netutil import bind_unix_socket

from pitfalls.live import containers

from .auth import DeniedHandler, SessionIdentityProvider, deny_foreign_handlers
from .handlers import (
    ClockHandler,
    DashboardHandler,
    FilesHandler,
    NotesHandler,
    Offload,
    SocketFinalHandler,
    SocketPreflightHandler,
    SocketStatusHandler,
    SocketSubmitHandler,
    StateHandler,
    StatusHandler,
    SubmitHandler,
)
from .lab_status import lab_routes
from .netcap import CappedHTTPServer
from .proxy import MAX_BODY, CandidateProxyHandler
from .recovery import ROUTES as RECOVERY_ROUTES
from .report_page import ReportHandler, ReportLinkHandler
from .seat_handlers import ROUTES as SEAT_ROUTES
from .service import SessionService

TEMPLATES = Path(__file__).parent / "templates"
"""The dashboard's templates (the session server's and the host server's)."""
SESSION_SOCKET = "session.sock"
INTERVIEWER_CONNECTIONS = 256  # one interviewer's browser needs a handful
CANDIDATE_CONNECTIONS = 512  # JupyterLab: a few HTTP connections plus a WebSocket per kernel and terminal
SOCKET_CONNECTIONS = 512  # session.sock: pitfalls-submit opens one per call
IO_WORKERS = 4  # threads for the handlers' file-system and database work (off the event loop)

INTERVIEWER_ROUTES: list[tuple[Any, ...]] = [
    (r"/pitfalls/dashboard", DashboardHandler),
    (r"/pitfalls/report", ReportHandler),
    (r"/pitfalls/report/([A-Za-z0-9_-]{16,64})", ReportHandler),  # report_page.report_key
    (r"/pitfalls/api/report-link", ReportLinkHandler),
    (r"/pitfalls/api/status", StatusHandler),
    (r"/pitfalls/api/state", StateHandler),
    (r"/pitfalls/api/submit", SubmitHandler),
    (r"/pitfalls/api/notes", NotesHandler),
    (r"/pitfalls/api/clock", ClockHandler),
    (r"/pitfalls/api/files", FilesHandler),
    (r"/pitfalls/api/files/(.+)", FilesHandler),
    *SEAT_ROUTES,
    *RECOVERY_ROUTES,
]
"""The interviewer's port: the dashboard, the report and the JSON API (both apps register these)."""


class NotHereHandler(web.RequestHandler):
    """Any path of the candidate's port outside ``/candidate/``: 404, naming nothing else."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": 404, "message": "This port serves only the candidate's JupyterLab "
                                "(/candidate/...). Got another path instead."}))


def _quiet_access_log(handler: web.RequestHandler) -> None:
    """Log only the candidate port's server errors (JupyterLab polls several times a second)."""
    if handler.get_status() >= 500:  # a plain tornado handler (the proxy's) has no .log: tornado's own then
        log = getattr(handler, "log", None) or app_log
        log.error("%d %s %s", handler.get_status(), handler.request.method, handler.request.path)


def _candidate_log(handler: web.RequestHandler) -> None:
    """The candidate port's log (errors only), and the candidate's presence: a request answered now."""
    _quiet_access_log(handler)
    service = handler.settings.get("pitfalls_service")
    if service is not None and handler.get_status() < 400:
        service.presence.seen()


def candidate_application(socket_path: str, service: SessionService | None = None,
                          offload: Offload | None = None) -> web.Application:
    """The candidate's origin: the proxy to the container's JupyterLab, and with ``service`` the lab
    timer's script and status (lab_status.py), nothing else."""
    own = lab_routes(socket_path) if service is not None else []
    return web.Application([*own, (r"/candidate/(.*)", CandidateProxyHandler, {"socket_path": socket_path}),
                            (r"/", web.RedirectHandler, {"url": "/candidate/lab"})],
                           default_handler_class=NotHereHandler, log_function=_candidate_log,
                           pitfalls_service=service, pitfalls_io=offload)


def interviewer_application(base_settings: dict[str, Any], mount: SessionMount, *, name: str,
                            allow_remote: bool) -> web.Application:
    """One session's own interviewer application, for a process serving many: the pitfalls routes
    only (``name``: the extension whose settings the handlers read), jupyter-server's settings with
    this session's service, worker threads and an identity provider that knows this session's two
    tokens and no other. Nothing else is routed: every other path answers 404."""
    live = mount.live
    idp = SessionIdentityProvider(interviewer_token=live.interviewer_token, candidate_token=live.candidate_token)
    settings = {k: v for k, v in base_settings.items() if k not in ("static_path", "static_handler_class")}
    settings.update(identity_provider=idp, pitfalls_service=mount.service, pitfalls_io=mount.offload,
                    pitfalls_ports={}, allow_remote_access=allow_remote, default_handler_class=DeniedHandler,
                    default_handler_args={})
    app = web.Application([(pattern, handler, {"name": name}) for pattern, handler in INTERVIEWER_ROUTES],
                          **settings)
    deny_foreign_handlers(app)  # nothing but the pitfalls handlers, whatever tornado added from the settings
    return app


class SessionMount:
    """One session served: :class:`SessionService`, worker threads, the two capped TCP listeners and
    the submit socket. Bind, then open (on the event loop), then close."""

    def __init__(self, session_id: str, *, log: logging.Logger) -> None:
        self.service = SessionService(session_id=session_id)
        self.offload = Offload(IO_WORKERS)
        self.log = log
        self.submit_server: httpserver.HTTPServer | None = None
        self.tcp: dict[str, tuple[CappedHTTPServer, int, list[socket.socket]]] = {}

    @property
    def live(self) -> Any:
        """The session's record (:class:`pitfalls.live.record.LiveSession`)."""
        return self.service.live

    @property
    def ports(self) -> dict[str, int]:
        """``{"interviewer": port, "candidate": port}`` as bound."""
        return {role: port for role, (_, port, _) in self.tcp.items()}

    def bind(self, interviewer_app: web.Application, *, ip: str = "", interviewer_port: int = -1,
             candidate_port: int = -1, submit_socket: Path | None = None) -> None:
        """Listen on the submit socket and bind both TCP ports (a port in use fails here); the ports
        accept once :meth:`open` runs on the event loop. -1: the session's port; 0: any free one."""
        live = self.live
        self.submit_server = self._serve_submit_socket(submit_socket or live.run_dir / SESSION_SOCKET)
        want = {"interviewer": live.interviewer_port if interviewer_port < 0 else interviewer_port,
                "candidate": live.port if candidate_port < 0 else candidate_port}
        apps = {"interviewer": interviewer_app,
                "candidate": candidate_application(str(live.run_dir / containers.JUPYTER_SOCKET), self.service,
                                                   self.offload)}
        for role, port in want.items():
            socks = netutil.bind_sockets(port, address=ip or live.host)
            bound = socks[0].getsockname()[1]
            self.tcp[role] = (_tcp_server(role, apps[role], bound), bound, socks)

    def open(self) -> None:
        """Start accepting on both TCP ports."""
        for role, (server, port, socks) in self.tcp.items():
            server.add_sockets(socks)
            self.log.info("pitfalls %s port %d (session %s)", role, port, self.live.session_id)

    def servers(self) -> list[httpserver.HTTPServer]:
        """The submit socket's server and both TCP servers (to close their connections after a detach)."""
        return [s for s in (self.submit_server, *(server for server, _, _ in self.tcp.values())) if s is not None]

    def stop_listening(self) -> None:
        """Close the submit socket and both ports (idempotent; requests in flight finish)."""
        if self.submit_server is not None:
            self.submit_server.stop()
            self.submit_server = None
        for server, _, socks in self.tcp.values():
            server.stop()
            for sock in socks:  # never added when the loop stopped before open() ran
                sock.close()
        self.tcp = {}

    def close(self) -> None:
        """Stop listening, then finish the submission being scored (blocks until it is recorded)."""
        self.stop_listening()
        self.offload.shutdown()
        self.service.close()

    def _serve_submit_socket(self, path: Path) -> httpserver.HTTPServer:
        """Listen on ``path`` (mode 0666: the candidate's uid 1000 connects from inside the container)."""
        app = web.Application([(r"/submit", SocketSubmitHandler), (r"/status", SocketStatusHandler),
                               (r"/final", SocketFinalHandler), (r"/preflight", SocketPreflightHandler)],
                              pitfalls_service=self.service, pitfalls_io=self.offload,
                              log_function=_quiet_access_log)
        server = CappedHTTPServer(app, max_connections=SOCKET_CONNECTIONS, stall_seconds=5.0, name=str(path),
                                  max_body_size=16 * 2**20, idle_connection_timeout=120, body_timeout=30)
        if path.is_symlink() or (path.exists() and not path.is_socket()):
            raise containers.ContainerError(f"{path} must be absent or a socket. Got another kind of file instead.")
        sock = bind_unix_socket(str(path), mode=0o666)
        os.chmod(path, 0o666)
        server.add_socket(sock)
        self.log.info("pitfalls-submit endpoint on %s", path)
        return server


def _tcp_server(role: str, app: Any, port: int) -> CappedHTTPServer:
    if role == "candidate":
        return CappedHTTPServer(app, max_connections=CANDIDATE_CONNECTIONS, name=f"candidate port {port}",
                                max_body_size=MAX_BODY, max_buffer_size=MAX_BODY,
                                idle_connection_timeout=120, body_timeout=600)
    return CappedHTTPServer(app, max_connections=INTERVIEWER_CONNECTIONS, stall_seconds=5.0,
                            name=f"interviewer port {port}", max_body_size=2**20,
                            idle_connection_timeout=60, body_timeout=30)

"""The extension application: settings, handlers, the two TCP ports and the candidate's ``session.sock``.

Candidate and interviewer never share an origin: the candidate's JupyterLab (``/candidate/...``)
is served on the candidate's port by a small application of its own, and the interviewer's
dashboard, API and report (``/pitfalls/...``) on the interviewer's port by jupyter-server's web
application, whose built-in routes are all denied. jupyter-server itself listens only on a UNIX
socket in the session's folder (``jp.sock``, mode 0600); both TCP ports are
:class:`~.netcap.CappedHTTPServer` listeners, so idle connections cannot starve either of them.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from tornado import httpserver, ioloop, netutil, web
from tornado.netutil import bind_unix_socket
from traitlets import Int, Unicode

from pitfalls.live import containers

from . import logs
from .auth import deny_foreign_handlers
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

HERE = Path(__file__).parent
SESSION_SOCKET = "session.sock"
INTERVIEWER_CONNECTIONS = 256  # one interviewer's browser needs a handful
CANDIDATE_CONNECTIONS = 512  # JupyterLab: a few HTTP connections plus a WebSocket per kernel and terminal
SOCKET_CONNECTIONS = 512  # session.sock: pitfalls-submit opens one per call
IO_WORKERS = 4  # threads for the handlers' file-system and database work (off the event loop)


class NotHereHandler(web.RequestHandler):
    """Any path of the candidate's port outside ``/candidate/``: 404, naming nothing else."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": 404, "message": "This port serves only the candidate's JupyterLab "
                                "(/candidate/...). Got another path instead."}))


def _quiet_access_log(handler: web.RequestHandler) -> None:
    """Log only the candidate port's server errors (JupyterLab polls several times a second)."""
    if handler.get_status() >= 500:
        handler.log.error("%d %s %s", handler.get_status(), handler.request.method, handler.request.path)


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


class SessionApp(ExtensionAppJinjaMixin, ExtensionApp):
    """One live session: dashboard, API, candidate proxy and submit socket."""

    name = "pitfalls_session"
    default_url = "/pitfalls/dashboard"
    load_other_extensions = False
    template_paths = [str(HERE / "templates")]

    session_id = Unicode("", config=True, help="The live session this server serves.")
    submit_socket = Unicode("", config=True, help="Where to serve pitfalls-submit (default: the session's run/).")
    ip = Unicode("", config=True, help="Address of both TCP ports (default: the session's host).")
    interviewer_port = Int(-1, config=True, help="The interviewer's port (-1: the session's; 0: any free one).")
    candidate_port = Int(-1, config=True, help="The candidate's port (-1: the session's; 0: any free one).")
    log_file = Unicode("", config=True, help="Log here, rotated and rate-limited (default: stderr as is).")

    @classmethod
    def get_extension_package(cls) -> str:
        """The module with ``_jupyter_server_extension_points`` (the default takes the top-level package)."""
        return "pitfalls.live.server"

    def initialize_settings(self) -> None:
        if self.log_file:
            handler = logs.install(Path(self.log_file), [self.serverapp.log, self.log])
            self._log_check = ioloop.PeriodicCallback(handler.check, 5000)  # stderr written outside logging
            self._log_check.start()
        self.service = SessionService(session_id=self.session_id)
        live = self.service.live
        idp = self.serverapp.identity_provider
        idp.interviewer_token, idp.candidate_token = live.interviewer_token, live.candidate_token
        self.settings["pitfalls_service"] = self.service
        self.settings["pitfalls_io"] = Offload(IO_WORKERS)
        self._socket_server = self._serve_submit_socket(Path(self.submit_socket or live.run_dir / SESSION_SOCKET))
        self._tcp = self._bind_ports()
        self.settings["pitfalls_ports"] = {role: port for role, (_, port, _) in self._tcp.items()}
        self.serverapp.io_loop.add_callback(self._open_ports)

    def _bind_ports(self) -> dict[str, tuple[CappedHTTPServer, int, list[socket.socket]]]:
        """Bind both TCP ports now (a port in use fails the start); they accept once the loop runs."""
        live = self.service.live
        ip = self.ip or live.host
        want = {"interviewer": live.interviewer_port if self.interviewer_port < 0 else self.interviewer_port,
                "candidate": live.port if self.candidate_port < 0 else self.candidate_port}
        apps = {"interviewer": self.serverapp.web_app,
                "candidate": candidate_application(str(live.run_dir / containers.JUPYTER_SOCKET), self.service,
                                                   self.settings["pitfalls_io"])}
        out = {}
        for role, port in want.items():
            socks = netutil.bind_sockets(port, address=ip)
            bound = socks[0].getsockname()[1]
            out[role] = (self._tcp_server(role, apps[role], bound), bound, socks)
        return out

    @staticmethod
    def _tcp_server(role: str, app: Any, port: int) -> CappedHTTPServer:
        if role == "candidate":
            return CappedHTTPServer(app, max_connections=CANDIDATE_CONNECTIONS, name=f"candidate port {port}",
                                    max_body_size=MAX_BODY, max_buffer_size=MAX_BODY,
                                    idle_connection_timeout=120, body_timeout=600)
        return CappedHTTPServer(app, max_connections=INTERVIEWER_CONNECTIONS, stall_seconds=5.0,
                                name=f"interviewer port {port}", max_body_size=2**20,
                                idle_connection_timeout=60, body_timeout=30)

    def _open_ports(self) -> None:
        """Deny jupyter-server's own routes (any extension's too), then start accepting on both ports."""
        denied = deny_foreign_handlers(self.serverapp.web_app)
        self.log.debug("denied %d jupyter-server routes", len(denied))
        for role, (server, port, socks) in self._tcp.items():
            server.add_sockets(socks)
            self.log.info("pitfalls %s port %d", role, port)

    def _serve_submit_socket(self, path: Path) -> httpserver.HTTPServer:
        """Listen on ``path`` (mode 0666: the candidate's uid 1000 connects from inside the container)."""
        app = web.Application([(r"/submit", SocketSubmitHandler), (r"/status", SocketStatusHandler),
                               (r"/final", SocketFinalHandler), (r"/preflight", SocketPreflightHandler)],
                              pitfalls_service=self.service, pitfalls_io=self.settings["pitfalls_io"],
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

    def initialize_handlers(self) -> None:
        deny_foreign_handlers(self.serverapp.web_app)  # jupyter-server's routes, before ours join them
        self.handlers.extend([
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
        ])

    async def stop_extension(self) -> None:
        socket_server = getattr(self, "_socket_server", None)  # None: initialize_settings failed before it
        if socket_server is not None:
            socket_server.stop()
        for server, _, socks in getattr(self, "_tcp", {}).values():
            server.stop()
            for sock in socks:  # never added when the loop stopped before _open_ports ran
                sock.close()
        self.settings["pitfalls_io"].shutdown()
        self.service.close()

"""The extension application: settings, handlers, and the candidate's ``session.sock``."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from tornado import httpserver, web
from tornado.netutil import bind_unix_socket
from traitlets import Unicode

from .. import containers
from .handlers import (DashboardHandler, FilesHandler, NotesHandler, ReportHandler, SocketStatusHandler,
                       SocketSubmitHandler, StateHandler, StatusHandler, SubmitHandler)
from .proxy import CandidateProxyHandler
from .service import SessionService

HERE = Path(__file__).parent
SESSION_SOCKET = "session.sock"


class CappedHTTPServer(httpserver.HTTPServer):
    """An HTTP server that holds at most ``MAX_CONNECTIONS`` connections: more are closed at once.

    The candidate can open connections to ``session.sock`` at will; without a cap, holding
    thousands exhausts the server's file handles and starves the interviewer's dashboard.
    """

    MAX_CONNECTIONS = 512  # far below the process's file limit; a candidate's own tools never need more

    def handle_stream(self, stream, address) -> None:  # type: ignore[no-untyped-def]
        if len(self._connections) >= self.MAX_CONNECTIONS:
            stream.close()
            return
        super().handle_stream(stream, address)


class SessionApp(ExtensionAppJinjaMixin, ExtensionApp):
    """One live session: dashboard, API, candidate proxy and submit socket."""

    name = "pitfalls_session"
    default_url = "/pitfalls/dashboard"
    load_other_extensions = False
    template_paths = [str(HERE / "templates")]

    session_id = Unicode("", config=True, help="The live session this server serves.")
    submit_socket = Unicode("", config=True, help="Where to serve pitfalls-submit (default: the session's run/).")

    @classmethod
    def get_extension_package(cls) -> str:
        """The module with ``_jupyter_server_extension_points`` (the default takes the top-level package)."""
        return "pitfalls.session_server"

    def initialize_settings(self) -> None:
        self.service = SessionService(session_id=self.session_id)
        live = self.service.live
        idp = self.serverapp.identity_provider
        idp.interviewer_token, idp.candidate_token = live.interviewer_token, live.candidate_token
        self.settings["pitfalls_service"] = self.service
        self._socket_server = self._serve_submit_socket(Path(self.submit_socket or live.run_dir / SESSION_SOCKET))

    def _serve_submit_socket(self, path: Path) -> httpserver.HTTPServer:
        """Listen on ``path`` (mode 0666: the candidate's uid 1000 connects from inside the container)."""
        app = web.Application([(r"/submit", SocketSubmitHandler), (r"/status", SocketStatusHandler)],
                              pitfalls_service=self.service)
        server = CappedHTTPServer(app, max_body_size=16 * 2**20, idle_connection_timeout=120, body_timeout=30)
        if path.is_symlink() or (path.exists() and not path.is_socket()):
            raise containers.ContainerError(f"{path} must be absent or a socket. Got another kind of file instead.")
        sock = bind_unix_socket(str(path), mode=0o666)
        os.chmod(path, 0o666)
        server.add_socket(sock)
        self.log.info("pitfalls-submit endpoint on %s", path)
        return server

    def initialize_handlers(self) -> None:
        proxy_kwargs = {"socket_path": str(self.service.live.run_dir / containers.JUPYTER_SOCKET)}
        self.handlers.extend([
            (r"/pitfalls/dashboard", DashboardHandler),
            (r"/pitfalls/report", ReportHandler),
            (r"/pitfalls/api/status", StatusHandler),
            (r"/pitfalls/api/state", StateHandler),
            (r"/pitfalls/api/submit", SubmitHandler),
            (r"/pitfalls/api/notes", NotesHandler),
            (r"/pitfalls/api/files", FilesHandler),
            (r"/pitfalls/api/files/(.+)", FilesHandler),
            (r"/candidate/(.*)", CandidateProxyHandler, proxy_kwargs),
        ])

    async def stop_extension(self) -> None:
        self._socket_server.stop()
        self.service.close()

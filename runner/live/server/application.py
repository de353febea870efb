"""The extension application: settings, handlers, the two TCP ports and the candidate's ``session.sock``.

Candidate and interviewer never share an origin: the candidate's JupyterLab (``/candidate/...``)
is served on the candidate's port by a small application of its own, and the interviewer's
dashboard, API and report (``/pitfalls/...``) on the interviewer's port by jupyter-server's web
application, whose built-in routes are all denied. jupyter-server itself listens only on a UNIX
socket in the session's folder (``jp.sock``, mode 0600); both TCP ports are
:class:`~.netcap.CappedHTTPServer` listeners, so idle connections cannot starve either of them.
"""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from traitlets import Int, Unicode

from . import logs
from .auth import deny_foreign_handlers
from .mount import (  # noqa: F401 - re-exported (tests and older callers import them from here)
    CANDIDATE_CONNECTIONS,
    INTERVIEWER_CONNECTIONS,
    INTERVIEWER_ROUTES,
    IO_WORKERS,
    SESSION_SOCKET,
    SOCKET_CONNECTIONS,
    NotHereHandler,
    SessionMount,
    candidate_application,
)

HERE = Path(__file__).parent


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
            self._log_check = logs.install_checked(Path(self.log_file), [self.serverapp.log, self.log])
        self.mount = SessionMount(self.session_id, log=self.log)
        self.service = self.mount.service
        live = self.service.live
        idp = self.serverapp.identity_provider
        idp.interviewer_token, idp.candidate_token = live.interviewer_token, live.candidate_token
        self.settings["pitfalls_service"] = self.service
        self.settings["pitfalls_io"] = self.mount.offload
        self.mount.bind(self.serverapp.web_app, ip=self.ip, interviewer_port=self.interviewer_port,
                        candidate_port=self.candidate_port,
                        submit_socket=Path(self.submit_socket) if self.submit_socket else None)
        self.settings["pitfalls_ports"] = self.mount.ports
        self.serverapp.io_loop.add_callback(self._open_ports)

    def _open_ports(self) -> None:
        """Deny jupyter-server's own routes (any extension's too), then start accepting on both ports."""
        denied = deny_foreign_handlers(self.serverapp.web_app)
        self.log.debug("denied %d jupyter-server routes", len(denied))
        self.mount.open()

    def initialize_handlers(self) -> None:
        deny_foreign_handlers(self.serverapp.web_app)  # jupyter-server's routes, before ours join them
        self.handlers.extend(INTERVIEWER_ROUTES)

    async def stop_extension(self) -> None:
        mount = getattr(self, "mount", None)  # None: initialize_settings failed before it
        if mount is not None:
            mount.close()

"""The host server: one jupyter-server extension process serving every host-served live session.

jupyter-server itself listens only on ``$PITFALLS_HOME/host/jp.sock`` (mode 0600) and serves nothing
(every route it registers is denied, as in the per-session server). Each attached session gets what
its own server would have given it (runner/live/server/mount.py): the two TCP ports, its
``session.sock`` and a scoring thread, with an interviewer application of its own whose identity
provider knows that session's two tokens only. The control socket attaches and detaches sessions.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from traitlets import Unicode

from pitfalls.live import pool, prepared
from pitfalls.live.server import logs
from pitfalls.live.server.auth import deny_foreign_handlers
from pitfalls.live.server.mount import TEMPLATES

from .control import serve_control
from .registry import Registry
from .state import CONTROL_SOCKET, PID_FILE, HostRecord, home_arg, host_dir, read_record, write_record


class HostApp(ExtensionAppJinjaMixin, ExtensionApp):
    """Every host-served live session of one ``PITFALLS_HOME``, in one process."""

    name = "pitfalls_host"
    load_other_extensions = False
    template_paths = [str(TEMPLATES)]

    log_file = Unicode("", config=True, help="Log here, rotated and rate-limited (default: stderr as is).")

    @classmethod
    def get_extension_package(cls) -> str:
        """The module with ``_jupyter_server_extension_points``."""
        return "pitfalls.live.host"

    def initialize_settings(self) -> None:
        if self.log_file:
            self._log_check = logs.install_checked(Path(self.log_file), [self.serverapp.log, self.log])
        # The sessions' applications copy the web application's settings once they are complete.
        self.registry = Registry(self.serverapp.web_app.settings, name=self.name, log=self.log)
        self._control = serve_control(host_dir(create=True) / CONTROL_SOCKET, self.registry)
        self.keeper = pool.Keeper(pool.wanted(), self.log)  # warm containers (runner/live/pool.py)
        self.preparer = prepared.Preparer(self.log)  # the next variant's scale (runner/live/prepared.py)
        write_record(HostRecord(pid=os.getpid(), started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                                home=home_arg()))
        self.serverapp.io_loop.add_callback(self._start)

    def initialize_handlers(self) -> None:
        deny_foreign_handlers(self.serverapp.web_app)  # jupyter-server's own routes: none is served

    def _start(self) -> None:
        """Deny every route registered since, then attach every open host-served session."""
        deny_foreign_handlers(self.serverapp.web_app)
        self.registry.attach_open()
        self.keeper.start()
        self.preparer.start()

    async def stop_extension(self) -> None:
        for helper in (getattr(self, "keeper", None), getattr(self, "preparer", None)):
            if helper is not None:
                helper.stop(wait=False)  # no new warm container or measurement from now on
        control = getattr(self, "_control", None)
        if control is not None:
            control.stop()
        registry = getattr(self, "registry", None)
        if registry is not None:
            await registry.close_all()
        keeper = getattr(self, "keeper", None)
        if keeper is not None:  # a stopped host server leaves no warm container behind
            await asyncio.to_thread(keeper.stop)
            drained = await asyncio.to_thread(pool.drain)
            self.log.info("warm containers: %d removed", drained)
        preparer = getattr(self, "preparer", None)
        if preparer is not None:  # a measurement under way is not recorded if the stop's grace ends first
            await asyncio.to_thread(preparer.stop)
        record = read_record()
        if record is not None and record.pid == os.getpid():
            (host_dir() / PID_FILE).unlink(missing_ok=True)

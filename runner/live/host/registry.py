"""The sessions one host server serves: each a :class:`~pitfalls.live.server.mount.SessionMount` with an
interviewer application of its own (its token, its service, its port; no other session's).

Everything a session acknowledges is in SQLite or its folder before the answer, so a mount holds
nothing that a restart loses: :meth:`Registry.attach_open` brings every open host-served session
back with its recorded ports and tokens.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

from pitfalls.core.errors import SessionError
from pitfalls.core.store import Store
from pitfalls.live.record import load_session, sessions_dir
from pitfalls.live.server import logs
from pitfalls.live.server.mount import SessionMount, interviewer_application

from .state import SERVED_BY_HOST

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Registry:
    """Attach, detach and list sessions; all calls on the server's event loop."""

    def __init__(self, base_settings: dict[str, Any], *, name: str, log: logging.Logger) -> None:
        self.base_settings = base_settings
        self.name = name
        self.log = log
        self.mounts: dict[str, SessionMount] = {}

    def view(self, session_id: str) -> dict[str, Any]:
        """``{"session_id", "interviewer_port", "candidate_port"}`` of an attached session."""
        ports = self.mounts[session_id].ports
        return {"session_id": session_id, "interviewer_port": ports.get("interviewer"),
                "candidate_port": ports.get("candidate")}

    def attach(self, session_id: str) -> dict[str, Any]:
        """Serve ``session_id`` on its recorded ports (already attached: as it is).

        Raises:
            SessionError: not a live session of this home, or not marked as served by the host.
            OSError: one of its ports is in use.
        """
        if session_id in self.mounts:
            return self.view(session_id)
        live = load_session(session_id)
        if live.served_by != SERVED_BY_HOST:
            raise SessionError(f"Session {session_id} must be marked as served by the host server (served_by "
                               f"{SERVED_BY_HOST!r} in its session.json). Got {live.served_by or 'its own server'!r}"
                               f" instead. Fix: `pitfalls session start --session {session_id} ...` while the host "
                               "server runs marks it.")
        mount = SessionMount(session_id, log=session_log(live.dir / "server.log", session_id))
        try:
            app = interviewer_application(self.base_settings, mount, name=self.name,
                                          allow_remote=live.host not in LOOPBACK)
            mount.bind(app)
        except BaseException:
            # Not mount.close() here: it waits for the scoring thread's warm-up (imports, the scale's
            # trainings), which would hold the event loop every other session is served by.
            mount.stop_listening()
            threading.Thread(target=_close_later, args=(mount,), daemon=True, name=f"close-{session_id}").start()
            raise
        app.settings["pitfalls_ports"] = mount.ports
        mount.open()
        self.mounts[session_id] = mount
        return self.view(session_id)

    async def detach(self, session_id: str) -> bool:
        """Stop serving ``session_id``: its ports and socket close at once; the submission being scored
        is recorded before this returns. False when it was not attached."""
        mount = self.mounts.pop(session_id, None)
        if mount is None:
            return False
        servers = mount.servers()
        mount.stop_listening()
        # Kept-alive connections would go on reaching the detached session's application (a dashboard's
        # polls after a stop and a resume): close them too.
        await asyncio.gather(*(server.close_all_connections() for server in servers), return_exceptions=True)
        await asyncio.to_thread(mount.close)
        mount.log.info("detached from the host server")
        close_log(mount.log)
        self.log.info("detached session %s", session_id)
        return True

    async def close_all(self) -> None:
        """Detach every session (on shutdown)."""
        await asyncio.gather(*(self.detach(sid) for sid in list(self.mounts)))

    def attach_open(self) -> list[str]:
        """Attach every open session of this home marked as served by the host; a session that cannot
        be served (a port taken meanwhile, a damaged record) is logged and left for ``session start``."""
        done = []
        for session_id in open_host_sessions():
            try:
                self.attach(session_id)
                done.append(session_id)
            except Exception as exc:  # noqa: BLE001 - one session's damage must not keep the others unserved
                self.log.error("session %s was not attached: %s", session_id, exc)
        self.log.info("attached %d open session(s): %s", len(done), ", ".join(done) or "none")
        return done


def _close_later(mount: SessionMount) -> None:
    """Finish closing a mount whose attach failed, off the event loop."""
    try:
        mount.close()
    finally:
        close_log(mount.log)


def session_log(path: Path, session_id: str) -> logging.Logger:
    """The session's own ``server.log`` (rotated, rate-limited, as a session server of its own writes it);
    its records also reach the host server's log."""
    logger = logging.getLogger(f"pitfalls_host.session.{session_id}")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        logger.addHandler(logs.server_handler(path))
    logger.info("served by the host server (pid %d)", os.getpid())
    return logger


def close_log(logger: logging.Logger) -> None:
    """Close the session's log file (a detached session holds no descriptor in the host server)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def open_host_sessions() -> list[str]:
    """The ids of this home's live sessions marked ``served_by: host`` and not ended, oldest first."""
    found = []
    with closing(Store()) as store:
        for path in sorted(sessions_dir().glob("*/session.json")):
            try:
                live = load_session(path.parent.name)
            except SessionError:
                continue
            row = store.session(live.session_id) or {}
            if live.served_by == SERVED_BY_HOST and row and not row.get("ended_at"):
                found.append((row.get("created_at", ""), live.session_id))
    return [sid for _, sid in sorted(found)]

"""Recovery from the dashboard: ``POST /pitfalls/api/container {"action": "resume"}`` (interviewer only).

When the candidate's container has exited or is gone (``docker rm -f``, an out-of-memory kill, a
crash, ``docker stop``) while the session server still runs, the interviewer resumes it from the
dashboard instead of a terminal. Doing it here is sound because the server already holds all that
``pitfalls session start --session ID`` would use for the container: the session's record, its
workspace (still mounted on its bounded file system while the server runs), its socket folder and the
candidate's token; it runs as the same host user and already asks Docker for the container's state.
It does exactly what the CLI's resume does for the container (:func:`pitfalls.live.sessions.ensure_container`:
kept if its Jupyter answers, else recreated on the same workspace with the same token, base URL and
lab cookie secret, so the candidate's open lab reconnects) and restarts the clock. One resume at a
time; a resume of a running container that answers changes nothing. When the server itself is down
(host reboot, SIGKILL), the dashboard cannot answer at all: the CLI command is the way, and the
dashboard shows it with a copy button.
"""

from __future__ import annotations

import threading
from typing import Any

from tornado import web

from pitfalls.core.errors import PitfallsError
from pitfalls.core.store import Store
from pitfalls.live import sessions, timer

from .handlers import _Api, _json_body, _offload, _require, _service
from .service import SessionService

RESUME_TIMEOUT = 180.0
"""Recreating the container and waiting for its Jupyter (90 s at most) on a loaded host."""
_LOCK = threading.Lock()


def resume_command(service: SessionService) -> str:
    """The CLI command that resumes this session from a terminal on the host."""
    live = service.live
    return f"pitfalls session start {live.scaffold} --session {live.session_id}"


def resume_container(service: SessionService) -> dict[str, Any]:
    """Keep or recreate the session's container, then restart the clock; returns the container's state.

    Raises:
        PitfallsError: Docker failed (its message says why), or another resume is running.
    """
    if not _LOCK.acquire(blocking=False):
        raise PitfallsError("One resume must finish before the next starts. Got one still running; wait for "
                            "the container state to turn green.")
    try:
        before = service.container_state(max_age=0.0)
        sessions.ensure_container(service.live)
        store = Store()
        timer.mark_up(store, service.live.session_id)
        store.add_event(service.live.session_id, "container_resumed", {"by": "interviewer", "was": before})
        return {"container_state": service.container_state(max_age=0.0), "was": before}
    finally:
        _LOCK.release()


class ContainerHandler(_Api):
    """POST /pitfalls/api/container {"action": "resume"}: resume the candidate's container (interviewer only)."""

    async def post(self) -> None:
        _require(self, "interviewer")
        body = _json_body(self)
        if body.get("action") != "resume":
            raise web.HTTPError(400, log_message=f"action must be \"resume\". Got {body.get('action')!r} instead.")
        service = _service(self)
        try:
            done = await _offload(self).run(resume_container, service, timeout=RESUME_TIMEOUT,
                                            what="Resuming the container")
        except PitfallsError as exc:
            raise web.HTTPError(409, log_message=f"{exc} From a terminal: {resume_command(service)}") from None
        self._answer({**done, "command": resume_command(service)})


ROUTES = [(r"/pitfalls/api/container", ContainerHandler)]

"""Small handlers: each checks who is asking, then calls one :class:`SessionService` method.

Every call that touches the file system, the database or Docker runs on :class:`Offload`'s few
worker threads with a time bound, never on the event loop: a workspace of 125,000 files, a FIFO in
place of a file or a slow disk makes that one request answer 503 with a message, while the
dashboard, the API and the candidate's JupyterLab go on answering.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from tornado import web

from pitfalls.core.errors import PitfallsError, StorageError
from pitfalls.sched import SchedulerBusy

from .auth import user_role
from .service import RequestError, SessionService

FILES_TIMEOUT = 5.0
STATE_TIMEOUT = 10.0


class Offload:
    """A few worker threads for blocking work. A call waits at most ``timeout`` seconds; while every
    worker is still busy (stuck on a slow disk, say), new calls are refused at once instead of queueing."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.running = 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pitfalls-io")
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float, what: str) -> Any:
        """``fn(*args)`` on a worker thread; HTTP 503 with a message when no worker is free or time is up."""
        with self._lock:
            if self.running >= self.workers:
                raise web.HTTPError(503, log_message=(
                    f"{what} must wait for a free worker. Got all {self.workers} still busy with earlier requests "
                    "(a very large or slow workspace); try again in a few seconds."))
            self.running += 1
        future = self._pool.submit(fn, *args)
        future.add_done_callback(self._done)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise web.HTTPError(503, log_message=(
                f"{what} must finish within {timeout:g} s. Got no result in time (the workspace may hold very "
                "many or very large files, or a file that never ends); try again later.")) from None

    def _done(self, _: Future) -> None:
        with self._lock:
            self.running -= 1

    def shutdown(self) -> None:
        """Stop taking work; threads already stuck are left to end on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _offload(handler: web.RequestHandler) -> Offload:
    return handler.settings["pitfalls_io"]


NEEDS = {"interviewer": "the interviewer's token", "candidate": "the candidate's token"}


def _service(handler: web.RequestHandler) -> SessionService:
    return handler.settings["pitfalls_service"]


def _require(handler: web.RequestHandler, *roles: str) -> str:
    """The caller's role if it is one of ``roles``; else 403 with what was expected."""
    role = user_role(handler.current_user)
    if role not in roles:
        got = f"{NEEDS[role]}" if role else "no valid token"
        raise web.HTTPError(403, reason="Forbidden", log_message=(
            f"This endpoint needs {' or '.join(NEEDS[r] for r in roles)}. Got {got} instead."))
    return role


def _json_body(handler: web.RequestHandler) -> dict[str, Any]:
    try:
        body = json.loads(handler.request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPError(400, log_message="The body must be a JSON object. Got something else instead.")
    return body


def busy(handler: web.RequestHandler, exc: SchedulerBusy) -> None:
    """503 with ``Retry-After``: the host's scoring queue (runner/sched/) is full and nothing was
    stored; the message says when to retry."""
    handler.set_status(503)
    handler.set_header("Retry-After", str(exc.retry_seconds))
    handler.set_header("Content-Type", "application/json")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(json.dumps({"status": 503, "message": str(exc), "retry_seconds": exc.retry_seconds}))


class _Api(ExtensionHandlerMixin, APIHandler):
    """JSON in, JSON out; 403 (never a login redirect) without a valid token."""

    def check_xsrf_cookie(self) -> None:
        """No cookie ever authenticates these endpoints (tokens travel in a header), so no XSRF check."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if isinstance(exc, PitfallsError):
            message = str(exc)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def _answer(self, data: Any) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))


class StatusHandler(_Api):
    """GET /pitfalls/api/status: timer and submission count (either token)."""

    async def get(self) -> None:
        _require(self, "interviewer", "candidate")
        self._answer(await _offload(self).run(_service(self).candidate_status, timeout=STATE_TIMEOUT,
                                              what="The status"))


class SubmitHandler(_Api):
    """POST /pitfalls/api/submit {"note"}: score the workspace now (candidate's token)."""

    async def post(self) -> None:
        _require(self, "candidate")
        try:
            body = _json_body(self)
            self._answer(await _service(self).submit(body.get("note", ""), body.get("final", False)))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None
        except StorageError as exc:  # the host's disk is full or read-only: not the candidate's doing
            raise web.HTTPError(503, log_message=str(exc)) from None
        except SchedulerBusy as exc:  # the host's scoring queue is full: nothing was stored
            busy(self, exc)


class StateHandler(_Api):
    """GET /pitfalls/api/state: everything the dashboard shows (interviewer's token)."""

    async def get(self) -> None:
        _require(self, "interviewer")
        self._answer(await _offload(self).run(_service(self).state, timeout=STATE_TIMEOUT, what="The state"))


class NotesHandler(_Api):
    """POST /pitfalls/api/notes {"text"}: add an interviewer's note."""

    async def post(self) -> None:
        _require(self, "interviewer")
        text = _json_body(self).get("text")
        try:
            self._answer(await _offload(self).run(_service(self).add_note, text, timeout=STATE_TIMEOUT,
                                                  what="Adding a note"))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class ClockHandler(_Api):
    """POST /pitfalls/api/clock {"action": "extend", "minutes": N} or {"action": "pause"|"unpause"}: change
    the session's clock, logged on its timeline (interviewer's token only)."""

    async def post(self) -> None:
        _require(self, "interviewer")
        body = _json_body(self)
        try:
            self._answer(await _offload(self).run(_service(self).change_clock, body.get("action"),
                                                  body.get("minutes"), timeout=STATE_TIMEOUT,
                                                  what="Changing the clock"))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class FilesHandler(_Api):
    """GET /pitfalls/api/files[/PATH]: the candidate's files, read-only (interviewer's token)."""

    async def get(self, rel: str = "") -> None:
        _require(self, "interviewer")
        service = _service(self)
        try:
            if rel:
                data = await _offload(self).run(lambda: service.highlighted(service.file(rel)), timeout=FILES_TIMEOUT,
                                                what=f"Reading {rel}")
            else:
                data = await _offload(self).run(service.listing, timeout=FILES_TIMEOUT,
                                                what="Listing the workspace")
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None
        self._answer(data)


class _Page(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare(_redirect_to_login=False)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Plain text (jupyter-server's error page would set an ``_xsrf`` cookie)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{status_code}: {getattr(exc, 'log_message', None) or self._reason}\n")


class DashboardHandler(_Page):
    """GET /pitfalls/dashboard?token=...: the interviewer's live page.

    The page is a shell without data (every datum comes from the token-checked API), so it is
    served to anyone: its script moves the token from the address bar into the tab's session
    storage, and a reload, which no longer carries the token, must still get the page.
    """

    @allow_unauthenticated
    def get(self) -> None:
        live = _service(self).live
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        # The template alone: jupyter-server's namespace holds an XSRF token, whose access sets an
        # ``_xsrf`` cookie on the host; cookies are not port-scoped, so none is ever set here.
        self.finish(self.get_template("dashboard.html").render(session_id=live.session_id, scaffold=live.scaffold,
                                                               candidate=""))


class SocketSubmitHandler(web.RequestHandler):
    """POST /submit on ``session.sock`` inside the container: reaching the socket is the credential."""

    MAX_BODY = 2**20

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish({"message": message})

    async def post(self) -> None:
        service: SessionService = self.settings["pitfalls_service"]
        if len(self.request.body) > self.MAX_BODY:
            return self._refuse(413, f"The request must be at most {self.MAX_BODY // 1024} KiB (a note of at most "
                                     f"2000 characters). Got {len(self.request.body) // 1024} KiB instead.")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            return self._refuse(400, 'The body must be a JSON object like {"note": "..."}. Got invalid JSON.')
        if not isinstance(body, dict):
            return self._refuse(400, 'The body must be a JSON object like {"note": "..."}. '
                                     f"Got a JSON {type(body).__name__} instead.")
        try:
            self.finish(await service.submit(body.get("note", ""), body.get("final", False)))
        except RequestError as exc:
            self._refuse(exc.status, str(exc))
        except StorageError as exc:  # the host's disk is full or read-only: not the candidate's doing
            self._refuse(503, str(exc))
        except SchedulerBusy as exc:  # the host's scoring queue is full: nothing was stored
            busy(self, exc)
        except PitfallsError as exc:  # e.g. a workspace over the snapshot limit: its message says how to fix it
            self._refuse(400, str(exc))


class SocketPreflightHandler(web.RequestHandler):
    """POST /preflight on ``session.sock`` (``pitfalls-submit --preflight``): train, count and check
    predict()'s form on a few training rows; no score, no submission (runner/service/preflight.py)."""

    async def post(self) -> None:
        service: SessionService = self.settings["pitfalls_service"]
        try:
            self.finish(await service.preflight())
        except RequestError as exc:
            self.set_status(exc.status)
            self.finish({"message": str(exc)})
        except StorageError as exc:  # the host's disk is full or read-only: not the candidate's doing
            self.set_status(503)
            self.finish({"message": str(exc)})
        except SchedulerBusy as exc:  # the host's scoring queue is full: nothing was run
            busy(self, exc)
        except PitfallsError as exc:
            self.set_status(400)
            self.finish({"message": str(exc)})


class SocketFinalHandler(web.RequestHandler):
    """POST /final {"submission_id": N} on ``session.sock``: the candidate's final submission
    (``pitfalls-submit --set-final N``); answered once the choice is stored, with no score in it."""

    async def post(self) -> None:
        service: SessionService = self.settings["pitfalls_service"]
        offload: Offload = self.settings["pitfalls_io"]
        try:
            body = json.loads(self.request.body or b"{}") if len(self.request.body) <= 4096 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.set_status(400)
            return self.finish({"message": 'The body must be a JSON object like {"submission_id": 3}. Got something '
                                           "else instead."})
        try:
            self.finish(await offload.run(service.choose_final, body.get("submission_id"), timeout=STATE_TIMEOUT,
                                          what="Choosing the final submission"))
        except RequestError as exc:
            self.set_status(exc.status)
            self.finish({"message": str(exc)})
        except (web.HTTPError, StorageError) as exc:
            self.set_status(503)
            self.finish({"message": getattr(exc, "log_message", None) or str(exc)})


class SocketStatusHandler(web.RequestHandler):
    """GET /status on ``session.sock``."""

    async def get(self) -> None:
        service: SessionService = self.settings["pitfalls_service"]
        offload: Offload = self.settings["pitfalls_io"]
        try:
            self.finish(await offload.run(service.candidate_status, timeout=STATE_TIMEOUT, what="The status"))
        except web.HTTPError as exc:
            self.set_status(exc.status_code)
            self.finish({"message": exc.log_message})

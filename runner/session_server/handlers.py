"""Small handlers: each checks who is asking, then calls one :class:`SessionService` method."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from tornado import web

from ..errors import PitfallsError, StorageError
from .auth import user_role
from .service import RequestError, SessionService

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

    def get(self) -> None:
        _require(self, "interviewer", "candidate")
        self._answer(_service(self).candidate_status())


class SubmitHandler(_Api):
    """POST /pitfalls/api/submit {"note"}: score the workspace now (candidate's token)."""

    async def post(self) -> None:
        _require(self, "candidate")
        try:
            self._answer(await _service(self).submit(_json_body(self).get("note", "")))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None
        except StorageError as exc:  # the host's disk is full or read-only: not the candidate's doing
            raise web.HTTPError(503, log_message=str(exc)) from None


class StateHandler(_Api):
    """GET /pitfalls/api/state: everything the dashboard shows (interviewer's token)."""

    def get(self) -> None:
        _require(self, "interviewer")
        self._answer(_service(self).state())


class NotesHandler(_Api):
    """POST /pitfalls/api/notes {"text"}: add an interviewer's note."""

    def post(self) -> None:
        _require(self, "interviewer")
        try:
            self._answer(_service(self).add_note(_json_body(self).get("text")))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class FilesHandler(_Api):
    """GET /pitfalls/api/files[/PATH]: the candidate's files, read-only (interviewer's token)."""

    def get(self, rel: str = "") -> None:
        _require(self, "interviewer")
        try:
            self._answer(_service(self).file(rel) if rel else {"files": _service(self).files()})
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class _Page(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare(_redirect_to_login=False)


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
        self.finish(self.render_template("dashboard.html", session_id=live.session_id, scaffold=live.scaffold,
                                         candidate=""))


class ReportHandler(_Page):
    """GET /pitfalls/report: the self-contained HTML report, as of now."""

    def get(self) -> None:
        from ..report import render_report

        _require(self, "interviewer")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(render_report(session_id=_service(self).live.session_id))


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
            self.finish(await service.submit(body.get("note", "")))
        except RequestError as exc:
            self._refuse(exc.status, str(exc))
        except StorageError as exc:  # the host's disk is full or read-only: not the candidate's doing
            self._refuse(503, str(exc))
        except PitfallsError as exc:  # e.g. a workspace over the snapshot limit: its message says how to fix it
            self._refuse(400, str(exc))


class SocketStatusHandler(web.RequestHandler):
    """GET /status on ``session.sock``."""

    def get(self) -> None:
        self.finish(self.settings["pitfalls_service"].candidate_status())

"""Who is asking: the interviewer or the candidate, told apart by their session tokens.

The host's jupyter-server is only a web framework here. Every route it registers itself (kernels,
contents, terminals, metrics, static files, login, ...) is replaced by :class:`DeniedHandler`
(:func:`deny_foreign_handlers`), and behind that the authorizer denies every built-in service: neither
token runs code, reads files or reads metrics on the host. Tokens travel as ``Authorization: token T``
or ``?token=T``; no cookie authenticates anyone, and the session server sets none.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado import routing, web
from traitlets import Unicode

ROLES = ("interviewer", "candidate")


def request_token(handler: web.RequestHandler) -> str:
    """The token a request carries (header first, then the query string), or ``""``."""
    header = handler.request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return handler.get_query_argument("token", "")


def role_for(token: str, *, interviewer_token: str, candidate_token: str) -> str | None:
    """``interviewer``, ``candidate`` or None, comparing in constant time."""
    if token and interviewer_token and secrets.compare_digest(token, interviewer_token):
        return "interviewer"
    if token and candidate_token and secrets.compare_digest(token, candidate_token):
        return "candidate"
    return None


class SessionIdentityProvider(IdentityProvider):
    """Users are roles: ``interviewer`` or ``candidate``."""

    interviewer_token = Unicode("", config=True, help="The interviewer's token (dashboard and API).")
    candidate_token = Unicode("", config=True, help="The candidate's token (submit and status).")

    def get_user(self, handler: web.RequestHandler) -> User | None:
        role = role_for(request_token(handler), interviewer_token=self.interviewer_token,
                        candidate_token=self.candidate_token)
        if role is None:
            return None
        handler._token_authenticated = True  # type: ignore[attr-defined]  # a header token needs no XSRF cookie
        return User(username=role, name=role)


class SessionAuthorizer(Authorizer):
    """Deny every built-in jupyter-server service; the pitfalls handlers check roles themselves."""

    def is_authorized(self, handler: web.RequestHandler, user: User, action: str, resource: str) -> bool:
        return False


def user_role(user: Any) -> str | None:
    """The role of an authenticated user (None when unauthenticated)."""
    name = getattr(user, "username", None)
    return name if name in ROLES else None


OURS = "pitfalls.live.server."
"""Handlers from modules under this prefix are the session server's own; every other route is denied."""


class DeniedHandler(web.RequestHandler):
    """404 for every method: what a route jupyter-server registered answers on the session server."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, **_: Any) -> None:
        """Take (and drop) the replaced handler's keyword arguments."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"status": 404, "message": "This path must be one of the session server's own "
                                "(/pitfalls/...). Got a path it does not serve instead."}))

    def check_xsrf_cookie(self) -> None:
        """Nothing to protect: every request is refused."""


def deny_foreign_handlers(app: web.Application) -> list[str]:
    """Replace every route of ``app`` whose handler is not the session server's own by :class:`DeniedHandler`.

    Returns the patterns replaced (jupyter-server's /api/..., /metrics, /static/..., /login, ...).
    """
    replaced: list[str] = []
    for router in (app.default_router, app.wildcard_router):
        _deny_in(router, replaced)
    return replaced


def _deny_in(router: Any, replaced: list[str]) -> None:
    for rule in getattr(router, "rules", []):
        target = rule.target
        if isinstance(target, routing.Router) or hasattr(target, "rules"):
            _deny_in(target, replaced)
        elif isinstance(target, type) and issubclass(target, web.RequestHandler):
            if target is DeniedHandler or target.__module__.startswith(OURS):
                continue
            matcher = rule.matcher
            replaced.append(matcher.regex.pattern if isinstance(matcher, routing.PathMatches) else repr(matcher))
            rule.target, rule.target_kwargs = DeniedHandler, {}

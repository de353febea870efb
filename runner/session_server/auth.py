"""Who is asking: the interviewer or the candidate, told apart by their session tokens.

The host's jupyter-server is only a web framework here: the authorizer denies every built-in
service (kernels, contents, terminals, ...), so neither token runs code or reads files on the host.
Tokens travel as ``Authorization: token T`` or ``?token=T``; no login cookie is set.
"""

from __future__ import annotations

import secrets
from typing import Any

from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado import web
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

"""The report at an address of its own: ``/pitfalls/report/KEY``, which reloads and can be bookmarked.

``KEY`` is an HMAC of the session id under the interviewer's token (:func:`report_key`): the
dashboard asks for it (``POST /pitfalls/api/report-link``, interviewer's token only) and opens it in a
new tab. It is read-only: it shows the report and nothing else (not the API, not the dashboard's
data); it stays valid for the session's life, so a reload, a bookmark or a link sent to the hiring
committee keeps working, and the interviewer's token itself never appears in an address. The
candidate cannot make one: it takes the interviewer's token. ``GET /pitfalls/report`` with the
interviewer's token (header) also answers. The page is static HTML in a CSP sandbox (no script, an
opaque origin: no storage, no cookies).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado import web

from .handlers import _Api, _offload, _Page, _require, _service

REPORT_TIMEOUT = 60.0
REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
"""The report is static HTML: no script runs in it, and it gets an opaque origin (no storage, no cookies)."""


def report_key(interviewer_token: str, session_id: str) -> str:
    """The report's read-only key: 43 URL-safe characters, HMAC-SHA256 of the session id under the token."""
    mac = hmac.new(interviewer_token.encode(), f"pitfalls report {session_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _key(handler: web.RequestHandler) -> str:
    live = _service(handler).live
    return report_key(live.interviewer_token, live.session_id)


class ReportLinkHandler(_Api):
    """POST /pitfalls/api/report-link: the report's own address (interviewer's token only)."""

    def post(self) -> None:
        _require(self, "interviewer")
        self._answer({"url": f"pitfalls/report/{_key(self)}", "expires_in": None})


class ReportHandler(_Page):
    """GET /pitfalls/report/KEY (the report's address) or /pitfalls/report (interviewer's token):
    the self-contained HTML report, as of now."""

    @allow_unauthenticated
    async def get(self, key: str = "") -> None:
        from pitfalls.live.report import render_report

        if key:
            if not hmac.compare_digest(key.encode(), _key(self).encode()):
                raise web.HTTPError(404, reason="Not Found", log_message=(
                    "The report address must be the one the dashboard's Report link opens. Got another one "
                    "instead. Open the report again from the dashboard."))
        else:
            _require(self, "interviewer")
        html = await _offload(self).run(lambda: render_report(session_id=_service(self).live.session_id),
                                        timeout=REPORT_TIMEOUT, what="The report")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy", REPORT_CSP)
        self.finish(html)

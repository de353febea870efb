"""The candidate port's own routes under ``/candidate/pitfalls-lab/``: the timer's script and its status.

See :mod:`.lab` for how the script gets into JupyterLab's pages. The status answers the candidate only:
a request whose cookie the container's JupyterLab accepts (what the lab page sends), or the
candidate's token in ``Authorization``. It carries the clock's state, the seconds left and the hints
given (:func:`lab_view`), nothing else, and is computed at most once a second however often it is asked.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tornado import httpclient, web

from .handlers import STATE_TIMEOUT, Offload
from .lab import SCRIPT_URL, STATUS_URL
from .proxy import proxy_client
from .service import SessionService

SCRIPT_FILE = Path(__file__).parent / "static" / "lab_timer.js"
STATUS_CACHE_SECONDS = 1.0
AUTH_CACHE_SECONDS = 60.0
MAX_AUTH_CACHE = 64
UPSTREAM_CHECK = "/candidate/api/status"
"""A path of the container's jupyter-server that answers 200 only to an authenticated request."""


def lab_view(status: Mapping[str, Any]) -> dict[str, Any]:
    """What the lab's script gets of the candidate's status: the clock and the hints given, no more."""
    return {"clock": status.get("clock"), "remaining_seconds": status.get("remaining_seconds"),
            "hints_given": list(status.get("hints_given") or [])}


class LabScriptHandler(web.RequestHandler):
    """GET /candidate/pitfalls-lab/timer.js: the static script (no data, no secret: anyone may load it)."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(SCRIPT_FILE.read_bytes())


class LabStatusHandler(web.RequestHandler):
    """GET /candidate/pitfalls-lab/status: :func:`lab_view` of the candidate's status, to the candidate only."""

    def initialize(self, socket_path: str) -> None:  # type: ignore[override]
        self.socket_path = socket_path

    def _json(self, status: int, data: Mapping[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(json.dumps(data))

    async def get(self) -> None:
        if not await self._is_candidate():
            self._json(403, {"message": "The lab's status needs the candidate's JupyterLab session (its cookie) or "
                                        "the candidate's token. Got neither instead. Fix: open the lab from the "
                                        "candidate's address."})
            return
        try:
            self._json(200, await self._status())
        except web.HTTPError as exc:
            self._json(exc.status_code, {"message": exc.log_message or "The status is not available now."})

    async def _status(self) -> dict[str, Any]:
        cached = self.settings.get("pitfalls_lab_status")
        if cached and time.monotonic() - cached[0] < STATUS_CACHE_SECONDS:
            return cached[1]
        service: SessionService = self.settings["pitfalls_service"]
        offload: Offload = self.settings["pitfalls_io"]
        view = lab_view(await offload.run(service.candidate_status, timeout=STATE_TIMEOUT, what="The status"))
        self.settings["pitfalls_lab_status"] = (time.monotonic(), view)
        return view

    async def _is_candidate(self) -> bool:
        service: SessionService = self.settings["pitfalls_service"]
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.strip():
            return secrets.compare_digest(token.strip(), service.live.candidate_token)
        cookie = self.request.headers.get("Cookie", "")
        if not cookie:
            return False
        key = hashlib.sha256(cookie.encode("utf-8", "surrogateescape")).hexdigest()
        known: dict[str, float] = self.settings.setdefault("pitfalls_lab_auth", {})
        if known.get(key, 0.0) > time.monotonic():
            return True
        if not await self._upstream_accepts(cookie):
            return False
        now = time.monotonic()
        for stale in [k for k, t in known.items() if t <= now]:
            known.pop(stale)
        while len(known) >= MAX_AUTH_CACHE:  # the oldest first
            known.pop(next(iter(known)))
        known[key] = now + AUTH_CACHE_SECONDS
        return True

    async def _upstream_accepts(self, cookie: str) -> bool:
        """The container's JupyterLab answers 200 to this cookie (as it does to the lab page's own calls)."""
        # jupyter-server names its login cookie after the Host the browser asked for: pass it on as the proxy does
        headers = {"Cookie": cookie, "Host": self.request.headers.get("Host", "")}
        req = httpclient.HTTPRequest(f"http://candidate{UPSTREAM_CHECK}", headers=headers,
                                     follow_redirects=False, request_timeout=5, connect_timeout=3)
        try:
            resp = await proxy_client(self.application, self.socket_path).fetch(req, raise_error=False)
        except OSError:
            return False
        return resp.code == 200


def lab_routes(socket_path: str) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """The candidate port's own routes under ``/candidate/`` (before the proxy takes the rest)."""
    return [(re.escape(SCRIPT_URL), LabScriptHandler, {}),
            (re.escape(STATUS_URL), LabStatusHandler, {"socket_path": socket_path})]

"""The session's time and the interviewer's hints inside the candidate's JupyterLab, without a lab extension.

The candidate's port proxies the container's JupyterLab (:mod:`.proxy`). Into each of JupyterLab's
own pages (HTML with its ``jupyter-config-data`` block, asked for by a browser navigation) the proxy
adds one tag, ``<script src="/candidate/pitfalls-lab/timer.js" defer></script>``: a static file of
this package, served from the same origin, with no data and no secret in it. The script polls
``/candidate/pitfalls-lab/status`` and draws the clock, the 10/5/1-minute warnings and the hints
over the lab's status bar (static/lab_timer.js). Nothing of JupyterLab is built or changed: the
image stays as it is.

The script's routes and their status are in :mod:`.lab_status`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping

LAB_PREFIX = "/candidate/pitfalls-lab/"
SCRIPT_URL = LAB_PREFIX + "timer.js"
STATUS_URL = LAB_PREFIX + "status"
SCRIPT_TAG = f'<script src="{SCRIPT_URL}" defer></script>'.encode()
PAGE_MARKER = re.compile(rb"<script[^>]*\bid=[\"']jupyter-config-data[\"']", re.I)
BODY_END = re.compile(rb"</body\s*>", re.I)
MAX_PAGE_BYTES = 8 * 2**20
STALE_AFTER_INJECTION = {"content-encoding", "etag", "last-modified", "content-md5"}
"""Upstream headers that no longer describe an injected page (the body is now plain and different)."""
CONDITIONAL = {"accept-encoding", "if-none-match", "if-modified-since"}


def is_page_request(method: str, headers: Mapping[str, str]) -> bool:
    """A browser navigation (GET asking for HTML): the only requests whose answer may get the script."""
    return method == "GET" and "text/html" in headers.get("Accept", "").lower()


def page_request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` for upstream, asking for the full, uncompressed page (no encoding, no 304)."""
    out = {k: v for k, v in headers.items() if k.lower() not in CONDITIONAL}
    out["Accept-Encoding"] = "identity"
    return out


def _decoded(body: bytes, encoding: str) -> bytes | None:
    """``body`` without its content coding (gzip, deflate or none); None when unknown, broken or too large."""
    if encoding in ("", "identity"):
        return body if len(body) <= MAX_PAGE_BYTES else None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return None
    for wbits in ((47,) if encoding != "deflate" else (47, -15)):  # 47: gzip or zlib header; -15: raw deflate
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(body, MAX_PAGE_BYTES + 1)
        except zlib.error:
            continue
        return out if len(out) <= MAX_PAGE_BYTES and inflater.eof else None
    return None


def inject(body: bytes, headers: Mapping[str, str]) -> bytes | None:
    """The page with the script tag before its last ``</body>`` (or at its end), uncompressed; None when
    ``body`` is not one of JupyterLab's pages (another type, no ``jupyter-config-data``, an unknown
    or broken coding, over :data:`MAX_PAGE_BYTES`): the caller then passes the answer on as it is."""
    if not headers.get("Content-Type", "").lower().startswith("text/html"):
        return None
    page = _decoded(body, headers.get("Content-Encoding", "").strip().lower())
    if page is None or not PAGE_MARKER.search(page):
        return None
    ends = list(BODY_END.finditer(page))
    at = ends[-1].start() if ends else len(page)
    return page[:at] + SCRIPT_TAG + page[at:]

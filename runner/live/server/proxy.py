"""The candidate's JupyterLab, proxied from the session's TCP port to the container's UNIX socket.

Plain HTTP requests are forwarded with tornado's HTTP client, their answers streamed (JupyterLab's own
pages aside, which get the timer's script tag: runner/live/server/lab.py); WebSocket upgrades (kernels,
terminals, events) with tornado's WebSocket client. Both reach the socket through a resolver
that maps every host name to it, so nothing here can be pointed elsewhere. The container's own
Jupyter checks the candidate's token; this proxy adds none and removes none.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import Any

from tornado import httpclient, httputil, iostream, web, websocket
from tornado.netutil import Resolver

from . import lab

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length"}
WS_FORWARDED = ("Cookie", "Origin", "Authorization", "User-Agent", "Host")
MAX_BODY = 512 * 1024 * 1024
"""The largest request body the candidate's port reads (mount.py); answers are streamed, any size."""
STREAMED_MAX = 2**40
"""tornado's limit on a streamed answer (None would mean its 100 MiB default): none in practice."""
PAGE_MAX = 16 * 1024 * 1024
"""The largest JupyterLab page held whole to get the timer's script tag (its pages are ~10 KiB)."""
WS_MESSAGE_MAX = 64 * 1024 * 1024
"""The largest WebSocket message relayed (a kernel's output, a notebook's): more than JupyterLab shows."""
WS_PENDING_MAX = 16 * 1024 * 1024
"""What may wait, unsent, for a browser that does not read its WebSocket; beyond it the socket is
closed (the browser reconnects), so output nobody reads cannot fill the server's memory, which
the host server shares among every session."""


class UnixResolver(Resolver):
    """Resolve every host to one UNIX socket path."""

    def initialize(self, socket_path: str) -> None:  # type: ignore[override]
        self.socket_path = socket_path

    async def resolve(self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
                      ) -> list[tuple[int, Any]]:
        # The socket's folder (run/) is the candidate's to write: a link there could point the
        # server's own connection at another socket of the host user (the host server's control socket).
        if not stat.S_ISSOCK(os.lstat(self.socket_path).st_mode):
            raise OSError(f"{self.socket_path} must be a socket. Got another kind of file (or a link) instead.")
        return [(socket.AF_UNIX, self.socket_path)]


def proxy_client(app: web.Application, socket_path: str) -> httpclient.AsyncHTTPClient:
    """The HTTP client to the container's JupyterLab on ``socket_path`` (one per application)."""
    client = app.settings.get("pitfalls_proxy_client")
    if client is None:
        client = httpclient.AsyncHTTPClient(force_instance=True, max_body_size=STREAMED_MAX, max_clients=64,
                                            resolver=UnixResolver(socket_path=socket_path))
        app.settings["pitfalls_proxy_client"] = client
    return client


class CandidateProxyHandler(websocket.WebSocketHandler):
    """``/candidate/...``: every method, and WebSocket upgrades on GET."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, socket_path: str) -> None:  # type: ignore[override]
        self.socket_path = socket_path
        self.upstream: websocket.WebSocketClientConnection | None = None

    def check_xsrf_cookie(self) -> None:
        """The container's Jupyter checks XSRF itself."""

    def _client(self) -> httpclient.AsyncHTTPClient:
        return proxy_client(self.application, self.socket_path)

    async def get(self, *args: Any) -> None:
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            await websocket.WebSocketHandler.get(self, *args)
        else:
            await self._forward()

    async def head(self, *args: Any) -> None:
        await self._forward()

    async def post(self, *args: Any) -> None:
        await self._forward()

    async def put(self, *args: Any) -> None:
        await self._forward()

    async def patch(self, *args: Any) -> None:
        await self._forward()

    async def delete(self, *args: Any) -> None:
        await self._forward()

    async def options(self, *args: Any) -> None:
        await self._forward()

    async def _forward(self) -> None:
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in HOP_BY_HOP}
        page = lab.is_page_request(self.request.method, self.request.headers)
        if page:  # JupyterLab's own pages get the timer's script tag (lab.py): ask for them whole and plain
            headers = lab.page_request_headers(headers)
        body = self.request.body if self.request.method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS") else None
        relay = None if self.request.method == "HEAD" else _Relay(self, page=page)
        req = httpclient.HTTPRequest(f"http://candidate{self.request.uri}", method=self.request.method,
                                     headers=headers, body=body, follow_redirects=False,
                                     decompress_response=False, allow_nonstandard_methods=True,
                                     request_timeout=3600, connect_timeout=10,
                                     header_callback=relay and relay.header_line,
                                     streaming_callback=relay and relay.chunk)
        try:
            resp = await self._client().fetch(req, raise_error=False)
        except OSError:
            raise web.HTTPError(502, "The candidate's JupyterLab is not answering; the interviewer can "
                                     "restart it with `pitfalls session start`.") from None
        if relay is not None and relay.started and self._headers_written:
            if resp.code == 599:  # cut off midway: the browser must not take a part for the whole
                self.request.connection.close()
                return
            await self.finish()
            return
        if resp.code == 599:
            raise web.HTTPError(502, "The candidate's JupyterLab did not answer in time.")
        code, reason, found, data = relay.held() if relay is not None else (resp.code, resp.reason, resp.headers,
                                                                            resp.body)
        self.set_status(code, reason)
        injected = lab.inject(data, found) if page and code == 200 and data else None
        dropped = HOP_BY_HOP | (lab.STALE_AFTER_INJECTION if injected is not None else set())
        for name in {n for n, _ in found.get_all()}:
            self.clear_header(name)  # tornado's defaults (Content-Type, Server, ...) give way to upstream's
        for name, value in found.get_all():
            if name.lower() not in dropped:
                self.add_header(name, value)
        if code not in (204, 304) and self.request.method != "HEAD" and data:
            self.write(data if injected is None else injected)  # Content-Length: tornado's, of what is sent
        await self.finish()

    def relay_headers(self, code: int, reason: str, headers: httputil.HTTPHeaders) -> None:
        """Answer with upstream's status and headers (its Content-Length kept: the body follows whole)."""
        self.set_status(code, reason)
        for name in {n for n, _ in headers.get_all()}:
            self.clear_header(name)
        keep = code not in (204, 304)
        for name, value in headers.get_all():
            if name.lower() not in HOP_BY_HOP or (keep and name.lower() == "content-length"):
                self.add_header(name, value)

    # ---- WebSocket ----
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[0] if subprotocols else None

    async def open(self, *args: Any) -> None:  # type: ignore[override]
        headers = {k: v for k, v in self.request.headers.get_all() if k in WS_FORWARDED}
        req = httpclient.HTTPRequest(f"ws://candidate{self.request.uri}", headers=headers, connect_timeout=10)
        protocols = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        try:
            self.upstream = await websocket.websocket_connect(
                req, on_message_callback=self._from_upstream, subprotocols=protocols or None,
                resolver=UnixResolver(socket_path=self.socket_path), max_message_size=WS_MESSAGE_MAX)
        except (OSError, httpclient.HTTPClientError, websocket.WebSocketError):
            self.close(1011, "the candidate's Jupyter refused the connection")
            return
        self._present(+1)

    def _present(self, delta: int) -> None:
        """Count this WebSocket in the candidate's presence (the dashboard's "connected")."""
        service = self.settings.get("pitfalls_service")
        if service is not None:
            service.presence.socket(delta)

    def _from_upstream(self, message: str | bytes | None) -> None:
        if message is None:
            self.close()
            return
        stream = getattr(self.ws_connection, "stream", None)
        if stream is not None and stream.max_write_buffer_size is None:
            stream.max_write_buffer_size = WS_PENDING_MAX
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except iostream.StreamBufferFullError:
            self.close(1009, "too much output waits for a browser that does not read it")
            if self.upstream:
                self.upstream.close()
        except websocket.WebSocketClosedError:
            if self.upstream:
                self.upstream.close()

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
            self._present(-1)


class _Relay:
    """Streams one proxied response: upstream's status and headers once they are read, then each
    body chunk written and flushed to the browser before the next is read from the container (tornado
    awaits the chunk callback), so a large download or a slow browser holds one chunk in this process,
    which the host server shares among every session, not the whole body. One answer is held whole:
    a JupyterLab page asked for by a navigation (200, HTML, at most :data:`PAGE_MAX`), which gets
    the timer's script tag; a longer one is streamed as it is."""

    def __init__(self, handler: CandidateProxyHandler, *, page: bool) -> None:
        self.handler, self.page = handler, page
        self.started = False
        self._first: httputil.ResponseStartLine | None = None
        self._headers = httputil.HTTPHeaders()
        self._holding: list[bytes] | None = None

    def header_line(self, line: str) -> None:
        """tornado's header callback: the status line, each header, then an empty line."""
        if self._first is None:
            self._first = httputil.parse_response_start_line(line.rstrip("\r\n"))
        elif line.strip():
            self._headers.parse_line(line)
        elif self._first.code < 200:  # an interim answer (100 Continue): the real one follows
            self._first, self._headers = None, httputil.HTTPHeaders()
        elif self.page and self._first.code == 200 and "text/html" in self._headers.get("Content-Type", ""):
            self._holding = []
        else:
            self._start()

    def _start(self) -> None:
        assert self._first is not None
        self.handler.relay_headers(self._first.code, self._first.reason, self._headers)
        self.started = True

    async def chunk(self, data: bytes) -> None:
        """tornado's streaming callback: relay ``data``, then wait until the browser has taken it."""
        if self._holding is not None:
            self._holding.append(data)
            if sum(map(len, self._holding)) <= PAGE_MAX:
                return
            data, self._holding = b"".join(self._holding), None  # no page of JupyterLab's: pass it on as it is
            self._start()
        self.handler.write(data)
        await self.handler.flush()

    def held(self) -> tuple[int, str, httputil.HTTPHeaders, bytes]:
        """The answer held whole (or, with no body, just its status and headers)."""
        assert self._first is not None
        return self._first.code, self._first.reason, self._headers, b"".join(self._holding or [])

"""Listening sockets that a crowd of idle connections cannot exhaust.

:class:`CappedHTTPServer` holds at most ``max_connections`` connections per server. A new
connection beyond the cap evicts the oldest connection that is *idle*: one waiting for a request's
headers (a fresh or keep-alive connection, or a slowloris), or, with ``stall_seconds``, one whose
request body has trickled in for longer than that. Only when every held connection is busy with a
request is the new connection closed at once. So thousands of connections opened and left idle
(no token needed) never starve the interviewer: each new request of theirs pushes out an idle one.

Accepting never raises out of the event loop: when the process runs out of file handles
(EMFILE), accepting pauses for half a second and the event is logged once per minute.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from tornado import httpserver, httputil
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

log = logging.getLogger("pitfalls.live.server.netcap")
ACCEPT_PAUSE = 0.5


class _Tracked(httputil.HTTPMessageDelegate):
    """Marks its connection busy from complete headers until the request body is read."""

    def __init__(self, inner: httputil.HTTPMessageDelegate, server: CappedHTTPServer, stream: IOStream) -> None:
        self.inner, self.server, self.stream = inner, server, stream

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        self.server._busy[self.stream] = time.monotonic()
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.server._body_done.add(self.stream)
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


class CappedHTTPServer(httpserver.HTTPServer):
    """An HTTP server holding at most ``max_connections`` connections; idle ones give way to new ones."""

    def initialize(self, request_callback: Any, *, max_connections: int = 256, stall_seconds: float | None = None,
                   name: str = "", **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(request_callback, **kwargs)
        self.max_connections, self.stall_seconds, self.name = max_connections, stall_seconds, name
        self._streams: dict[IOStream, float] = {}
        self._busy: dict[IOStream, float] = {}  # stream -> when its current request's headers arrived
        self._body_done: set[IOStream] = set()
        self.evicted = self.refused = 0

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        stream = getattr(request_conn, "stream", None)
        delegate = super().start_request(server_conn, request_conn)
        if stream is None:
            return delegate
        self._busy.pop(stream, None)  # a new request cycle: waiting for headers again
        self._body_done.discard(stream)
        return _Tracked(delegate, self, stream)

    def handle_stream(self, stream: IOStream, address: Any) -> None:
        if len(self._streams) >= self.max_connections:
            self._prune()
        if len(self._streams) >= self.max_connections:
            victim = self._evictable()
            if victim is None:
                self.refused += 1
                log.warning("%s: %d connections held, all busy: refused a new one (%d refused so far)",
                            self.name, len(self._streams), self.refused)
                stream.close()
                return
            self.evicted += 1
            log.warning("%s: %d connections held: closed the oldest idle one (%d so far)", self.name,
                        len(self._streams), self.evicted)
            self._forget(victim)
            victim.close()
        self._streams[stream] = time.monotonic()
        super().handle_stream(stream, address)

    def _prune(self) -> None:
        for stream in [s for s in self._streams if s.closed()]:
            self._forget(stream)

    def _forget(self, stream: IOStream) -> None:
        self._streams.pop(stream, None)
        self._busy.pop(stream, None)
        self._body_done.discard(stream)

    def _evictable(self) -> IOStream | None:
        """The oldest connection waiting for headers, else (with ``stall_seconds``) one stuck in its body."""
        now = time.monotonic()
        for stream in self._streams:
            if stream not in self._busy:
                return stream
        if self.stall_seconds is not None:
            for stream, since in self._busy.items():
                if stream not in self._body_done and now - since > self.stall_seconds:
                    return stream
        return None

    def held(self) -> int:
        """Connections held now (closed ones are pruned first)."""
        self._prune()
        return len(self._streams)

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = guarded_accept(sock, self._handle_connection, self.name)


def guarded_accept(sock: socket.socket, callback: Callable[[socket.socket, Any], None], name: str
                   ) -> Callable[[], None]:
    """Like :func:`tornado.netutil.add_accept_handler`, but a failing accept (out of file handles, or any
    other OSError) pauses listening for ACCEPT_PAUSE seconds instead of raising."""
    io_loop = IOLoop.current()
    state = {"removed": False, "listening": True}

    def accept(fd: Any, events: int) -> None:
        for _ in range(128):
            if state["removed"] or not state["listening"]:
                return
            try:
                conn, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # out of handles, or any other failure: raising here would leave the
                # handler registered on a readable socket, called again at once (a loop at 100% CPU)
                log.error("%s: cannot accept connections: %s (pausing %g s)", name, exc, ACCEPT_PAUSE)
                io_loop.remove_handler(sock)
                state["listening"] = False
                io_loop.call_later(ACCEPT_PAUSE, resume)
                return
            callback(conn, address)

    def resume() -> None:
        if not state["removed"] and not state["listening"]:
            state["listening"] = True
            io_loop.add_handler(sock, accept, IOLoop.READ)

    def remove() -> None:
        if state["listening"]:
            io_loop.remove_handler(sock)
        state["removed"] = True

    io_loop.add_handler(sock, accept, IOLoop.READ)
    return remove

"""runner/live/server/netcap.py guarded_accept: a listening socket whose accept fails pauses, never spins."""

from __future__ import annotations

import logging
import socket

from tornado.ioloop import IOLoop

from pitfalls.live.server import netcap


def test_an_accept_that_keeps_failing_pauses_instead_of_spinning(caplog):
    """A shut-down listening socket is always ready and its accept() raises EINVAL: raising from the
    handler would leave it registered and called again at once, a loop at 100% CPU."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    sock.shutdown(socket.SHUT_RDWR)
    loop = IOLoop(make_current=False)
    calls: list[object] = []

    def serve() -> None:
        netcap.guarded_accept(sock, lambda conn, address: calls.append(conn), "test server")
        loop.call_later(1.2, loop.stop)

    with caplog.at_level(logging.ERROR, logger="pitfalls.live.server.netcap"):
        loop.add_callback(serve)
        loop.start()
    loop.close()
    sock.close()
    failures = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert 1 <= len(failures) <= 4 and not calls, len(failures)  # one try every ACCEPT_PAUSE (0.5 s)
    assert "Invalid argument" in failures[0].getMessage()

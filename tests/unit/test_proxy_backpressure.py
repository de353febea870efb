"""The candidate's proxy bounds what waits for a browser that does not read its WebSocket.

Found in review (issue 18): a kernel printing without end to a WebSocket whose client never reads
grew the server's write buffer without limit; in the host server, which serves every session, that
would end every session at once. Real tornado servers on both sides: an upstream "JupyterLab" on a
UNIX socket that sends 64 MiB as fast as it can, the session's candidate application in front, and a
client that completes the WebSocket handshake and then never reads.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

from tornado import httpserver, netutil, web, websocket

from pitfalls.live.server.application import candidate_application
from pitfalls.live.server.proxy import WS_PENDING_MAX

PATH = "/candidate/api/kernels/k/channels"


class Flood(websocket.WebSocketHandler):
    """The container's Jupyter, printing 64 MiB of kernel output."""

    closed: asyncio.Event

    async def open(self) -> None:  # type: ignore[override]
        try:
            for _ in range(64):
                await self.write_message(b"x" * 2**20, binary=True)
        except websocket.WebSocketClosedError:
            pass

    def on_close(self) -> None:
        Flood.closed.set()


async def _scenario(folder: Path) -> bool:
    Flood.closed = asyncio.Event()
    upstream = httpserver.HTTPServer(web.Application([(PATH, Flood)]))
    upstream.add_socket(netutil.bind_unix_socket(str(folder / "jp.sock")))
    front = httpserver.HTTPServer(candidate_application(str(folder / "jp.sock")))
    socks = netutil.bind_sockets(0, "127.0.0.1")
    front.add_sockets(socks)
    reader, writer = await asyncio.open_connection("127.0.0.1", socks[0].getsockname()[1], limit=2**16)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    try:  # never read: the proxy must give up on this browser, closing the kernel's socket too
        await asyncio.wait_for(Flood.closed.wait(), 30)
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()
        front.stop()
        upstream.stop()


def test_output_nobody_reads_closes_the_websocket_instead_of_filling_memory(tmp_path: Path):
    assert WS_PENDING_MAX < 64 * 2**20
    assert asyncio.run(_scenario(tmp_path)), "the proxy kept buffering 64 MiB for a client that never reads"


async def _through_a_link(folder: Path) -> int:
    target = folder / "other.sock"
    other = httpserver.HTTPServer(web.Application([(r"/candidate/(.*)", Hello)]))
    other.add_socket(netutil.bind_unix_socket(str(target)))
    (folder / "jp.sock").symlink_to(target)
    front = httpserver.HTTPServer(candidate_application(str(folder / "jp.sock")))
    socks = netutil.bind_sockets(0, "127.0.0.1")
    front.add_sockets(socks)
    try:
        from tornado.httpclient import AsyncHTTPClient
        resp = await AsyncHTTPClient(force_instance=True).fetch(
            f"http://127.0.0.1:{socks[0].getsockname()[1]}/candidate/lab", raise_error=False)
        return resp.code
    finally:
        front.stop()
        other.stop()


class Hello(web.RequestHandler):
    def get(self, _: str) -> None:
        self.write("reached through the link")


def test_the_proxy_does_not_follow_a_link_put_in_place_of_the_lab_socket(tmp_path: Path):
    """The candidate can write run/ (it is mounted into the container): a link named jp.sock must not
    make the server connect to another of the host user's sockets (e.g. the host server's control)."""
    assert asyncio.run(_through_a_link(tmp_path)) == 502

"""The candidate's proxy streams what it relays (runner/live/server/proxy.py): a large download through
a real session server reaches the browser whole while the server holds a chunk at a time, not the
body (the host server shares its memory among every session). A stand-in for the container's
JupyterLab answers on the session's jupyter.sock (no container)."""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.live import containers, sessions
from pitfalls.live.process import spawn_server, stop_server, wait_for_server
from test_lab_timer import UnixServer

CHUNK = bytes(range(256)) * 4096  # 1 MiB
BIG_MB = 400


class BigFiles(BaseHTTPRequestHandler):
    """``/candidate/files/big.bin``: ``BIG_MB`` MiB with its Content-Length; ``cut.bin`` stops halfway."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(BIG_MB * len(CHUNK)))
        self.end_headers()
        for _ in range(BIG_MB // 2 if self.path.endswith("cut.bin") else BIG_MB):
            self.wfile.write(CHUNK)


@pytest.fixture
def served(pitfalls_home: Path) -> Iterator[sessions.LiveSession]:
    live = sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    upstream = UnixServer(str(live.run_dir / containers.JUPYTER_SOCKET), BigFiles)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proc = spawn_server(live)
    wait_for_server(live, proc)
    try:
        yield sessions.load_session(live.session_id)
    finally:
        stop_server(sessions.load_session(live.session_id), grace=2.0)
        upstream.shutdown()
        upstream.server_close()


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    line = next(li for li in Path(f"/proc/{pid}/status").read_text().splitlines() if li.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


@pytest.mark.parametrize("accept", ["*/*", "text/html,application/xhtml+xml,*/*;q=0.8"])  # a fetch; a navigation
def test_a_large_download_is_streamed_whole_without_being_held(served, accept):
    before = _peak_mb(served.server_pid)
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    conn.request("GET", "/candidate/files/big.bin", headers={"Accept": accept})
    resp = conn.getresponse()
    digest, size = hashlib.sha256(), 0
    while block := resp.read(2**20):
        digest.update(block)
        size += len(block)
    conn.close()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == size == BIG_MB * len(CHUNK)
    assert digest.hexdigest() == hashlib.sha256(CHUNK * BIG_MB).hexdigest()
    grew = _peak_mb(served.server_pid) - before
    assert grew < BIG_MB / 4, f"the session server's peak memory grew by {grew:.0f} MiB for a {BIG_MB} MiB download"


def test_a_download_cut_off_upstream_is_not_passed_off_as_whole(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    conn.request("GET", "/candidate/files/cut.bin")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()

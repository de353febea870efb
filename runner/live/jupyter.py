"""Start JupyterLab (a real jupyter-server) on a workspace and wait until its API answers."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class JupyterServer:
    process: subprocess.Popen
    url: str
    token: str
    port: int


def free_port(preferred: int = 8888) -> int:
    """``preferred`` if nothing listens on it, else a free port chosen by the OS."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free TCP port on 127.0.0.1")


def start_lab(*, directory: Path, port: int | None = None, ip: str = "127.0.0.1",
              timeout: float = 90.0, log_path: Path | None = None) -> JupyterServer:
    """Start ``jupyter lab`` on ``directory`` and return once ``/api/status`` answers.

    The server's PATH starts with this Python's bin folder, so a terminal in JupyterLab
    finds ``pitfalls`` and the same ``python``.

    Raises:
        RuntimeError: the server exited or did not answer within ``timeout`` seconds.
    """
    port = port or free_port()
    token = secrets.token_hex(24)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}"}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.ip={ip}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={directory}",
           f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True"]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://{ip}:{port}/lab?token={token}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab must start on port {port}. Got exit code {proc.returncode} "
                               f"instead; see {log_path or 'its output'}.")
        try:
            with urllib.request.urlopen(f"http://{ip}:{port}/api/status?token={token}", timeout=2) as r:
                json.load(r)
            return JupyterServer(process=proc, url=url, token=token, port=port)
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"JupyterLab must answer on port {port} within {timeout:g} s. Got no answer instead.")

"""The session server: a jupyter-server extension, laid out like jupyter_server's ``examples/simple``.

It runs on the host, one process per live session, and serves on two TCP ports (two origins):

- the candidate's port: ``/candidate/...``, the candidate's JupyterLab, proxied to the container's
  UNIX socket (the container's own Jupyter checks the candidate token), and nothing else;
- the interviewer's port: ``/pitfalls/dashboard`` (the live dashboard), ``/pitfalls/report`` and
  ``/pitfalls/api/...`` (the JSON API behind them, and the candidate's submit/status endpoints);
  every route jupyter-server registers itself answers 404;
- ``/run/pitfalls/session.sock`` inside the container: ``pitfalls-submit``'s endpoint.

Scoring runs here, outside the candidate's container, through the runner's sandbox.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .application import SessionApp

    return [{"module": "pitfalls.live.server.application", "app": SessionApp}]

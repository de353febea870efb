"""The session server: a jupyter-server extension, laid out like jupyter_server's ``examples/simple``.

It runs on the host, one process per live session, and serves on one TCP port:

- ``/candidate/...``: the candidate's JupyterLab, proxied to the container's UNIX socket
  (the container's own Jupyter checks the candidate token);
- ``/pitfalls/dashboard``: the interviewer's live dashboard (interviewer token);
- ``/pitfalls/api/...``: the JSON API behind it, and the candidate's submit/status endpoints;
- ``/run/pitfalls/session.sock`` inside the container: ``pitfalls-submit``'s endpoint.

Scoring runs here, outside the candidate's container, through the runner's sandbox.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .application import SessionApp

    return [{"module": "pitfalls.session_server.application", "app": SessionApp}]

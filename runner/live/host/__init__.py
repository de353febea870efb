"""The host server (issue 18): one long-lived process serving every live session of a ``PITFALLS_HOME``.

``pitfalls server`` runs it (``--detach``, ``--stop``, ``--status``); ``pitfalls session start``
uses it when it runs: the session is marked ``served_by: "host"`` in its ``session.json`` and
attached through the control socket instead of getting a server process of its own. Each session
keeps its own two ports, tokens, ``session.sock`` and scoring thread (runner/live/server/mount.py);
nothing of one session answers another's token or port. Killing the host server loses nothing
(every acknowledged submission is already in SQLite); started again, it attaches every open
host-served session on its recorded ports with its recorded tokens.

- :mod:`.state`: its files, pid check and control-socket client (light: no jupyter-server import);
- :mod:`.process`: starting it (foreground or detached), waiting for it, stopping it, its status;
- :mod:`.application`, :mod:`.registry`, :mod:`.control`: the server itself.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .application import HostApp

    return [{"module": "pitfalls.live.host.application", "app": HostApp}]

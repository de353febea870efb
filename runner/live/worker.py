"""A background thread of the host server: it loops until stopped and logs each distinct error once
(the warm containers' keeper, runner/live/pool.py; the variants' preparer, runner/live/prepared.py)."""

from __future__ import annotations

import logging
import threading


class HostWorker:
    """Subclasses set :attr:`name`, :attr:`what` and :attr:`join_seconds`, implement :meth:`_run`
    (looping until ``self._stop`` is set) and may override :meth:`wanted`."""

    name = "host-worker"
    what = "host worker"
    """How its log lines begin."""
    join_seconds = 120.0
    """How long :meth:`stop` waits for the work under way."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._stop = threading.Event()
        self._said: set[str] = set()
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)

    def wanted(self) -> bool:
        """Whether :meth:`start` starts the thread."""
        return True

    def start(self) -> None:
        """Start the thread, if :meth:`wanted`."""
        if self.wanted():
            self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Take no new work (``wait``: and wait up to :attr:`join_seconds` for the work under way)."""
        self._stop.set()
        if wait and self._thread.is_alive():
            self._thread.join(timeout=self.join_seconds)

    def _run(self) -> None:
        raise NotImplementedError

    def _say_once(self, said: str) -> None:
        """Log an error, once per distinct message (the loop tries again; the log must not fill)."""
        if said not in self._said:
            self._said.add(said)
            self.log.error("%s: %s", self.what, said)

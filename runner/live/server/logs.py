"""The session server's log: rotated by size, with repeated warnings and errors rate-limited.

A candidate can make the server log on purpose (bad requests, thousands of connections); the log
must neither fill the host's disk nor bury the one line that matters. So ``server.log`` rotates at
``MAX_BYTES`` (``BACKUPS`` old files kept), and a warning or error that repeats (same logger, same
message template, same exception type and errno) is written at most ``BURST`` times per ``WINDOW``
seconds; the next one written says how many were left out.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import time
from pathlib import Path
from typing import Any

from tornado import ioloop

MAX_BYTES = 5 * 2**20
BACKUPS = 3
WINDOW = 60.0
BURST = 5
FORMAT = "[%(levelname)1.1s %(asctime)s.%(msecs)03d %(name)s] %(message)s"


class RepeatFilter(logging.Filter):
    """Let a repeated warning or error through at most ``burst`` times per ``window`` seconds."""

    def __init__(self, window: float = WINDOW, burst: int = BURST, max_keys: int = 1000) -> None:
        super().__init__()
        self.window, self.burst, self.max_keys = window, burst, max_keys
        self._seen: dict[tuple[Any, ...], list[float]] = {}  # key -> [window start, passed, suppressed]

    @staticmethod
    def key(record: logging.LogRecord) -> tuple[Any, ...]:
        """Records alike: same logger and level, and the same exception (type, errno) or message template."""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            return record.name, record.levelno, type(exc).__name__, getattr(exc, "errno", None)
        return record.name, record.levelno, str(record.msg)[:200], None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now, key = time.monotonic(), self.key(record)
        entry = self._seen.get(key)
        if entry is None or now - entry[0] >= self.window:
            left_out = int(entry[2]) if entry else 0
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if left_out:
                record.msg, record.args = (f"{record.getMessage()} [and {left_out} more like this in the "
                                           f"{self.window:g} s before, not logged]"), ()
            return True
        entry[1] += 1
        if entry[1] <= self.burst:
            return True
        entry[2] += 1
        return False


class RotatingServerLog(logging.handlers.RotatingFileHandler):
    """A size-rotated log file that also receives the process's stdout and stderr.

    With ``own_std``, file descriptors 1 and 2 point at the current file (again after each
    rollover), so tracebacks printed outside logging rotate with it instead of growing an old file.
    """

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS,
                 own_std: bool = False) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.own_std = own_std
        self._point_std()

    def _point_std(self) -> None:
        if self.own_std and self.stream is not None:
            self.stream.flush()
            for fd in (1, 2):
                os.dup2(self.stream.fileno(), fd)

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        super().doRollover()
        self._point_std()

    def check(self) -> None:
        """Roll over if writes outside logging (stderr) grew the file past its size (called every few seconds)."""
        with self.lock:  # type: ignore[union-attr]
            if self.stream is not None and self.maxBytes and self.stream.seek(0, 2) >= self.maxBytes:
                self.doRollover()


def server_handler(path: Path, *, own_std: bool = False, max_bytes: int = MAX_BYTES) -> RotatingServerLog:
    """A rotating, rate-limited handler writing ``path`` in the server log's format."""
    handler = RotatingServerLog(path, own_std=own_std, max_bytes=max_bytes)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    handler.addFilter(RepeatFilter())
    return handler


def install(path: Path, loggers: list[logging.Logger], *, own_std: bool = True,
            max_bytes: int = MAX_BYTES) -> RotatingServerLog:
    """Send ``loggers`` (and the root logger) only to a rotating, rate-limited ``path``."""
    handler = server_handler(path, own_std=own_std, max_bytes=max_bytes)
    for logger in [logging.getLogger(), *loggers]:
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
    return handler


def install_checked(path: Path, loggers: list[logging.Logger]) -> ioloop.PeriodicCallback:
    """:func:`install`, plus the started callback that checks the file every 5 s (for what is written to
    stderr outside logging); a server keeps it for its lifetime."""
    handler = install(path, loggers)
    check = ioloop.PeriodicCallback(handler.check, 5000)
    check.start()
    return check

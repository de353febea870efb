"""Small file helpers of the scheduler: no-follow opens, non-blocking flock, atomic JSON writes."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path


def open_file(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """``os.open`` that never follows a link and never leaks into an exec'd child (0600)."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def try_lock(fd: int, mode: int = fcntl.LOCK_EX) -> bool:
    """``flock(fd, mode)`` without waiting; False when another open file description holds it."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def write_json(path: Path, data: dict) -> None:
    """Replace ``path`` atomically (readers see the old or the new content, never a part)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)

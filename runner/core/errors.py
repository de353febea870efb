"""Typed errors. Each message says what was expected, what was found and how to fix it.

Errors are raised here and there, and logged exactly once: at the CLI boundary.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path


class PitfallsError(Exception):
    """Base class for every error the user should see as a message, not a traceback."""


class ManifestError(PitfallsError):
    """A scaffold manifest or folder does not follow the contract."""

    def __init__(self, *, path: str, field: str, expected: str, got: str, hint: str = "") -> None:
        self.path, self.field, self.expected, self.got, self.hint = path, field, expected, got, hint
        msg = f"{path}: `{field}` must be {expected}. Got {got} instead."
        super().__init__(f"{msg} {hint}".strip())


class ScaffoldNotFound(PitfallsError):
    """No scaffold with that name."""


class WorkspaceError(PitfallsError):
    """A workspace folder is missing, foreign, or damaged."""


class SandboxUnavailable(PitfallsError):
    """The sandbox cannot start on this machine (bubblewrap missing, no namespaces)."""


class SessionError(PitfallsError):
    """A live session is missing, damaged or cannot start."""


class StorageError(PitfallsError):
    """A folder pitfalls writes (the state folder, a temporary folder) is full or read-only."""


FULL = {errno.ENOSPC, errno.EDQUOT}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def storage_error(exc: BaseException, *, folder: Path | str, what: str, how: str) -> StorageError | None:
    """The :class:`StorageError` to raise instead of ``exc`` when ``exc`` (an OSError or a SQLite
    error) comes from ``folder``'s disk being full or read-only; None for any other error.

    ``what`` names the folder for the user ("The state folder (PITFALLS_HOME)"); ``how`` says where
    else to point it ("or set PITFALLS_HOME to a larger disk").
    """
    if not isinstance(exc, (OSError, sqlite3.Error)):
        return None
    code = getattr(exc, "errno", None)
    name = getattr(exc, "sqlite_errorname", "") or ""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        st = os.statvfs(existing)
        full, read_only = st.f_bavail * st.f_frsize < 2**20, bool(st.f_flag & os.ST_RDONLY)
    except OSError:
        full = read_only = False
    if code in FULL or name == "SQLITE_FULL" or (full and (isinstance(exc, sqlite3.Error) or code is None)):
        return StorageError(f"{what} {folder} must have free space. Got a full disk instead ({exc}). "
                            f"Free space there ({how}), then run the command again; nothing recorded is lost.")
    if code in READ_ONLY or name.startswith("SQLITE_READONLY") or read_only:
        return StorageError(f"{what} {folder} must be writable. Got a read-only folder instead ({exc}). "
                            f"Remount it read-write ({how}), then run the command again; nothing recorded is lost.")
    return None

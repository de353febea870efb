"""Bounded storage per session: what one session may keep in the state folder.

Every scored submission keeps a snapshot of the workspace (up to 50 MiB each, see
runner/library/workspace.py) and a row whose text (note, message, log tail, JSON) is bounded per row.
Without a total, a candidate could submit in a loop and fill the host's disk. So a session may
store at most :func:`limit_mb` MiB of snapshots and row text, counted from what is on disk
(its snapshot folder, ``.part`` leftovers included) and in the store; a submission that would go
past it stores nothing and says so. Submissions already recorded are never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from pitfalls.core.errors import WorkspaceError
from pitfalls.core.store import Store
from pitfalls.library.workspace import snapshot_folder, snapshot_workspace

DEFAULT_LIMIT_MB = 512
LIMIT_ENV = "PITFALLS_SESSION_STORAGE_MB"
MAX_LOG_TAIL_CHARS = 8192
"""Characters of a submission's log tail kept in its row (the pipeline keeps about 4 KiB)."""


class SessionStorageFull(WorkspaceError):
    """The session's stored snapshots and logs reached the per-session bound; nothing was stored."""


def limit_mb() -> int:
    """The per-session bound in MiB: ``$PITFALLS_SESSION_STORAGE_MB`` (set on the scoring host) or 512.

    Raises:
        WorkspaceError: the variable is set to something other than a positive whole number.
    """
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT_MB
    if not raw.isdigit() or int(raw) <= 0:
        raise WorkspaceError(f"{LIMIT_ENV} must be a positive whole number of MiB. Got {raw[:40]!r} instead. "
                             f"Unset it for the default ({DEFAULT_LIMIT_MB}) or set e.g. {LIMIT_ENV}=1024.")
    return int(raw)


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files directly in ``folder`` (0 when it does not exist)."""
    try:
        with os.scandir(folder) as entries:
            return sum(e.stat(follow_symlinks=False).st_size for e in entries if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return 0


def stored_bytes(store: Store, session_id: str) -> int:
    """What the session keeps now: its snapshot files plus the text of its submission rows."""
    return folder_bytes(snapshot_folder(session_id)) + store.stored_bytes(session_id)


def _full(used: int, limit: int, adding: int = 0) -> SessionStorageFull:
    head = (f"A session may store at most {limit} MiB of snapshots and logs. Got {used / 2**20:.1f} MiB already")
    if adding:
        return SessionStorageFull(
            f"{head}, and this submission's snapshot needs {adding / 2**20:.1f} MiB more; nothing of it was stored "
            "or scored. Delete large files from the workspace (every file outside artifacts/ is archived) and "
            "submit again, or ask the interviewer.")
    return SessionStorageFull(
        f"{head}; this submission was not stored or scored. Your workspace is unchanged. Ask the interviewer "
        f"how to go on (they can raise {LIMIT_ENV} on the scoring host, or start a new session).")


def ensure_room(store: Store, session_id: str) -> int:
    """The bytes the session stores now, if it may store more.

    Raises:
        SessionStorageFull: the session already stores :func:`limit_mb` MiB or more.
    """
    used, limit = stored_bytes(store, session_id), limit_mb()
    if used >= limit * 2**20:
        raise _full(used, limit)
    return used


def store_snapshot(*, directory: Path, session_id: str, used: int) -> tuple[Path, str]:
    """Snapshot ``directory`` (see :func:`~pitfalls.library.workspace.snapshot_workspace`) if it fits in the
    session's bound next to the ``used`` bytes already stored; returns (path, sha256).

    A snapshot identical to one already stored costs nothing (same file). One that does not fit is
    removed before anything refers to it: no row is written for it.

    Raises:
        SessionStorageFull: the new snapshot would take the session past its bound.
    """
    folder = snapshot_folder(session_id)
    before = set(os.listdir(folder)) if folder.is_dir() else set()
    snapshot, digest = snapshot_workspace(directory=directory, session_id=session_id)
    if snapshot.name not in before:
        size, limit = snapshot.stat().st_size, limit_mb()
        if used + size > limit * 2**20:
            snapshot.unlink(missing_ok=True)
            raise _full(used, limit, adding=size)
    return snapshot, digest

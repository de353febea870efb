"""Whether a workspace is unchanged since a probed submission, so the reveal can show that submission's
verdicts instead of probing the same files again (minutes on the torch scaffolds).

"Unchanged" means the files a submission would snapshot now (runner/library/workspace.py: the same
walk, exclusions and limits) hold exactly what the submission's stored snapshot holds: every path, its
mode and every byte. Modification times and the archive's own bytes (gzip and tar headers carry times)
are left out, so nothing a candidate can set without changing the code decides it, and a stored
snapshot whose bytes no longer match the digest recorded at submission time is never trusted.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pitfalls.core.errors import WorkspaceError
from pitfalls.core.results import ProbeResult
from pitfalls.core.store import Store
from pitfalls.library.workspace import pack_workspace
from pitfalls.probes import worker

SPOOL_BYTES = 8 * 2**20
"""A packed workspace stays in memory up to this size, then spills to a temporary file."""


def files_digest(archive: IO[bytes]) -> str:
    """A digest of a .tar.gz's regular files: each path, mode and content, in path order.

    Raises:
        WorkspaceError: the archive holds anything but regular files and folders, or cannot be read.
    """
    files: list[tuple[str, int, str]] = []
    try:
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                data = tar.extractfile(member) if member.isfile() else None
                if data is None:
                    raise WorkspaceError(f"A snapshot must hold only regular files and folders. Got "
                                         f"{member.name[:200]!r} instead.")
                content = hashlib.sha256()
                while chunk := data.read(2**20):
                    content.update(chunk)
                files.append((member.name, member.mode & 0o755, content.hexdigest()))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise WorkspaceError(f"A snapshot must be a readable .tar.gz. Got {type(exc).__name__} instead.") from None
    whole = hashlib.sha256()
    for name, mode, content in sorted(files):
        whole.update(f"{len(name)}:{name}:{mode:o}:{content}\n".encode("utf-8", "surrogateescape"))
    return whole.hexdigest()


def workspace_digest(directory: Path) -> str | None:
    """:func:`files_digest` of what a submission would snapshot from ``directory`` now; None when it
    cannot be snapshotted (over the limits, unreadable)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as packed:
        try:
            pack_workspace(directory=directory, fileobj=packed)
            packed.seek(0)
            return files_digest(packed)
        except (WorkspaceError, OSError):
            return None


def snapshot_digest(row: Mapping[str, Any]) -> str | None:
    """:func:`files_digest` of a submission's stored snapshot; None when it is missing, damaged, or its
    bytes differ from the digest recorded when it was submitted."""
    try:
        with open(row["snapshot"], "rb") as snap:
            whole = hashlib.sha256()
            while chunk := snap.read(2**20):
                whole.update(chunk)
            if whole.hexdigest() != row["snapshot_sha256"]:
                return None
            snap.seek(0)
            return files_digest(snap)
    except (WorkspaceError, OSError):
        return None


def _verdicts(row: Mapping[str, Any], bugs: list[str]) -> dict[str, ProbeResult] | None:
    """A submission's verdicts by bug id when its probes are done, cover every one of ``bugs`` and
    decided each (a run that timed out or failed in the runner says ``unknown``: probe again)."""
    if row["probe_status"] != "done":
        return None
    found = {p["bug_id"]: ProbeResult(**p) for p in row["probes"]}
    if not set(bugs) <= set(found) or any(found[b].status == "unknown" or found[b].tampering for b in bugs):
        return None
    return found


def unchanged_verdicts(store: Store, session_id: str, directory: Path, bugs: list[str],
                       wait_seconds: float) -> tuple[int, dict[str, ProbeResult]] | None:
    """The newest submission of the session whose snapshot holds exactly ``directory``'s files and whose
    probes are done (waiting up to ``wait_seconds`` for a matching one still probing), with its
    verdicts by bug id; None when there is none (the caller probes the workspace)."""
    rows = [r for r in store.submissions(session_id) if r["probe_status"] == "done" or r["probe_status"] in worker.UNFINISHED]
    if not rows:
        return None
    mine, deadline = workspace_digest(directory), time.monotonic() + wait_seconds
    if mine is None:
        return None
    matching = [r for r in reversed(rows) if snapshot_digest(r) == mine]
    for row in sorted(matching, key=lambda r: r["probe_status"] != "done"):  # finished ones first, newest first
        if row["probe_status"] in worker.UNFINISHED:
            worker.wait(store, [row["id"]], max(0.0, deadline - time.monotonic()))
            row = store.submission(row["id"]) or row
        found = _verdicts(row, bugs)
        if found is not None:
            return int(row["id"]), found
    return None

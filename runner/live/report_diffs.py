"""Per-submission diffs for the report: each submission's snapshot against the previous one's.

Snapshots are read straight from their ``.tar.gz`` (regular files only, never extracted), within
bounds: text files of at most :data:`MAX_FILE_BYTES` (notebooks as their cell sources), at most
:data:`MAX_MEMBERS` members and :data:`MAX_TEXT_BYTES` of text per snapshot, and at most
:data:`MAX_LINES` diff lines per submission (the rest is counted, not shown). Whatever cannot be read
becomes a sentence in the diff, never an exception: a damaged snapshot must not hide the report.
"""

from __future__ import annotations

import difflib
import tarfile
import zlib
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

from pitfalls.fs.workspace_view import notebook_text
from pitfalls.library.workspace import NOT_THE_CANDIDATES, SNAPSHOT_EXCLUDE_DIRS, SNAPSHOT_EXCLUDE_FILES

MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_BYTES = 4 * 2**20
MAX_MEMBERS = 5_000
MAX_LINES = 300
UNREADABLE = "[snapshot not readable]"


def snapshot_texts(path: str | Path) -> dict[str, str]:
    """The candidate's text files in snapshot ``path`` (relative path -> text), within the bounds above.

    Binary files and files over :data:`MAX_FILE_BYTES` map to a one-line placeholder, so a change to
    them still shows; an unreadable snapshot maps :data:`UNREADABLE` to the reason.
    """
    out: dict[str, str] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    out["[not all files read]"] = f"more than {MAX_MEMBERS} files in the snapshot\n"
                    break
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or any(p in NOT_THE_CANDIDATES for p in parts):
                    continue
                if member.size > MAX_FILE_BYTES or total + member.size > MAX_TEXT_BYTES:
                    out[member.name] = f"[{member.size:,} bytes: too large to show]\n"
                    continue
                handle = tar.extractfile(member)
                data = handle.read(MAX_FILE_BYTES + 1) if handle else b""
                total += len(data)
                out[member.name] = _text(member.name, data)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        out[UNREADABLE] = f"{type(exc).__name__}: {str(exc)[:200]}\n"
    return out


def _text(name: str, data: bytes) -> str:
    if b"\0" in data[:8192]:
        return f"[binary file, {len(data):,} bytes]\n"
    text = data.decode(errors="replace")
    return notebook_text(text) if name.endswith(".ipynb") else text


def text_diff(before: dict[str, str], after: dict[str, str], *, old: str, new: str) -> tuple[list[str], int]:
    """Unified diff lines from ``before`` to ``after`` (files sorted), at most :data:`MAX_LINES`; and
    how many lines were left out."""
    lines: list[str] = []
    for rel in sorted(set(before) | set(after)):
        a, b = before.get(rel, ""), after.get(rel, "")
        if a != b:
            lines += [line.rstrip("\n") for line in difflib.unified_diff(
                a.splitlines(keepends=True), b.splitlines(keepends=True),
                fromfile=f"{old}/{rel}" if rel in before else "/dev/null",
                tofile=f"{new}/{rel}" if rel in after else "/dev/null", n=2)]
    return lines[:MAX_LINES], max(0, len(lines) - MAX_LINES)


def snapshotted(files: dict[str, str]) -> dict[str, str]:
    """The part of a workspace's files (relative path -> text) a snapshot would hold."""
    return {rel: text for rel, text in files.items()
            if not (set(PurePosixPath(rel).parts[:-1]) & SNAPSHOT_EXCLUDE_DIRS
                    or PurePosixPath(rel).parts[0] in SNAPSHOT_EXCLUDE_DIRS or rel in SNAPSHOT_EXCLUDE_FILES)}


def submission_diffs(subs: list[dict[str, Any]], starter: dict[str, str] | None = None) -> dict[int, str]:
    """Each submission with a snapshot (id -> HTML): its diff against the previous submission that
    had one; the first against ``starter`` (the starter workspace's files), else against nothing."""
    out: dict[int, str] = {}
    prev: dict[str, str] = snapshotted(starter) if starter is not None else {}
    prev_name, prev_digest = ("starter" if starter is not None else ""), None
    for s in subs:
        if not s.get("snapshot"):
            continue
        name = f"#{s['id']}"
        if prev_digest is not None and s.get("snapshot_sha256") == prev_digest:
            out[s["id"]] = f'<p class="muted">No change since {escape(prev_name)}.</p>'
            prev_name = name
            continue
        texts = snapshot_texts(s["snapshot"])
        lines, left = text_diff(prev, texts, old=prev_name or "empty", new=name)
        out[s["id"]] = diff_html(lines, left, since=prev_name)
        prev, prev_name, prev_digest = texts, name, s.get("snapshot_sha256")
    return out


def diff_html(lines: list[str], left: int, *, since: str) -> str:
    """Diff lines as an escaped, coloured ``<pre>`` in a ``<details>`` (closed: the timeline stays short)."""
    if not lines:
        return f'<p class="muted">No change since {escape(since)}.</p>' if since else ""
    rows = []
    for line in lines:
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++")
               else "del" if line.startswith("-") and not line.startswith("---") else "")
        rows.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    more = f"\n… {left} more diff lines not shown (the snapshot holds them all)" if left else ""
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    what = f"diff since {escape(since)}" if since else "files of the first submission"
    return (f'<details class="sub-diff"><summary>{what}: +{added} −{removed}'
            f'{" (cut)" if left else ""}</summary><pre>' + "\n".join(rows) + escape(more) + "</pre></details>")

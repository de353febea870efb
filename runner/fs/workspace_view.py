"""What trusted code shows of a candidate's workspace (dashboard file view, report diff): bounded
listings and reads through :mod:`pitfalls.fs.safefs`, and notebook parsing that never raises."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pitfalls.fs.safefs import Bounds, Walk, open_file, open_rel, read_fd

MAX_JSON_DEPTH = 64
"""Deepest nesting of a notebook's JSON that is parsed (a real notebook needs about 6)."""
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.S)
"""A string (to its closing quote, or to the end: one pass, never rescanned) or a bracket."""


class NotebookError(ValueError):
    """A notebook that cannot be displayed; the message says why."""


def shown(name: str) -> str:
    """A file name as valid text: bytes that are not UTF-8 (kept by the OS as lone surrogates, which
    no UTF-8 writer accepts) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def list_files(root: Path, *, hidden: set[str], bounds: Bounds) -> tuple[list[dict[str, Any]], str | None]:
    """The regular files under ``root`` (sorted; no link followed; folders and files named in
    ``hidden`` skipped) with size and modification time, and why the listing stopped early (or None)."""
    with Walk(root, bounds=bounds, prune=lambda rel: rel[-1] in hidden) as walk:
        out = [{"path": shown(i.path), "size": i.st.st_size,
                "modified": datetime.fromtimestamp(i.st.st_mtime, UTC).isoformat(timespec="seconds")}
               for i in walk if i.kind == "file"]
    return sorted(out, key=lambda f: f["path"]), walk.truncated


def read_files(root: Path, *, hidden: set[str], bounds: Bounds, max_file_bytes: int,
               max_total_bytes: int) -> tuple[dict[str, bytes], str | None]:
    """The content of every regular file under ``root`` of at most ``max_file_bytes`` (read from the
    descriptor the walk opened: no link followed, no FIFO opened), at most ``max_total_bytes`` in all;
    and why it stopped early (or None)."""
    out: dict[str, bytes] = {}
    total, why = 0, None
    with Walk(root, bounds=bounds, prune=lambda rel: rel[-1] in hidden) as walk:
        for item in walk:
            if item.kind != "file" or item.st.st_size > max_file_bytes:
                continue
            if (opened := open_file(item.parent_fd, item.name)) is None:
                continue
            try:
                data, cut = read_fd(opened[0], max_file_bytes)
            finally:
                os.close(opened[0])
            if cut:  # grew past the limit meanwhile: skipped like any large file
                continue
            total += len(data)
            if total > max_total_bytes:
                why = f"more than {max_total_bytes // 2**20} MiB of files"
                break
            out[shown(item.path)] = data
    return out, walk.truncated or why


def read_text(root: Path, rel: str, limit: int) -> tuple[str, int] | None:
    """The regular file ``root/rel`` decoded (errors replaced) if at most ``limit`` bytes, and its size;
    ("", size) when larger (nothing past ``limit`` is read); None when it is not a regular file reached
    through regular folders."""
    opened = open_rel(root, rel)
    if opened is None:
        return None
    fd, st = opened
    try:
        if st.st_size > limit:
            return "", st.st_size
        data, cut = read_fd(fd, limit)
        return ("", limit + 1) if cut else (data.decode(errors="replace"), len(data))
    finally:
        os.close(fd)


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``raw`` outside strings, counted up to ``limit + 1``
    (no recursion, no parse, one linear pass)."""
    depth = deepest = 0
    for m in _TOKENS.finditer(raw):
        if m[0] in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif m[0] in (b"]", b"}"):
            depth -= 1
    return deepest


def _text(value: Any) -> str:
    """A notebook's text field: a string or a list of strings; anything else shows as nothing."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _output(o: Any) -> str:
    if not isinstance(o, dict):
        return ""
    data = o.get("data")
    plain = data.get("text/plain") if isinstance(data, dict) else None
    return _text(o.get("text")) or _text(plain) or _text(o.get("evalue"))


def notebook_cells(text: str) -> list[dict[str, Any]]:
    """A notebook's cells as ``{"type", "source", "outputs"}`` (text outputs only), whatever the JSON.

    Raises:
        NotebookError: not a notebook this can display ("cannot display this notebook: ...").
    """
    raw = text.encode(errors="replace")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise NotebookError(f"cannot display this notebook: its JSON is nested more than {MAX_JSON_DEPTH} "
                            "levels deep (a notebook needs about 6).")
    try:
        nb = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NotebookError(f"cannot display this notebook: it is not valid JSON ({str(exc)[:120]}).") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("cannot display this notebook: it must be a JSON object with a list of "
                            f"\"cells\". Got {type(cells if isinstance(nb, dict) else nb).__name__} instead.")
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        outputs = cell.get("outputs")
        out.append({"type": kind if isinstance(kind, str) else "raw", "source": _text(cell.get("source")),
                    "outputs": [_output(o) for o in outputs] if isinstance(outputs, list) else []})
    return out


def notebook_text(text: str) -> str:
    """A notebook's cell sources as one text (for diffs); the reason instead when it cannot be read."""
    try:
        cells = notebook_cells(text)
    except NotebookError as exc:
        return f"# {exc}\n{text}"
    return "".join(f"# %% [{c['type']}]\n{c['source']}\n" for c in cells)

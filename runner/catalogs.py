"""Readers for the bug catalog (``bugs/catalog.toml``) and quirk catalog (``datasets/catalog.toml``)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=2)
def _load(path: Path) -> dict[str, dict[str, Any]]:
    return tomllib.loads(path.read_text())


def bugs() -> dict[str, dict[str, Any]]:
    """All bug kinds planted by some scaffold, keyed by id."""
    return _load(ROOT / "bugs" / "catalog.toml")


def quirks() -> dict[str, dict[str, Any]]:
    """All quirk kinds planted by some scaffold, keyed by id."""
    return _load(ROOT / "datasets" / "catalog.toml")


def bug_entry(bug_id: str) -> dict[str, Any]:
    """The catalog entry of ``bug_id`` with its id; a bare id if the catalog lacks it."""
    return {"id": bug_id, **bugs().get(bug_id, {})}


def quirk_entry(quirk_id: str) -> dict[str, Any]:
    """The catalog entry of ``quirk_id`` with its id; a bare id if the catalog lacks it."""
    return {"id": quirk_id, **quirks().get(quirk_id, {})}


def catalog(kind: str, *, planted: bool = False) -> dict[str, dict[str, Any]]:
    """The ``bugs`` or ``quirks`` catalog; with ``planted``, each entry lists its scaffolds."""
    from .scaffold import load_scaffold, scaffold_names

    entries = bugs() if kind == "bugs" else quirks()
    if not planted:
        return dict(entries)
    users = {name: set(getattr(load_scaffold(name).manifest, kind)) for name in scaffold_names()}
    return {k: {**v, "scaffolds": sorted(n for n, ids in users.items() if k in ids)} for k, v in entries.items()}

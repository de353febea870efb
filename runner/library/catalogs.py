"""Readers for the bug catalog (``bugs/catalog/*.toml``) and quirk catalog (``datasets/catalog/*.toml``).

Each catalog is a folder of TOML files, one table per kind, so teams add kinds in files of their
own; an id defined in two files is an error.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pitfalls.core.resources import package_folder


@functools.lru_cache(maxsize=2)
def _load(folder: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        for key, value in tomllib.loads(path.read_text()).items():
            if key in entries:
                raise ValueError(f"Catalog ids must be unique across {folder}. Got {key!r} in both "
                                 f"{where[key]} and {path.name}; rename or merge one of them.")
            entries[key], where[key] = value, path.name
    return entries


def bugs() -> dict[str, dict[str, Any]]:
    """All bug kinds planted by some scaffold, keyed by id."""
    return _load(package_folder("pitfalls.bugs", "catalog"))


def quirks() -> dict[str, dict[str, Any]]:
    """All quirk kinds planted by some scaffold, keyed by id."""
    return _load(package_folder("pitfalls.datasets", "catalog"))


def bug_entry(bug_id: str) -> dict[str, Any]:
    """The catalog entry of ``bug_id`` with its id; a bare id if the catalog lacks it."""
    return {"id": bug_id, **bugs().get(bug_id, {})}


def quirk_entry(quirk_id: str) -> dict[str, Any]:
    """The catalog entry of ``quirk_id`` with its id; a bare id if the catalog lacks it."""
    return {"id": quirk_id, **quirks().get(quirk_id, {})}


def catalog(kind: str, *, planted: bool = False) -> dict[str, dict[str, Any]]:
    """The ``bugs`` or ``quirks`` catalog; with ``planted``, each entry lists its scaffolds."""
    from pitfalls.library.scaffold import load_scaffold, scaffold_names

    entries = bugs() if kind == "bugs" else quirks()
    if not planted:
        return dict(entries)
    users = {name: set(getattr(load_scaffold(name).manifest, kind)) for name in scaffold_names()}
    return {k: {**v, "scaffolds": sorted(n for n, ids in users.items() if k in ids)} for k, v in entries.items()}

"""Readers for the bug catalog (``bugs/catalog/*.toml``) and quirk catalog (``datasets/catalog/*.toml``).

Each catalog is a folder of TOML files, one table per kind, so teams add kinds in files of their
own; an id defined in two files is an error. A scaffold pack (runner/core/packs.py) brings its own
``bugs/*.toml`` and ``quirks/*.toml``: they join the shipped catalog as ``PACK/id`` while the pack is
known (and under the bare id its scaffolds plant when no other catalog defines it: an id defined twice
fails only for the packs involved, :func:`clashes`). Every entry is checked against its declaration
(:class:`~pitfalls.library.schema.BugEntry`, :class:`~pitfalls.library.schema.QuirkEntry`) when the
catalog is first read: an unknown key (``silent_onn``) is an error with a did-you-mean.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pitfalls.core import packs
from pitfalls.core.errors import ManifestError
from pitfalls.core.resources import package_folder
from pitfalls.library.schema import BugEntry, QuirkEntry, parse_table
from pitfalls.library.wording import reworded

BUG_FRAMEWORKS = ("sklearn", "torch", "pandas", "any")
ENTRIES: dict[str, type] = {"bugs": BugEntry, "quirks": QuirkEntry}


def load_catalog(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Read and validate every ``*.toml`` of ``folder`` as the ``bugs`` or ``quirks`` catalog.

    Raises:
        ManifestError: an id defined twice, an entry that is not a table, or an entry with an
            unknown, missing, empty or mistyped key.
    """
    entries: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ManifestError(path=str(path), field="(syntax)", expected="valid TOML", got=str(exc)) from None
        for key, value in data.items():
            if key in entries:
                raise ManifestError(path=str(path), field=key, expected=f"an id unique across {folder}",
                                    got=f"{key!r} in both {where[key]} and {path.name}",
                                    hint="Rename or merge one of them.")
            _validate(kind, key, value, path)
            entries[key], where[key] = value, path.name
    return entries


def _validate(kind: str, key: str, value: Any, path: Path) -> None:
    from pitfalls.library.metrics import METRICS  # on use: the metric functions need numpy

    if not isinstance(value, dict):
        raise ManifestError(path=str(path), field=key, expected=f"a table ([{key}] with the keys of a "
                            f"{kind[:-1]} entry)", got=f"{value!r} ({type(value).__name__})")
    entry = parse_table(ENTRIES[kind], value, path, key, label=f"a {kind[:-1]} catalog entry")
    empty = [k for k, v in vars(entry).items() if isinstance(v, str) and not v.strip()]
    if empty:
        raise ManifestError(path=str(path), field=f"{key}.{empty[0]}", expected="a non-empty string",
                            got=repr(getattr(entry, empty[0])))
    if isinstance(entry, BugEntry):
        if entry.framework not in BUG_FRAMEWORKS:
            raise ManifestError(path=str(path), field=f"{key}.framework",
                                expected=f"one of {list(BUG_FRAMEWORKS)}", got=repr(entry.framework))
        unknown = [m for m in entry.silent_on if m not in METRICS]
        if unknown:
            raise ManifestError(path=str(path), field=f"{key}.silent_on",
                                expected=f"a list of metric names from {sorted(METRICS)}", got=repr(unknown[0]))


@functools.lru_cache(maxsize=16)
def _load(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    return load_catalog(folder, kind)


SHIPPED = {"bugs": ("pitfalls.bugs", "catalog"), "quirks": ("pitfalls.datasets", "catalog")}


def catalog_folders(kind: str) -> list[Path]:
    """The folders the ``bugs`` or ``quirks`` catalog is read from: the shipped one, then each
    known pack's (those that exist)."""
    pack_folders = [p.catalog(kind) for p in packs.packs()]
    return [package_folder(*SHIPPED[kind]), *(f for f in pack_folders if f.is_dir())]


def merged(kind: str) -> dict[str, dict[str, Any]]:
    """The ``bugs`` or ``quirks`` catalog: the shipped entries under their ids, every known pack's
    entry as ``PACK/id``, and also under its bare id when no other catalog defines that id (a pack's
    scaffolds plant bare ids). An id two catalogs define never fails the whole catalog: the bare id
    stays the shipped entry's (or, between packs only, nobody's), so only the packs involved lose
    it; :func:`clashes` says why."""
    entries = dict(_load(package_folder(*SHIPPED[kind]), kind))
    bare: dict[str, list[dict[str, Any]]] = {}
    for pack in packs.packs():
        if pack.catalog(kind).is_dir():
            for key, value in _load(pack.catalog(kind), kind).items():
                entries[f"{pack.name}/{key}"] = value
                bare.setdefault(key, []).append(value)
    entries.update({k: v[0] for k, v in bare.items() if len(v) == 1 and k not in entries})
    return entries


def clashes(kind: str, pack_name: str) -> list[str]:
    """Why ids of pack ``pack_name``'s ``bugs`` or ``quirks`` catalog cannot be used under their bare
    id: each one the shipped catalog or another known pack defines too, naming both files."""
    shipped = package_folder(*SHIPPED[kind])
    folders = {p.name: p.catalog(kind) for p in packs.packs() if p.catalog(kind).is_dir()}
    own = folders.pop(pack_name, None)
    if own is None:
        return []
    out = []
    for key in _load(own, kind):
        for other in [shipped, *folders.values()]:
            if key in _load(other, kind):
                out.append(f"{kind[:-1].capitalize()} ids must be defined once. Got {key!r} in both "
                           f"{_file_of(other, key)} and {_file_of(own, key)} instead. A pack cannot override or "
                           "share an entry: give its kind an id of its own.")
    return out


def _file_of(folder: Path, key: str) -> Path:
    """The file of ``folder`` that defines ``key``."""
    return next((p for p in sorted(folder.glob("*.toml")) if key in tomllib.loads(p.read_text())), folder)


def bugs() -> dict[str, dict[str, Any]]:
    """All bug kinds planted by some scaffold (the shipped catalog and the known packs'), keyed by id."""
    return merged("bugs")


def quirks() -> dict[str, dict[str, Any]]:
    """All quirk kinds planted by some scaffold (the shipped catalog and the known packs'), keyed by id."""
    return merged("quirks")


def bug_entry(bug_id: str, wording: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The catalog entry of ``bug_id`` with its id; a bare id if the catalog lacks it. ``wording``: a
    scaffold's ``[wording.BUG_ID]`` tables (its manifest's ``wording``), whose texts replace the catalog's."""
    return reworded({"id": bug_id, **bugs().get(bug_id, {})}, wording)


def quirk_entry(quirk_id: str) -> dict[str, Any]:
    """The catalog entry of ``quirk_id`` with its id; a bare id if the catalog lacks it."""
    return {"id": quirk_id, **quirks().get(quirk_id, {})}


def catalog(kind: str, *, planted: bool = False) -> dict[str, dict[str, Any]]:
    """The ``bugs`` or ``quirks`` catalog as listed: shipped ids bare, a pack's as ``PACK/id``; with
    ``planted``, each entry lists its scaffolds."""
    from pitfalls.library.scaffold import load_scaffold, scaffold_names

    entries = bugs() if kind == "bugs" else quirks()
    names = {p.name for p in packs.packs()}
    listed = {k: v for k, v in entries.items() if "/" in k or k in _load(package_folder(*SHIPPED[kind]), kind)}
    if not planted:
        return listed
    users: dict[str, set[str]] = {}
    for name in scaffold_names():
        pack_name = name.rpartition("/")[0]
        for planted_id in getattr(load_scaffold(name).manifest, kind):
            own = f"{pack_name}/{planted_id}"
            key = own if pack_name in names and own in listed else planted_id
            users.setdefault(key, set()).add(name)
    return {k: {**v, "scaffolds": sorted(users.get(k, ()))} for k, v in listed.items()}

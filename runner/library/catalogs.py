"""Readers for the bug catalog (``bugs/catalog/*.toml``) and quirk catalog (``datasets/catalog/*.toml``).

Each catalog is a folder of TOML files, one table per kind, so teams add kinds in files of their
own; an id defined in two files is an error. A scaffold pack (runner/core/packs.py) brings its own
``bugs/*.toml`` and ``quirks/*.toml``: they join the shipped catalog as ``PACK/id`` while the pack is
known, and its scaffolds plant them by bare id (``bug_entry(id, scaffold=...)``: the scaffold's pack
decides, so two packs may each define ``churn_leak``). A pack entry reusing a shipped id is refused
(:func:`clashes`: it joins no catalog, and ``pitfalls check`` of the pack's scaffolds, ``pitfalls bugs``
and ``pitfalls quirks`` report it): a pack rewords a shipped bug kind with ``[wording.ID]``, it does
not redefine it. Every entry is checked against its declaration
(:class:`~pitfalls.library.schema.BugEntry`, :class:`~pitfalls.library.schema.QuirkEntry`) when the
catalog is first read: an unknown key (``silent_onn``) is an error with a did-you-mean.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pitfalls.core import packs
from pitfalls.core.errors import ManifestError, PitfallsError
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
    entry as ``PACK/id``, and also under its bare id when exactly one pack defines it (scaffold-aware
    lookups: :func:`entry`). A pack's entry reusing a shipped id is left out (refused; :func:`clashes`
    says why), so the bare id always means the shipped kind; two packs sharing an id never fail the
    whole catalog."""
    shipped = _load(package_folder(*SHIPPED[kind]), kind)
    entries = dict(shipped)
    bare: dict[str, list[dict[str, Any]]] = {}
    for pack in packs.packs():
        if pack.catalog(kind).is_dir():
            for key, value in _load(pack.catalog(kind), kind).items():
                if key not in shipped:
                    entries[f"{pack.name}/{key}"] = value
                    bare.setdefault(key, []).append(value)
    entries.update({k: v[0] for k, v in bare.items() if len(v) == 1})
    return entries


def pack_name_of(scaffold: str | None) -> str:
    """The pack deciding a scaffold id's bare catalog ids (``acme/churn@v3`` -> ``acme``); empty for
    a built-in scaffold or none."""
    return (scaffold or "").partition("@")[0].rpartition("/")[0]


def entry(kind: str, entry_id: str, *, scaffold: str | None = None) -> dict[str, Any] | None:
    """The ``bugs`` or ``quirks`` catalog entry a scaffold means by ``entry_id``, or None. For a pack's
    scaffold (``scaffold="acme/churn"``) its own pack's entry comes first, so two packs' entries with
    one bare id stay apart; otherwise the shipped entry, or the one pack's that defines it."""
    entries = merged(kind)
    pack_name = pack_name_of(scaffold)
    own = entries.get(f"{pack_name}/{entry_id}") if pack_name and "/" not in entry_id else None
    return own if own is not None else entries.get(entry_id)


def clashes(kind: str, pack_name: str) -> list[str]:
    """Why entries of pack ``pack_name``'s ``bugs`` or ``quirks`` catalog are refused: each id the
    shipped catalog defines too, naming both files and how to fix it. Empty if none (or no such pack)."""
    shipped = package_folder(*SHIPPED[kind])
    own = next((p.catalog(kind) for p in packs.packs() if p.name == pack_name), None)
    if own is None or not own.is_dir():
        return []
    out = []
    for key in sorted(set(_load(own, kind)) & set(_load(shipped, kind))):
        keep = (f"or delete it and reword the built-in kind for a scaffold with [wording.{key}] in its "
                "scaffold.toml" if kind == "bugs" else "or delete it to plant the built-in kind")
        out.append(f"{kind[:-1].capitalize()} ids of pack {pack_name!r} must be new, not a built-in kind's. Got "
                   f"{key!r} in both {_file_of(shipped, key)} and {_file_of(own, key)} instead. Rename the "
                   f"pack's entry to an id of its own (and plant that id), {keep}.")
    return out


def require_own_ids(scaffold_id: str) -> None:
    """Refuse to use a pack's scaffold while its pack's catalog reuses a shipped id (practice and live
    sessions call it; ``pitfalls check`` reports the same through ``bug_ids_known``).

    Raises:
        PitfallsError: naming both files of each clash and how to fix it.
    """
    pack_name = pack_name_of(scaffold_id)
    why = [w for kind in ENTRIES for w in clashes(kind, pack_name)] if pack_name else []
    if why:
        raise PitfallsError(" ".join(why))


def refused(kind: str) -> list[str]:
    """:func:`clashes` of every known pack: the entries of ``kind`` that joined no catalog, and why."""
    return [why for pack in packs.packs() for why in clashes(kind, pack.name)]


def _file_of(folder: Path, key: str) -> Path:
    """The file of ``folder`` that defines ``key``."""
    return next((p for p in sorted(folder.glob("*.toml")) if key in tomllib.loads(p.read_text())), folder)


def bugs() -> dict[str, dict[str, Any]]:
    """All bug kinds planted by some scaffold (the shipped catalog and the known packs'), keyed by id."""
    return merged("bugs")


def quirks() -> dict[str, dict[str, Any]]:
    """All quirk kinds planted by some scaffold (the shipped catalog and the known packs'), keyed by id."""
    return merged("quirks")


def bug_entry(bug_id: str, wording: dict[str, dict[str, str]] | None = None, *,
              scaffold: str | None = None) -> dict[str, Any]:
    """The catalog entry of ``bug_id`` with its id; a bare id if the catalog lacks it. ``wording``: a
    scaffold's ``[wording.BUG_ID]`` tables (its manifest's ``wording``), whose texts replace the catalog's.
    ``scaffold``: the id of the scaffold planting it; its pack's own entry comes first (:func:`entry`)."""
    return reworded({"id": bug_id, **(entry("bugs", bug_id, scaffold=scaffold) or {})}, wording)


def quirk_entry(quirk_id: str, *, scaffold: str | None = None) -> dict[str, Any]:
    """The catalog entry of ``quirk_id`` with its id; a bare id if the catalog lacks it. ``scaffold``:
    as for :func:`bug_entry`."""
    return {"id": quirk_id, **(entry("quirks", quirk_id, scaffold=scaffold) or {})}


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

"""Scaffold packs: scaffolds (and their own catalog entries) kept outside pitfalls, found by id.

The one rule (docs/authoring.md): a **pack** is a folder whose subfolders holding a ``scaffold.toml``
are scaffolds; beside them, optional ``bugs/*.toml`` and ``quirks/*.toml`` hold the pack's own bug and
quirk catalog entries. Its name is the folder's name, or, for an installed distribution, the name of
its entry point in the group ``pitfalls.scaffolds``, whose value is the importable package whose
folder is the pack (``acme = "acme_pitfalls"``).

Built-in scaffolds keep bare ids (``tumor_triage``); a pack's are ``PACK/NAME``. Packs are found in
``$PITFALLS_SCAFFOLDS`` (an ``os.pathsep`` list; ``--scaffolds DIR`` adds to it for the command and
its child processes), in entry points, and in the folder a session recorded (:func:`adopt`). Two
different folders with one pack name are refused; a bare name found only in packs is refused with
its full id as the suggestion (ids stored in sessions never change meaning when a pack is added).

Only the file system is read here (no manifest is parsed): the sandbox hides every pack folder.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pitfalls.core.errors import PitfallsError, ScaffoldNotFound
from pitfalls.core.resources import package_folder

ENV = "PITFALLS_SCAFFOLDS"
GROUP = "pitfalls.scaffolds"
CATALOGS = {"bugs": "bugs", "quirks": "quirks"}
"""Catalog kind -> the pack's subfolder holding its ``*.toml`` entries."""
PACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SCAFFOLD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

_adopted: dict[Path, Pack] = {}
"""Packs this process met outside the registry: a session's recorded folder, a scaffold folder given by path."""
_entry_cache: dict[tuple[str, ...], list[Pack]] = {}


class PackError(PitfallsError):
    """A pack folder or entry point that cannot be used (bad name, collision, not a pack)."""


@dataclass(frozen=True)
class Pack:
    """One pack: its name, its folder (resolved) and where it was found."""

    name: str
    folder: Path
    origin: str
    """Where it came from, for messages: ``$PITFALLS_SCAFFOLDS``, ``entry point acme``, a recorded folder."""
    distribution: str = ""
    """The installed distribution (``acme-pitfalls 1.0``) of an entry-point pack, else empty."""

    def scaffolds(self) -> list[str]:
        """The names of its scaffolds (sub-folders with a scaffold.toml, not starting with ``_``)."""
        return sorted(p.parent.name for p in self.folder.glob("*/scaffold.toml") if not p.parent.name.startswith("_"))

    def catalog(self, kind: str) -> Path:
        """The folder of its ``bugs`` or ``quirks`` catalog entries (it may not exist)."""
        return self.folder / CATALOGS[kind]


def builtin_root() -> Path:
    """The shipped library's folder (``scaffolds/`` of a checkout, ``pitfalls/scaffolds`` installed)."""
    return package_folder("pitfalls.scaffolds").resolve()


def add_folders(folders: Iterable[str | Path]) -> None:
    """Add pack folders for this process and the processes it starts (``--scaffolds DIR``): they go
    in front of ``$PITFALLS_SCAFFOLDS``. Each is checked now."""
    new = [str(Path(f).expanduser().resolve()) for f in folders]
    for folder in new:
        _folder_pack(Path(folder), origin="--scaffolds")
    old = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    if new:
        os.environ[ENV] = os.pathsep.join(dict.fromkeys(new + old))


def env_folders() -> list[Path]:
    """The folders of ``$PITFALLS_SCAFFOLDS`` (empty parts skipped), resolved, in order."""
    return [Path(p).expanduser().resolve() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]


def _folder_pack(folder: Path, *, origin: str, name: str | None = None, distribution: str = "",
                 listed: bool = True) -> Pack:
    """A pack for ``folder``, checked: a folder of scaffolds (``listed``: at least one that is
    listed, its name not starting with ``_``) with a valid name."""
    name = folder.name if name is None else name
    if not PACK_NAME.fullmatch(name):
        raise PackError(f"A pack's name must be letters, digits, '_', '.' or '-' (starting with a letter or "
                        f"digit, at most 64). Got {name!r} for {folder} ({origin}) instead. Rename the folder"
                        f"{' or the entry point' if distribution else ''}.")
    if not folder.is_dir():
        raise PackError(f"A pack ({origin}) must be a folder of scaffolds. Got {folder}, which is no folder, "
                        "instead. Fix the path.")
    if (folder / "scaffold.toml").exists():
        raise PackError(f"A pack ({origin}) must be a folder holding scaffold folders. Got the scaffold folder "
                        f"{folder} itself instead. Give its parent, {folder.parent}.")
    pack = Pack(name=name, folder=folder, origin=origin, distribution=distribution)
    if listed and not pack.scaffolds():
        raise PackError(f"A pack ({origin}) must hold at least one scaffold (NAME/scaffold.toml). Got none in "
                        f"{folder} instead. Fix the path, or create one with `pitfalls new NAME --parent {folder}`.")
    return pack


def entry_point_packs() -> list[Pack]:
    """The packs installed distributions register in the entry point group ``pitfalls.scaffolds``
    (read once per ``sys.path``)."""
    import sys

    key = tuple(sys.path)
    if key not in _entry_cache:
        _entry_cache.clear()
        _entry_cache[key] = _read_entry_points()
    return list(_entry_cache[key])


def _read_entry_points() -> list[Pack]:
    found = []
    for ep in importlib.metadata.entry_points(group=GROUP):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ""
        origin = f"entry point {ep.name!r}" + (f" of {dist}" if dist else "")
        try:
            spec = importlib.util.find_spec(ep.module)
        except (ImportError, ValueError):
            spec = None
        places = list(spec.submodule_search_locations or []) if spec else []
        if ep.attr or not places:
            raise PackError(f"The {origin} must name an importable package whose folder holds the scaffolds "
                            f"(acme = \"acme_pitfalls\"). Got {ep.value!r} instead. Fix the distribution's "
                            f"[project.entry-points.\"{GROUP}\"] table.")
        found.append(_folder_pack(Path(places[0]).resolve(), origin=origin, name=ep.name, distribution=dist))
    return found


def packs() -> list[Pack]:
    """Every pack: ``$PITFALLS_SCAFFOLDS`` (and ``--scaffolds``), entry points, then adopted ones; one
    folder once. The built-in library's own folder is not a pack.

    Raises:
        PackError: a folder that is not a pack, or two folders with one name.
    """
    builtin = builtin_root()
    listed = [_folder_pack(f, origin=f"${ENV}") for f in env_folders() if f != builtin]
    listed += entry_point_packs()
    registered = len(listed)
    by_folder: dict[Path, Pack] = {}
    by_name: dict[str, Pack] = {}
    for index, pack in enumerate(listed + list(_adopted.values())):
        if pack.folder in by_folder or (index >= registered and pack.name in by_name):
            continue  # an adopted folder a registered pack of its name shadows now: adopt() refuses it
        other = by_name.get(pack.name)
        if other is not None:
            raise PackError(f"Pack names must be unique. Got {pack.name!r} for both {other.folder} ({other.origin}) "
                            f"and {pack.folder} ({pack.origin}) instead. Rename one folder (or entry point), or "
                            "leave one out of --scaffolds and $PITFALLS_SCAFFOLDS.")
        by_folder[pack.folder], by_name[pack.name] = pack, pack
    return list(by_folder.values())


def adopt(folder: Path, origin: str) -> Pack:
    """Add ``folder`` as a pack for this process (a session's recorded scaffold, a scaffold given by
    path outside every pack) unless it is one already; returns the pack it is. It replaces an
    earlier adopted folder of the same name (one process works on one such scaffold at a time).

    Raises:
        PackError: its name is a registered pack's (``--scaffolds``, ``$PITFALLS_SCAFFOLDS``, an
            entry point), or it is no pack.
    """
    folder = folder.resolve()
    known = next((p for p in packs() if p.folder == folder), None)
    if known is not None:
        return known
    pack = _folder_pack(folder, origin=origin, listed=False)  # it holds the scaffold that led here
    earlier = {f: p for f, p in _adopted.items() if p.name == pack.name}
    for old in earlier:
        del _adopted[old]
    other = next((p for p in packs() if p.name == pack.name), None)
    if other is not None:
        _adopted.update(earlier)
        raise PackError(f"Pack names must be unique. Got {pack.name!r} for both {other.folder} ({other.origin}) "
                        f"and {folder} ({origin}) instead. Rename one folder, or leave {other.folder} out of "
                        "--scaffolds and $PITFALLS_SCAFFOLDS while you use this one.")
    _adopted[folder] = pack
    return pack


def ids() -> list[str]:
    """Every scaffold id: the built-in names, then ``PACK/NAME`` of every pack."""
    builtin = builtin_root()
    names = sorted(p.parent.name for p in builtin.glob("*/scaffold.toml") if not p.parent.name.startswith("_"))
    return names + [f"{p.name}/{n}" for p in packs() for n in p.scaffolds()]


def id_of(folder: Path, origin: str = "") -> str:
    """The id of the scaffold in ``folder``: bare in the built-in library, else ``PACK/NAME`` of the
    pack holding it (its parent folder, adopted if no pack yet)."""
    folder = folder.resolve()
    if folder.parent == builtin_root():
        return folder.name
    pack = adopt(folder.parent, origin or f"the parent of {folder}")
    return f"{pack.name}/{folder.name}"


def locate(name_or_path: str | Path, source: str | Path | None = None) -> tuple[str, Path]:
    """The id and folder of a scaffold given by id (``NAME``, ``PACK/NAME``) or folder path.

    ``source``: the folder a session recorded for this id; used first when it still holds the
    scaffold under that id (its pack is adopted), so a command works from any directory.

    Raises:
        ScaffoldNotFound: the id names no scaffold (with the closest id or the full id of a bare name).
        PackError: packs that collide.
    """
    text = str(name_or_path)
    if source and (Path(source) / "scaffold.toml").is_file() and "/" in text:
        if id_of(Path(source), origin=f"recorded for {text}") == text:
            return text, Path(source).resolve()
    found = _by_id(text)
    if found is not None:
        return text, found
    path = Path(text).expanduser()
    if (path / "scaffold.toml").is_file():
        return id_of(path), path.resolve()
    raise ScaffoldNotFound(_not_found(text, source))


def _by_id(text: str) -> Path | None:
    """The folder of id ``text``, or None. A ``_`` name is unlisted in both places, but a built-in
    one stays loadable by its bare id (``_template``: ``pitfalls check _template``, `pitfalls new`'s
    source, tests; the built-in folder is hidden from sandboxes like every pitfalls folder), while a
    pack's (``acme/_draft``) is no id: a pack's drafts are not its scaffolds."""
    pack_name, _, name = text.rpartition("/")
    if not SCAFFOLD_NAME.fullmatch(name) or (pack_name and not PACK_NAME.fullmatch(pack_name)):
        return None
    if not pack_name:
        path = builtin_root() / name
        return path if (path / "scaffold.toml").is_file() else None
    pack = next((p for p in packs() if p.name == pack_name), None)
    path = pack.folder / name if pack else None
    return path if path and not name.startswith("_") and (path / "scaffold.toml").is_file() else None


def _not_found(text: str, source: str | Path | None) -> str:
    known = ids()
    in_packs = [i for i in known if i.endswith(f"/{text}")]
    if in_packs:
        hint = f" A pack's scaffold is named PACK/NAME: did you mean {' or '.join(map(repr, in_packs))}?"
    else:
        close = difflib.get_close_matches(text, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
    where = (f" It was recorded from {source}, which no longer holds it: reinstall its pack or pass "
             "--scaffolds with the pack's folder." if source and "/" in text else "")
    return (f"Scaffold must be one of {known} or a folder with a scaffold.toml. Got {text!r} instead.{hint}{where}")


def pack_of(scaffold_id: str) -> Pack | None:
    """The pack of a ``PACK/NAME`` id (None for a built-in one or an unknown pack)."""
    pack_name = scaffold_id.rpartition("/")[0]
    return next((p for p in packs() if p.name == pack_name), None) if pack_name else None


def pack_folders() -> list[Path]:
    """Every folder the sandbox hides for packs (they hold solutions and guides): each registered
    pack's, plus, read without validating, each ``$PITFALLS_SCAFFOLDS`` folder, each entry point's
    package folder and each adopted folder, so a pack that fails its checks (or a collision that
    makes :func:`packs` raise) is hidden all the same; then each entry point's ``.dist-info``
    (:func:`entry_point_metadata`)."""
    found: list[Path] = [*env_folders(), *_adopted]
    try:
        found += [p.folder for p in packs()]
    except PitfallsError:
        pass  # the command that needs the packs says why; the raw folders below are hidden anyway
    found += _raw_entry_point_folders() + entry_point_metadata()
    return list(dict.fromkeys(found))


def _raw_entry_point_folders() -> list[Path]:
    """The package folder of every entry point of the group, whatever its validity (unchecked)."""
    found = []
    for ep in importlib.metadata.entry_points(group=GROUP):
        try:
            spec = importlib.util.find_spec(ep.module)
        except Exception:  # noqa: BLE001 - a broken distribution must not keep the others visible
            continue
        found += [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    return found


def entry_point_metadata() -> list[Path]:
    """The metadata folder (``.dist-info``, ``.egg-info``) of every distribution registering an
    entry point of the group: its RECORD lists every file of the pack."""
    found = []
    for ep in importlib.metadata.entry_points(group=GROUP):
        path = getattr(ep.dist, "_path", None)  # PathDistribution's folder: no public accessor
        if isinstance(path, Path) and path.is_dir():
            found.append(path.resolve())
    return found

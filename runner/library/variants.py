"""Build the starter, the reference, and "reference + planted bugs" as workspace folders.

Mutants come from the scaffold's ``mutants.toml``: for each bug id, replacements that turn the
reference back into that one bug; and the reserved ``[[starter]]`` table, the starter's deliberate
differences that are no planted bug (digits_budget's over-budget network). The reference with every
bug's edits, in the manifest's ``bugs`` order, then the ``[[starter]]`` edits is the starter
(``mutants_reproduce_starter``). These drive calibration and the killability checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from pitfalls.core.errors import ManifestError
from pitfalls.library.manifest import STARTER_EDITS, load_mutants, load_starter_edits
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.schema import MutantEdit


def mutants(scaffold: Scaffold) -> dict[str, list[MutantEdit]]:
    """The ``mutants.toml`` table: bug id -> its edits (file, old, new); {} without the file.
    The ``[[starter]]`` edits are not in it (:func:`starter_edits`).

    Raises:
        ManifestError: a table that is not a planted bug id, or an edit with an unknown key.
    """
    return load_mutants(scaffold.root / "mutants.toml", scaffold.manifest.bugs)


def starter_edits(scaffold: Scaffold) -> list[MutantEdit]:
    """The ``[[starter]]`` edits of ``mutants.toml``: the starter's non-bug differences; [] without them.

    Raises:
        ManifestError: as :func:`mutants`.
    """
    return load_starter_edits(scaffold.root / "mutants.toml", scaffold.manifest.bugs)


def materialize(*, scaffold: Scaffold, target: Path, reference: bool, bug: str | None = None,
                bugs: Sequence[str] = (), starter_edits: bool = False) -> Path:
    """Write the starter (``reference=False``) or the reference to ``target``; on the reference, put
    back the planted bugs ``bug`` and ``bugs`` (each bug's edits, bugs in the manifest's ``bugs``
    order), then with ``starter_edits`` the ``[[starter]]`` edits.

    The reference with every bug and ``starter_edits=True`` is the starter when
    ``mutants_reproduce_starter`` passes.

    Raises:
        ManifestError: edits asked of the starter, a bug that is not planted or has no mutant, or an
            edit whose ``old`` text no longer occurs exactly once (once the edits before it applied).
    """
    wanted = _bugs_in_order(scaffold, bug, bugs)
    if not reference and (wanted or starter_edits):
        raise ManifestError(path=str(scaffold.root / "mutants.toml"), field="(materialize)",
                            expected="edits applied to the reference (reference=True)",
                            got=f"reference=False with bugs {wanted} and starter_edits={starter_edits}",
                            hint="The starter already holds every bug; build it from the reference instead.")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(scaffold.workspace_dir, target, dirs_exist_ok=True)
    if reference:
        shutil.copytree(scaffold.solution_dir, target, dirs_exist_ok=True)
    table = mutants(scaffold) if wanted else {}
    for name in wanted:
        _apply(scaffold, target, name, table.get(name, []))
    if starter_edits:
        _apply(scaffold, target, STARTER_EDITS, load_starter_edits(scaffold.root / "mutants.toml",
                                                                     scaffold.manifest.bugs))
    return target


def _bugs_in_order(scaffold: Scaffold, bug: str | None, bugs: Sequence[str]) -> list[str]:
    """``bug`` and ``bugs`` as planted bug ids, once each, in the manifest's ``bugs`` order."""
    if isinstance(bugs, str):
        bugs = [bugs]
    asked = ([bug] if bug is not None else []) + list(bugs)
    planted = scaffold.manifest.bugs
    unknown = [b for b in asked if b not in planted]
    if unknown:
        raise ManifestError(path=str(scaffold.root / "mutants.toml"), field=unknown[0],
                            expected=f"one of the planted bugs {list(planted)}", got=repr(unknown[0]),
                            hint="materialize puts back only bugs the scaffold plants (scaffold.toml's `bugs`).")
    return [b for b in planted if b in asked]


def _apply(scaffold: Scaffold, target: Path, name: str, edits: list[MutantEdit]) -> None:
    """Apply ``name``'s edits in ``target``, each ``old`` text found exactly once."""
    where = str(scaffold.root / "mutants.toml")
    if not edits and name != STARTER_EDITS:
        raise ManifestError(path=where, field=name, expected=f"a [[{name}]] table re-introducing that bug",
                            got="nothing", hint="Every planted bug needs a mutant.")
    for index, edit in enumerate(edits):
        path = target / edit.file
        text = path.read_text() if path.exists() else ""
        count = text.count(edit.old)
        if count != 1:
            raise ManifestError(path=where, field=f"{name}.old", expected=f"text found exactly once in "
                                f"solution/{edit.file}", got=f"{count} occurrences",
                                hint=f"Edit {index + 1} of [[{name}]] applies after the edits before it; "
                                     "rewrite its `old` as the text it meets there.")
        path.write_text(text.replace(edit.old, edit.new))

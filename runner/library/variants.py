"""Build the starter, the reference, and "reference + one planted bug" as workspace folders.

Mutants come from the scaffold's ``mutants.toml``: for each bug id, replacements that turn the
reference back into that one bug. These drive calibration and the killability checks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pitfalls.core.errors import ManifestError
from pitfalls.library.manifest import load_mutants
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.schema import MutantEdit


def mutants(scaffold: Scaffold) -> dict[str, list[MutantEdit]]:
    """The ``mutants.toml`` table: bug id -> its edits (file, old, new); {} without the file.

    Raises:
        ManifestError: a table that is not a planted bug id, or an edit with an unknown key.
    """
    return load_mutants(scaffold.root / "mutants.toml", scaffold.manifest.bugs)


def materialize(*, scaffold: Scaffold, target: Path, reference: bool, bug: str | None = None) -> Path:
    """Write the starter (``reference=False``) or the reference, optionally with ``bug``, to ``target``.

    Raises:
        ManifestError: the bug has no mutant, or a mutant's ``old`` text no longer occurs exactly once.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(scaffold.workspace_dir, target, dirs_exist_ok=True)
    if reference:
        shutil.copytree(scaffold.solution_dir, target, dirs_exist_ok=True)
    if bug is None:
        return target
    where = str(scaffold.root / "mutants.toml")
    edits = mutants(scaffold).get(bug)
    if not edits:
        raise ManifestError(path=where, field=bug, expected="a [[bug]] table re-introducing that bug",
                            got="nothing", hint="Every planted bug needs a mutant.")
    for edit in edits:
        path = target / edit.file
        text = path.read_text() if path.exists() else ""
        count = text.count(edit.old)
        if count != 1:
            raise ManifestError(path=where, field=f"{bug}.old", expected=f"text found exactly once in "
                                f"solution/{edit.file}", got=f"{count} occurrences")
        path.write_text(text.replace(edit.old, edit.new))
    return target

"""Authoring loops over one build of a scaffold: its probes' verdicts (``pitfalls probe NAME --on``)
and a practice workspace holding the reference with bugs put back (``pitfalls workspace NAME --with-bug``)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pitfalls.core.errors import WorkspaceError
from pitfalls.core.store import Store
from pitfalls.library.builds import build, check_bugs, check_build, expected_status
from pitfalls.library.catalogs import require_own_ids
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import create_workspace
from pitfalls.probes.run import run_probes


@dataclass
class ProbeRow:
    """One probe's verdict on a build, and the verdict ``probes_agree`` expects there."""

    bug: str
    status: str
    expected: str
    evidence: str
    tampering: list[str]

    @property
    def agrees(self) -> bool:
        return self.status == self.expected


def probe_build(*, name: str, on: str) -> dict[str, Any]:
    """Build ``on`` (``starter``, ``reference`` or a planted bug id) of scaffold ``name`` in a temporary
    folder and run its probes there (trains once, in the probe sandbox).

    Returns ``{"scaffold", "on", "agree", "probes": [ProbeRow as dict, with "agrees"]}``.

    Raises:
        ScaffoldNotFound: no such scaffold. UnknownBuild: ``on`` is no build of it (did-you-mean).
    """
    scaffold = load_scaffold(name)
    check_build(scaffold, on)
    with tempfile.TemporaryDirectory(prefix="pitfalls-probe-") as tmp:
        source = build(scaffold=scaffold, target=Path(tmp) / on, on=on)
        results = run_probes(scaffold=scaffold, source=source)
    rows = [ProbeRow(r.bug_id, r.status, expected_status(on, r.bug_id), r.evidence, list(r.tampering))
            for r in results]
    return {"scaffold": scaffold.name, "on": on, "agree": all(r.agrees for r in rows),
            "probes": [{**asdict(r), "agrees": r.agrees} for r in rows]}


def start_build_workspace(*, name: str, directory: Path, bugs: Sequence[str],
                          store: Store | None = None) -> dict[str, Any]:
    """A practice workspace of scaffold ``name`` in ``directory`` whose code is the reference with
    ``bugs`` put back (none: the reference itself); data, brief and notebook as ``practice`` writes
    them, so ``submit``, ``hint`` and ``reveal`` work on it.

    Returns ``{"session_id", "scaffold", "workspace", "bugs"}``.

    Raises:
        UnknownBuild: a bug id the scaffold does not plant. WorkspaceError: ``directory`` is not empty.
        PitfallsError: the scaffold's pack reuses a built-in catalog id.
    """
    scaffold = load_scaffold(name)
    require_own_ids(scaffold.name)  # as practice: a pack entry reusing a shipped id would read as the shipped one
    wanted = check_bugs(scaffold, bugs)
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        raise WorkspaceError(f"The workspace folder must be new or empty. Got {directory} with files in it "
                             "instead. Pick another folder.")
    store = store or Store()
    session_id = store.create_session(scaffold=scaffold.name, workspace=directory, mode="practice",
                                      candidate=f"author: reference + {', '.join(wanted) or 'no bug'}",
                                      scaffold_source=scaffold.source)  # as practice: works from any folder
    create_workspace(scaffold=scaffold, directory=directory, session_id=session_id)
    build(scaffold=scaffold, target=directory, bugs=wanted)
    return {"session_id": session_id, "scaffold": scaffold.name, "workspace": str(directory), "bugs": wanted}

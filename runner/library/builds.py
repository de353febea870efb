"""Named builds of a scaffold for authors: ``starter``, ``reference``, or the reference with planted bugs
put back (``pitfalls probe NAME --on``, ``pitfalls workspace NAME --with-bug``).

A name the scaffold does not know is refused with the names it does and the closest one.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.variants import materialize

PLAIN = ("starter", "reference")
"""The builds that are no bug id: the candidate's starting files and the solution."""


class UnknownBuild(PitfallsError):
    """A build or bug id the scaffold does not plant."""


def build_names(scaffold: Scaffold) -> list[str]:
    """``starter``, ``reference`` and every planted bug id (the reference with that one bug), in order."""
    return [*PLAIN, *scaffold.manifest.bugs]


def _refuse(what: str, got: str, names: Sequence[str], scaffold: Scaffold) -> UnknownBuild:
    close = difflib.get_close_matches(got, list(names), n=1)
    return UnknownBuild(f"{what} must be one of {list(names)} for {scaffold.name}. Got {got!r} instead."
                        + (f" Did you mean {close[0]!r}?" if close else "")
                        + " `pitfalls bugs --planted` lists every scaffold's bugs.")


def check_build(scaffold: Scaffold, on: str) -> str:
    """``on`` if it names a build of ``scaffold`` (:func:`build_names`).

    Raises:
        UnknownBuild: with the names allowed and a did-you-mean.
    """
    if on not in build_names(scaffold):
        raise _refuse("--on", on, build_names(scaffold), scaffold)
    return on


def check_bugs(scaffold: Scaffold, bugs: Sequence[str]) -> list[str]:
    """``bugs`` once each, in the manifest's order, if every one is planted by ``scaffold``.

    Raises:
        UnknownBuild: the first id that is not planted, with the planted ones and a did-you-mean.
    """
    for bug in bugs:
        if bug not in scaffold.manifest.bugs:
            raise _refuse("--with-bug", bug, scaffold.manifest.bugs, scaffold)
    return [b for b in scaffold.manifest.bugs if b in bugs]


def expected_status(on: str, bug: str) -> str:
    """What a probe of ``bug`` should say on build ``on``: present in the starter and in the reference
    with ``bug`` put back, fixed everywhere else (as ``probes_agree`` demands)."""
    return "present" if on in ("starter", bug) else "fixed"


def build(*, scaffold: Scaffold, target: Path, on: str = "reference", bugs: Sequence[str] = ()) -> Path:
    """Write build ``on`` to ``target``; with ``bugs``, the reference with all those bugs put back.

    Raises:
        UnknownBuild: ``on`` or one of ``bugs`` is not a build or planted bug of the scaffold.
        ManifestError: a mutant no longer applies.
    """
    check_build(scaffold, on)
    wanted = check_bugs(scaffold, bugs)
    if wanted and on != "reference":
        raise UnknownBuild(f"Bugs must be put back into the reference. Got --on {on!r} with bugs {wanted} instead.")
    if on == "starter":
        return materialize(scaffold=scaffold, target=target, reference=False)
    if on != "reference":
        wanted = [on]
    if len(wanted) <= 1:
        return materialize(scaffold=scaffold, target=target, reference=True, bug=wanted[0] if wanted else None)
    return materialize(scaffold=scaffold, target=target, reference=True, bugs=wanted)

"""What `pitfalls reveal` shows (:func:`pitfalls.service.api.reveal` fills it): the planted bugs with
their probe verdicts, the quirks found or missed, and the scores; catalog references left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pitfalls.core.results import ProbeResult
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.variant import quirk_entry_of


@dataclass
class Reveal:
    scaffold: str
    title: str
    bugs: list[dict[str, Any]]
    """Each planted bug: catalog entry plus this workspace's probe verdict (``status``, ``evidence``,
    ``self_reported`` and ``tampering``: the cross-checks that failed, see runner/probes/run.py)."""
    quirks: list[dict[str, Any]]
    """Each planted quirk: catalog entry plus the quirk manifest (what, where, how much) and ``status``:
    ``found`` when every bug the manifest links to it (``quirk_bugs``) is fixed, ``missed`` when one is
    present, ``unknown`` when a probe could not decide, ``unchecked`` when no bug is linked."""
    diff: str
    """Unified diff from the current workspace to the reference solution."""
    final: dict[str, Any] = field(default_factory=dict)
    """The final submission (the candidate's choice, else the last scored; runner/core/finals.py):
    ``submission_id``, ``chosen``, ``how``, ``public`` (with the ``public_decimals`` it was shown with),
    ``private``, ``normalized_private`` and the goal."""
    scores: list[dict[str, Any]] = field(default_factory=list)
    """Every scored submission's ``public`` (and ``public_decimals``), ``private`` and ``normalized_private``
    score, ``final`` marked."""
    submissions: list[dict[str, Any]] = field(default_factory=list)
    """Each probed submission: ``submission_id``, ``note``, ``probe_status`` (``running`` or
    ``pending`` when its probes were still running after the reveal waited for them) and, when done,
    ``verdicts`` (bug id to status) and ``tampering`` (any flag)."""
    waited: float = 0.0
    """Seconds the reveal waited for submissions' probes still running."""
    verdicts_of: int | None = None
    """The submission whose probe verdicts ``bugs`` shows because the workspace holds exactly its files
    (runner/service/unchanged.py); None when the probes ran on the workspace for this reveal."""


REVEAL_WAIT_SECONDS = 60.0


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry without its ``ref`` (an id of the interviewers' reference catalog)."""
    return {k: v for k, v in entry.items() if k != "ref"}


def planted_entries(scaffold: Scaffold, found: dict[str, ProbeResult]) -> tuple[list[dict[str, Any]],
                                                                              list[dict[str, Any]]]:
    """The reveal's bugs (catalog entry and probe verdict) and quirks (catalog entry, what was planted and
    the found/missed status of :func:`quirk_status`), from the probe results ``found`` by bug id."""
    from pitfalls.library.catalogs import bug_entry

    bugs = [{**_public(bug_entry(b, scaffold.manifest.wording, scaffold=scaffold.name)), "status": found[b].status, "evidence": found[b].evidence,
             "self_reported": found[b].self_reported, "tampering": found[b].tampering}
            for b in scaffold.manifest.bugs]
    planted = {q["id"]: q for q in scaffold.dataset().quirks}
    quirks = [{**_public(quirk_entry_of(scaffold, q)), "planted": planted.get(q, {}),
               "status": quirk_status([found[b].status for b in scaffold.manifest.quirk_bugs.get(q, ())])}
              for q in scaffold.manifest.quirks]
    return bugs, quirks


def quirk_status(bug_statuses: list[str]) -> str:
    """A quirk's reveal status from the probe statuses of the bugs linked to it (see :class:`Reveal`)."""
    if not bug_statuses:
        return "unchecked"
    if "present" in bug_statuses:
        return "missed"
    return "found" if all(s == "fixed" for s in bug_statuses) else "unknown"

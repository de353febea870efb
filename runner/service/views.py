"""What a stored submission shows: its result from the database row, the public score on the
scaffold's grid, the goal on this installation's anchors, and the diff to the reference.

Reads only: the anchors cache is read, never measured (:mod:`pitfalls.scoring.anchor_cache`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pitfalls.core.results import ProbeResult, SubmissionResult, Violation
from pitfalls.fs.workspace_view import read_text
from pitfalls.library.metrics import public_decimals, round_public
from pitfalls.library.scaffold import Scaffold
from pitfalls.scoring.anchor_cache import cached_anchors


def grid_decimals(scaffold: Scaffold) -> int:
    """Decimals of the scaffold's public grid on this installation's anchors now
    (:func:`pitfalls.library.metrics.public_decimals`; read, never measured)."""
    cal = cached_anchors(scaffold)  # the submission measured them; a display never does
    return public_decimals(cal.reference_public if cal else None)


def row_decimals(row: Mapping[str, Any], scaffold: Scaffold, today: int | None = None) -> int:
    """Decimals of the public grid a submission's score was shown on when it was scored (stored with
    it); for rows scored before that was stored, ``today`` (default: :func:`grid_decimals`)."""
    stored = row.get("public_decimals")
    if stored is not None:
        return int(stored)
    return grid_decimals(scaffold) if today is None else today


def result_from_row(row: dict[str, Any], scaffold: Scaffold) -> SubmissionResult:
    """Rebuild a :class:`SubmissionResult` from its database row."""
    shown = bool(row["feedback_shown"])
    places = row_decimals(row, scaffold)
    interval = row.get("score_interval")  # stored on the grid already (None in rows older than it)
    norm = row["norm_public"]
    return SubmissionResult(
        submission_id=row["id"], status=row["status"], metric=row["metric"],
        score=round_public(row["score_public"], places) if shown else None,
        normalized=None if norm is None or not shown else round(norm, 3),
        message=row["message"], violations=[Violation(**v) for v in row["violations"]],
        note=row["note"], created_at=row["created_at"], params=row["params"], timings=row["timings"],
        log_tail=row["log_tail"], private_score=row["score_private"],
        private_normalized=row["norm_private"], probes=[ProbeResult(**p) for p in row["probes"]],
        score_interval=list(interval) if interval and shown else None, decimals=places if shown else None)


def public_view(scaffold: Scaffold, score: float | None,
                interval: tuple[float, float] | None) -> dict[str, Any]:
    """What of a public score anyone is shown, as stored with the submission: the score on the
    scaffold's grid (:func:`pitfalls.library.metrics.public_decimals`; ``public_decimals``), its interval on the same grid (widened to contain the
    score when a percentile interval of a skewed metric misses it) and the normalized score
    computed from the rounded score (so it carries no more digits), to 3 decimals, on this
    installation's anchors (runner/scoring/anchors.py)."""
    cal = cached_anchors(scaffold)  # measured by submit() first (None: left out, see _scale)
    places = public_decimals(cal.reference_public if cal else None, score)
    shown = round_public(score, places)
    if shown is None:
        return {"score_public": None, "score_interval": None, "norm_public": None, "public_decimals": None}
    iv = None if interval is None else [round_public(min(interval[0], score), places),
                                        round_public(max(interval[1], score), places)]
    norm = cal.normalize(shown, "public") if cal else None
    return {"score_public": shown, "score_interval": iv, "norm_public": None if norm is None else round(norm, 3),
            "public_decimals": places}


def goal_view(scaffold: Scaffold, normalized_private: float | None = None) -> dict[str, Any]:
    """The goal on this installation: ``goal_normalized`` (the manifest's share of the
    starter-to-reference gap), ``goal`` (the private-slice metric value it stands for here, None
    before the anchors are measured) and, given a normalized private score, ``goal_reached``."""
    g = scaffold.manifest.task.goal_normalized
    cal = cached_anchors(scaffold)
    out: dict[str, Any] = {"goal_normalized": g, "goal": cal.goal_score(g) if cal else None}
    if normalized_private is not None and g is not None:
        out["goal_reached"] = normalized_private >= g
    return out


def solution_diff(*, scaffold: Scaffold, directory: Path) -> str:
    """Unified diff from ``directory``'s files to the reference solution's files."""
    chunks = []
    for ref in sorted(p for p in scaffold.solution_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = ref.relative_to(scaffold.solution_dir).as_posix()
        mine = read_text(directory, rel, 2**20)  # opened once, never through a link (runner/fs/safefs.py)
        a = mine[0].splitlines(keepends=True) if mine else []
        chunks += difflib.unified_diff(a, ref.read_text().splitlines(keepends=True),
                                       fromfile=f"workspace/{rel}", tofile=f"reference/{rel}")
    return "".join(chunks)

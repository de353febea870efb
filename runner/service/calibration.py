"""Measuring a scaffold's scoring scale on this installation (``pitfalls calibrate``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pitfalls.library.scaffold import load_scaffold
from pitfalls.scoring.anchors import anchors, cached_anchors


def calibrate(*, name: str, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """This installation's anchors of ``name`` (runner/scoring/anchors.py), measured now if not cached.

    Returns the four scores, ``seconds`` (how long measuring took) and ``cached`` (whether they
    were measured earlier).

    Raises:
        PitfallsError: the starter or the reference could not be scored.
    """
    scaffold = load_scaffold(name)
    cached = cached_anchors(scaffold) is not None
    cal = anchors(scaffold, say=say)
    return {**cal.view(), "seconds": cal.seconds, "cached": cached}


def calibrate_secrets(*, name: str) -> dict[str, Any]:
    """Measure ``name``'s starter and reference over the pinned test secrets (runner/scoring/anchors.py):
    the manifest's ``[calibration]`` values, and ``goal_normalized`` converted from a legacy
    absolute goal (None when the manifest already has goal_normalized).

    Raises:
        PitfallsError: the starter or the reference could not be scored on a test secret.
    """
    from pitfalls.scoring.anchors import measure_secrets, spread

    scaffold = load_scaffold(name)
    table = spread(measure_secrets(scaffold)).table()
    t = scaffold.manifest.task
    goal = None
    if t.goal is not None and table["reference_mean"] != table["baseline_mean"]:
        from pitfalls.library.scale import normalize

        goal = normalize(t.goal, baseline=table["baseline_mean"], reference=table["reference_mean"], metric=t.metric,
                         rows=None)
        goal = min(1.0, max(0.01, goal or 0.0))  # on the scale; check tells if the reference misses it
    return {"calibration": table, "goal_normalized": goal}

"""Per-installation anchors of normalized scores: the untouched starter (0) and the reference (1).

Every installation generates its own data (runner/core/secret.py), so the starter's and the
reference's scores differ per installation, often a lot (bike_demand's starter RMSE ranges from
391 to 865 over six secrets). The anchors are therefore measured on this installation's data: the
starter and the reference run through the real pipeline (:func:`pitfalls.scoring.pipeline.evaluate`, the
parameter budget not enforced: some starters are over it by design) and the four scores are cached
in the state folder, ``$PITFALLS_HOME/anchors/NAME-<key>.json`` (written atomically, mode 0600;
the state folder is never mounted into a sandbox or a container, nor copied into a workspace).

The key hashes everything the scores depend on: the scaffold's files (its ``[calibration]`` table
aside), the data library's code, the library versions and the derived data seed; a change to any
of them measures anew. Measuring takes one starter and one reference run (seconds to a minute per
scaffold), done ahead where a user waits anyway (``pitfalls practice``, ``session start``,
``pitfalls calibrate NAME``) and otherwise on the first submission, which says so.

:data:`TEST_SECRETS` are the pinned secrets ``pitfalls calibrate --write`` and ``pitfalls check``
measure the manifest's ``[calibration]`` over (reproducible, and not any installation's secret).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.library.scaffold import Scaffold
from pitfalls.scoring.anchor_cache import (  # the cache, read by the pipeline too; re-exported here
    Anchors,
    _memo,
    anchors_path,
    cached_anchors,
    content_hash,
    locked,
    with_scale,
    write_anchors,
)

__all__ = ["PREPARING", "preparing", "TEST_SECRETS", "Anchors", "Spread", "anchors", "anchors_path", "cached_anchors",
           "content_hash", "measure", "measure_secrets", "spread"]

TEST_SECRETS: tuple[bytes, ...] = tuple(hashlib.sha256(f"pitfalls calibration test secret {i}".encode()).digest()
                                        for i in range(5))
"""Five pinned 256-bit secrets, derived from a fixed string: what ``[calibration]`` is measured over."""
PREPARING = "measuring the scoring scale"
"""How the line :func:`anchors` says before a measurement begins (:func:`preparing`)."""
runs = 0
"""How many measurements this process made (tests assert a cached call does not measure)."""


def anchors(scaffold: Scaffold, *, say: Callable[[str], None] | None = None, kind: str = "submit") -> Anchors:
    """This installation's anchors for ``scaffold``: cached, or measured now (and cached).

    Args:
        say: told :func:`preparing` before a measurement starts (the caller's user waits for it).
        kind: the scheduler's lane the measuring runs take (``probe``: nobody waits for them).

    Raises:
        PitfallsError: the starter or the reference does not score on this installation's data.
    """
    found = cached_anchors(scaffold)
    if found is not None:
        return found
    path = anchors_path(scaffold)
    with locked(path):  # a second process waits for the first's measurement, then reads it
        found = cached_anchors(scaffold)
        if found is not None:
            return found
        if say is not None:
            say(preparing(scaffold))
        try:
            found = measure(scaffold, kind=kind)
        except PitfallsError:  # a time limit hit on a machine busy for a moment: one more try
            found = measure(scaffold, kind=kind)
        try:
            write_anchors(path, found)
        except OSError:  # a full or read-only state folder: keep them for this process only
            pass
    _memo[path] = found
    return found


def preparing(scaffold: Scaffold) -> str:
    """What a user waiting for :func:`anchors` to measure is told: a variant's scale is measured once
    per variant (each draws its own data), a shipped scaffold's once per installation."""
    if scaffold.variant is not None:
        return (f"{PREPARING} of variant {scaffold.variant.id} of {scaffold.variant.base.name} (once per variant, "
                "about two training runs)...")
    return f"{PREPARING} of {scaffold.name} (once per installation, about two training runs)..."


def measure(scaffold: Scaffold, *, kind: str = "submit") -> Anchors:
    """Train and score the untouched starter and the reference on ``scaffold``'s data (its secret).

    Each run takes a CPU slot like any job (lane ``kind`` of runner/sched/; "submit": a user waits
    for the scale). A caller that queued a ticket of its own and has not started waiting for it
    (``api.submit``) holds nobody up, so this cannot deadlock with it.

    Raises:
        PitfallsError: either does not score.
    """
    global runs
    from pitfalls.library.variants import materialize
    from pitfalls.scoring.pipeline import evaluate

    runs += 1
    start, scores = time.monotonic(), {}
    for anchor, reference in (("baseline", False), ("reference", True)):
        with tempfile.TemporaryDirectory(prefix="pitfalls-cal-") as tmp:
            src = materialize(scaffold=scaffold, target=Path(tmp) / "w", reference=reference)
            ev = evaluate(scaffold=scaffold, source=src, enforce_budgets=False, kind=kind,
                          session_id=f"anchors-{os.getpid()}")
        if ev.status != "scored":
            raise PitfallsError(f"The {'starter' if anchor == 'baseline' else 'reference'} of {scaffold.name} "
                                f"must score to anchor normalized scores. Got {ev.status} instead: {ev.message} "
                                "Try again when the machine is less busy; if it repeats, run "
                                f"`pitfalls check {scaffold.name}`.")
        scores[f"{anchor}_public"], scores[f"{anchor}_private"] = ev.score_public, ev.score_private
    return with_scale(Anchors(**scores, seconds=round(time.monotonic() - start, 1)), scaffold)


@dataclass(frozen=True)
class Spread:
    """Private-slice scores of the starter and the reference over several secrets."""

    baseline: list[float]
    reference: list[float]

    def table(self) -> dict[str, float | int]:
        """The manifest's ``[calibration]`` values (6 significant digits)."""
        sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0  # noqa: E731
        return {"secrets": len(self.baseline),
                "baseline_mean": _sig(statistics.fmean(self.baseline)), "baseline_sd": _sig(sd(self.baseline)),
                "reference_mean": _sig(statistics.fmean(self.reference)), "reference_sd": _sig(sd(self.reference))}


def _sig(x: float) -> float:
    return float(f"{x:.6g}")


def spread(measured: list[Anchors]) -> Spread:
    """The private scores of per-secret measurements (e.g. one per :data:`TEST_SECRETS`)."""
    return Spread(baseline=[a.baseline_private for a in measured], reference=[a.reference_private for a in measured])


def measure_secrets(scaffold: Scaffold, secrets: tuple[bytes, ...] = TEST_SECRETS) -> list[Anchors]:
    """:func:`measure` on each of ``secrets`` (the pinned test secrets by default), in order."""
    return [measure(scaffold.with_secret(s), kind="check") for s in secrets]

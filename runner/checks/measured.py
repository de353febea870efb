"""The starter's and the reference's scores on a pinned test secret, as ``pitfalls check`` reads them
(starter_below_reference, calibration_matches): measured once per content and kept.

A measurement is two full pipeline runs; ``pitfalls check`` makes one per test secret (ten runs).
It is kept in ``$PITFALLS_HOME/anchors/check/`` under a key that hashes what the scores depend on:
the scaffold's files without ``[calibration]`` and ``[check]``, the data library, the library
versions and the secret (as :func:`pitfalls.scoring.anchors.anchors_path`) and, unlike a session's
anchors, the runner's own code (``pitfalls`` itself): a change to the scoring pipeline measures anew,
so calibration_matches still notices a pipeline that scores differently.

So a second check of the same files, e.g. after ``pitfalls calibrate --write`` rewrote only
``[calibration]``, trains no anchor again, and calibration_matches still compares two independent
measurements: calibrate's and the first check's.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitfalls.core.resources import package_folder
from pitfalls.core.secret import seed_tag
from pitfalls.core.store import home
from pitfalls.library.scaffold import Scaffold
from pitfalls.scoring.anchor_cache import _SKIP, _versions, with_scale, write_anchors
from pitfalls.scoring.anchors import Anchors, anchors_path, cached_anchors, locked, measure
from pitfalls.scoring.pipeline import Evaluation


@functools.cache
def _runner_hash() -> str:
    """A hash of every Python file of the installed ``pitfalls`` package (once per process)."""
    root = package_folder("pitfalls")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _without_table(text: str, table: str) -> str:
    start = text.find(f"\n[{table}]")
    if start == -1:
        return text
    end = text.find("\n[", start + 1)
    return text[:start] + (text[end:] if end != -1 else "\n")


def _content(scaffold: Scaffold) -> str:
    """A hash of what the anchors depend on (as :func:`pitfalls.scoring.anchors.content_hash`), the
    manifest's ``[check]`` table aside too: it tells the checks what to require, not how to train."""
    digest = hashlib.sha256()
    for label, root in (("scaffold", scaffold.root), ("datasets", package_folder("pitfalls.datasets"))):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not _SKIP & set(p.parts)):
            data = path.read_bytes()
            if path == scaffold.root / "scaffold.toml":
                data = _without_table(_without_table(data.decode(), "calibration"), "check").encode()
            digest.update(f"{label}/{path.relative_to(root).as_posix()}\0{len(data)}\0".encode() + data)
    digest.update(f"{_versions()}\0{seed_tag(scaffold.data_seed())}\0{_runner_hash()}".encode())
    return digest.hexdigest()


def measured_path(scaffold: Scaffold) -> Path:
    """``$PITFALLS_HOME/anchors/check/FOLDER-<key>.json`` for ``scaffold`` (with its secret). The key
    holds no name: a copy of the same files elsewhere (or under a pack) reads the same measurement."""
    return home() / "anchors" / "check" / f"{scaffold.root.name}-{_content(scaffold)[:20]}.json"


def _read(path: Path, scaffold: Scaffold) -> Anchors | None:
    try:
        return with_scale(Anchors(**json.loads(path.read_text())), scaffold)
    except (OSError, ValueError, TypeError):  # missing, or a torn/foreign file: measure again
        return None


def measured(scaffold: Scaffold, heavy: Callable[[Callable[[], Any]], Any]) -> Anchors:
    """The kept measurement of ``scaffold`` (its secret: a pinned test secret), else one made now
    through ``heavy`` (the check's training slots) and kept. A state folder that cannot keep it only
    costs the reuse.

    Raises:
        PitfallsError: the starter or the reference does not score.
    """
    path = measured_path(scaffold)
    found = _read(path, scaffold)
    if found is not None:
        return found
    with locked(path):  # another check of the same files (another xdist worker) waits, then reads
        found = _read(path, scaffold)
        if found is None:
            found = heavy(lambda: measure(scaffold, kind="check"))
            try:
                write_anchors(path, found)
            except OSError:  # a full or read-only state folder
                pass
    return found


def keep_anchors(scaffold: Scaffold, starter: Evaluation, reference: Evaluation) -> None:
    """Cache the check's starter and reference evaluations as this installation's anchors of
    ``scaffold`` (runner/scoring/anchors.py measures them the same way: both through the pipeline,
    budgets not enforced), unless cached already or either did not score. Best effort."""
    if starter.status != "scored" or reference.status != "scored" or cached_anchors(scaffold) is not None:
        return
    seconds = sum(ev.timings.get(k, 0.0) for ev in (starter, reference) for k in ("train_seconds", "predict_seconds"))
    found = with_scale(Anchors(baseline_public=starter.score_public, baseline_private=starter.score_private,
                               reference_public=reference.score_public, reference_private=reference.score_private,
                               seconds=round(seconds, 1)), scaffold)
    path = anchors_path(scaffold)
    try:  # no lock: a measurement under way elsewhere must not hold the check up; writes are atomic
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_anchors(path, found)
    except OSError:  # a full or read-only state folder: the first submission measures them
        pass

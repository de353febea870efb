"""This installation's anchors as cached in the state folder: read, keyed and written, never measured.

The scoring pipeline reads them here (to round the public score); measuring them runs the pipeline
(:mod:`pitfalls.scoring.anchors`), which sits above it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

from pitfalls.core.resources import package_folder
from pitfalls.core.secret import seed_tag
from pitfalls.core.store import home
from pitfalls.library.scaffold import Scaffold

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "skops", "safetensors", "wordllama")
"""Installed libraries whose version changes scores or data (wordllama: retrieval_recall's encoder and
vocabulary; the Python version too, in :func:`_versions`: retrieval_recall's passages are its stdlib)."""
_SKIP = {"__pycache__", ".ipynb_checkpoints"}
_memo: dict[Path, Anchors] = {}


@dataclass(frozen=True)
class Anchors:
    """Scores of the untouched starter (normalized 0) and the reference (1) on one installation's data."""

    baseline_public: float
    baseline_private: float
    reference_public: float
    reference_private: float
    seconds: float = 0.0
    """How long measuring took (the starter and the reference, trained and scored)."""
    metric: str = ""
    """The scaffold's metric: the scale reads each as an error (runner/library/scale.py). Set by
    :func:`with_scale` whenever anchors are read or measured."""
    rows_public: int = 0
    rows_private: int = 0
    """How many rows each slice holds (the scale's error floor); 0 in caches written before them."""

    def normalize(self, value: float | None, part: str) -> float | None:
        """``value`` on this installation's scale for slice ``part`` (``public`` or ``private``)."""
        from pitfalls.library import scale  # numpy: reading a cache needs none of it

        return scale.normalize(value, baseline=getattr(self, f"baseline_{part}"),
                               reference=getattr(self, f"reference_{part}"), metric=self.metric,
                               rows=getattr(self, f"rows_{part}") or None)

    def goal_score(self, goal_normalized: float | None, part: str = "private") -> float | None:
        """The metric value that ``goal_normalized`` stands for on this installation's slice ``part``."""
        if goal_normalized is None:
            return None
        from pitfalls.library import scale

        return scale.value_at(goal_normalized, baseline=getattr(self, f"baseline_{part}"),
                              reference=getattr(self, f"reference_{part}"), metric=self.metric,
                              rows=getattr(self, f"rows_{part}") or None)

    def view(self) -> dict[str, float]:
        """The four scores (what the dashboard and the report plot)."""
        return {k: getattr(self, k) for k in ("baseline_public", "baseline_private", "reference_public",
                                              "reference_private")}


def with_scale(found: Anchors, scaffold: Scaffold) -> Anchors:
    """``found`` with ``scaffold``'s metric and slice sizes (generated data is read only when the
    cache predates the sizes)."""
    from pitfalls.library.metrics import slice_rows

    rows = ({"public": found.rows_public, "private": found.rows_private} if found.rows_public else
            slice_rows(len(scaffold.dataset().heldout), fraction=scaffold.manifest.feedback.public_fraction))
    return replace(found, metric=scaffold.manifest.task.metric, rows_public=rows["public"],
                   rows_private=rows["private"])


def content_hash(scaffold: Scaffold) -> str:
    """A hash of everything the anchors depend on besides the secret: the scaffold's files (its
    ``[calibration]`` table aside: rewriting it changes no score), the data library
    (``datasets/``, ``pitfalls.datasets``) and the installed versions of Python and the modelling libraries."""
    digest = hashlib.sha256()
    quirks = package_folder("pitfalls.datasets")
    for label, root in (("scaffold", scaffold.root), ("datasets", quirks)):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not _SKIP & set(p.parts)):
            data = path.read_bytes()
            if path == scaffold.root / "scaffold.toml":
                data = _without_calibration(data.decode())
            digest.update(f"{label}/{path.relative_to(root).as_posix()}\0{len(data)}\0".encode() + data)
    digest.update(_versions().encode())
    return digest.hexdigest()


@functools.cache
def _versions() -> str:
    found = [f"python={sys.version}"]
    for lib in _LIBRARIES:
        try:
            found.append(f"{lib}={metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            found.append(f"{lib}=-")
    return "\0".join(found)


def _without_calibration(text: str) -> bytes:
    start = text.find("\n[calibration]")
    if start != -1:
        end = text.find("\n[", start + 1)
        text = text[:start].rstrip() + "\n" + (text[end:] if end != -1 else "")
    return (text.rstrip() + "\n").encode()


def anchors_path(scaffold: Scaffold) -> Path:
    """``$PITFALLS_HOME/anchors/NAME-<hash of content and derived seed>.json``."""
    key = hashlib.sha256(f"{content_hash(scaffold)}:{seed_tag(scaffold.data_seed())}".encode()).hexdigest()
    return home() / "anchors" / f"{scaffold.name}-{key[:20]}.json"


def cached_anchors(scaffold: Scaffold) -> Anchors | None:
    """This installation's anchors if they were measured already, else None (never measures)."""
    path = anchors_path(scaffold)
    if path in _memo:
        return _memo[path]
    try:
        found = with_scale(Anchors(**json.loads(path.read_text())), scaffold)
    except (OSError, ValueError, TypeError):  # missing, or a torn/foreign file: measure again
        return None
    _memo[path] = found
    return found


def write_anchors(path: Path, found: Anchors) -> None:
    """Write ``found`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(found), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` (none when the state folder cannot take one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = open(path.with_suffix(".lock"), "a")
    except OSError:  # full or read-only: measure unlocked; the store reports the folder itself
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

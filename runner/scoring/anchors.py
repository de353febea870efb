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

import fcntl
import functools
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import seed_tag
from pitfalls.core.store import home
from pitfalls.library.scaffold import Scaffold

TEST_SECRETS: tuple[bytes, ...] = tuple(hashlib.sha256(f"pitfalls calibration test secret {i}".encode()).digest()
                                        for i in range(5))
"""Five pinned 256-bit secrets, derived from a fixed string: what ``[calibration]`` is measured over."""
PREPARING = "preparing the scoring scale (once per installation)..."
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "skops", "safetensors")
_SKIP = {"__pycache__", ".ipynb_checkpoints"}
_memo: dict[Path, Anchors] = {}
runs = 0
"""How many measurements this process made (tests assert a cached call does not measure)."""


@dataclass(frozen=True)
class Anchors:
    """Scores of the untouched starter (normalized 0) and the reference (1) on one installation's data."""

    baseline_public: float
    baseline_private: float
    reference_public: float
    reference_private: float
    seconds: float = 0.0
    """How long measuring took (the starter and the reference, trained and scored)."""

    def normalize(self, value: float | None, part: str) -> float | None:
        """``value`` on this installation's scale for slice ``part`` (``public`` or ``private``)."""
        from pitfalls.library.metrics import normalize

        return normalize(value, baseline=getattr(self, f"baseline_{part}"),
                         reference=getattr(self, f"reference_{part}"))

    def goal_score(self, goal_normalized: float | None, part: str = "private") -> float | None:
        """The metric value that ``goal_normalized`` stands for on this installation's slice ``part``."""
        if goal_normalized is None:
            return None
        base, ref = getattr(self, f"baseline_{part}"), getattr(self, f"reference_{part}")
        return base + goal_normalized * (ref - base)

    def view(self) -> dict[str, float]:
        """The four scores (what the dashboard and the report plot)."""
        return {k: v for k, v in asdict(self).items() if k != "seconds"}


def content_hash(scaffold: Scaffold) -> str:
    """A hash of everything the anchors depend on besides the secret: the scaffold's files (its
    ``[calibration]`` table aside: rewriting it changes no score), the data library
    (``datasets/``, ``pitfalls.datasets``) and the installed versions of the modelling libraries."""
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
    found = []
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
        found = Anchors(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):  # missing, or a torn/foreign file: measure again
        return None
    _memo[path] = found
    return found


def anchors(scaffold: Scaffold, *, say: Callable[[str], None] | None = None) -> Anchors:
    """This installation's anchors for ``scaffold``: cached, or measured now (and cached).

    Args:
        say: told :data:`PREPARING` before a measurement starts (the caller's user waits for it).

    Raises:
        PitfallsError: the starter or the reference does not score on this installation's data.
    """
    found = cached_anchors(scaffold)
    if found is not None:
        return found
    path = anchors_path(scaffold)
    with _locked(path):  # a second process waits for the first's measurement, then reads it
        found = cached_anchors(scaffold)
        if found is not None:
            return found
        if say is not None:
            say(PREPARING)
        try:
            found = measure(scaffold)
        except PitfallsError:  # a time limit hit on a machine busy for a moment: one more try
            found = measure(scaffold)
        try:
            _write(path, found)
        except OSError:  # a full or read-only state folder: keep them for this process only
            pass
    _memo[path] = found
    return found


def measure(scaffold: Scaffold) -> Anchors:
    """Train and score the untouched starter and the reference on ``scaffold``'s data (its secret).

    Raises:
        PitfallsError: either does not score.
    """
    global runs
    from pitfalls.library.variants import materialize
    from pitfalls.scoring.pipeline import evaluate

    runs += 1
    start, scores = time.monotonic(), {}
    for kind, reference in (("baseline", False), ("reference", True)):
        with tempfile.TemporaryDirectory(prefix="pitfalls-cal-") as tmp:
            src = materialize(scaffold=scaffold, target=Path(tmp) / "w", reference=reference)
            ev = evaluate(scaffold=scaffold, source=src, enforce_budgets=False)
        if ev.status != "scored":
            raise PitfallsError(f"The {'starter' if kind == 'baseline' else 'reference'} of {scaffold.name} "
                                f"must score to anchor normalized scores. Got {ev.status} instead: {ev.message} "
                                "Try again when the machine is less busy; if it repeats, run "
                                f"`pitfalls check {scaffold.name}`.")
        scores[f"{kind}_public"], scores[f"{kind}_private"] = ev.score_public, ev.score_private
    return Anchors(**scores, seconds=round(time.monotonic() - start, 1))


def _write(path: Path, found: Anchors) -> None:
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
def _locked(path: Path) -> Iterator[None]:
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
    return [measure(scaffold.with_secret(s)) for s in secrets]

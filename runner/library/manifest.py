"""The scaffold manifest (``scaffold.toml``): declarative data, parsed into typed dataclasses.

Every field is documented in ``scaffolds/_template/scaffold.toml``. A malformed manifest raises
:class:`~pitfalls.core.errors.ManifestError` naming the file, the field, what was expected and what
was found.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError

STANDARD_VERSION = 1
FRAMEWORKS = ("sklearn", "torch")
DIFFICULTIES = ("easy", "medium", "hard")
PREDICTIONS = ("label", "proba", "value")
ARTIFACT_SUFFIXES = (".skops", ".safetensors")


@dataclass(frozen=True)
class Task:
    target: str
    """Name of the label column in ``data/train.csv``."""
    prediction: str
    """What ``predict`` returns: ``label`` (N,), ``proba`` (N, n_classes) or ``value`` (N,)."""
    metric: str
    """A metric name from :data:`pitfalls.library.metrics.METRICS`; its direction is fixed there."""
    classes: tuple[int, ...] = ()
    """Class labels, in the column order of ``proba`` predictions (classification only)."""
    direction: str = ""
    """``max`` or ``min``: must agree with the metric (stated so readers need not look it up)."""
    goal_normalized: float | None = None
    """The goal as a share of the starter-to-reference gap on the private slice (0 = the untouched
    starter, 1 = the reference, both on this installation's data; runner/scoring/anchors.py). The absolute
    score it stands for differs per installation: :func:`pitfalls.scoring.anchors.goal_score` derives it."""
    goal: float | None = None
    """Legacy absolute goal (a metric value). Read only: :func:`load_manifest` converts it to
    ``goal_normalized`` with the ``[calibration]`` means; ``pitfalls calibrate --write`` migrates it."""


@dataclass(frozen=True)
class Budgets:
    max_params: int
    """Numbers stored in the model artifact (see README, "What counts as a parameter")."""
    train_seconds: float
    """Wall time of the whole training run, imports included."""
    predict_seconds: float = 30.0
    memory_mb: int = 2048
    max_processes: int = 64
    max_file_mb: int = 64
    max_disk_mb: int = 1024
    """Everything training and prediction may write in their working folder together."""
    max_code_kb: int = 64
    """Total size of the Python files the predictor may load (``workspace.predict_files``)."""
    max_artifact_mb: int = 16


@dataclass(frozen=True)
class Feedback:
    public_fraction: float = 0.5
    """Share of the held-out rows whose score the candidate sees; the rest is private."""
    max_scored: int = 10
    """Scored submissions allowed per window; more are recorded but rejected unscored."""
    window_minutes: float = 10.0


@dataclass(frozen=True)
class Calibration:
    """What ``pitfalls calibrate NAME --write`` measured over ``secrets`` pinned test secrets
    (runner/scoring/anchors.py): private-slice scores of the untouched starter and of the reference.

    These are not the anchors of normalized scores: every installation measures its own
    (:func:`pitfalls.scoring.anchors.anchors`). ``pitfalls check`` re-measures these to prove the scaffold
    behaves the same on every installation's data.
    """

    secrets: int | None = None
    """How many test secrets were measured (``pitfalls check`` measures the same ones)."""
    baseline_mean: float | None = None
    baseline_sd: float | None = None
    """Sample standard deviation over the secrets (0 for a single secret)."""
    reference_mean: float | None = None
    reference_sd: float | None = None
    baseline_public: float | None = None
    """Legacy (one installation's anchors, before per-installation anchors): read as one secret."""
    baseline_private: float | None = None
    reference_public: float | None = None
    reference_private: float | None = None

    @property
    def measured(self) -> bool:
        """Whether the means are known (written by ``calibrate --write`` or read from legacy keys)."""
        return self.baseline_mean is not None and self.reference_mean is not None


@dataclass(frozen=True)
class Check:
    """Settings of ``pitfalls check`` for this scaffold."""

    xfail: dict[str, str] = field(default_factory=dict)
    """Known failures: check name -> reason. A declared failure that passes is reported (strict)."""
    min_gap: float | None = None
    """How far (metric units) the starter must trail the reference; default 5% of the larger score."""


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    difficulty: str
    framework: str
    summary: str
    task: Task
    budgets: Budgets
    dataset_seed: int
    artifact_path: str
    predict_files: tuple[str, ...]
    bugs: tuple[str, ...]
    quirks: tuple[str, ...]
    hints: tuple[str, ...]
    feedback: Feedback = field(default_factory=Feedback)
    calibration: Calibration = field(default_factory=Calibration)
    check: Check = field(default_factory=Check)
    path: Path = Path(".")

    @property
    def artifact_format(self) -> str:
        """``skops`` or ``safetensors``, from the artifact path's suffix."""
        return Path(self.artifact_path).suffix.lstrip(".")


def _expect(data: dict, key: str, kind: type | tuple, path: Path, section: str = "",
            default: Any = ..., describe: str = "") -> Any:
    name = f"{section}.{key}" if section else key
    if key not in data:
        if default is ...:
            raise ManifestError(path=str(path), field=name, expected=describe or _kind(kind),
                                got="nothing (the field is missing)", hint=f"Add `{key} = ...`.")
        return default
    value = data[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ManifestError(path=str(path), field=name, expected=describe or _kind(kind),
                            got=f"{value!r} ({type(value).__name__})")
    return value


def _kind(kind: type | tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list",
             dict: "a table", (int, float): "a number"}
    return names.get(kind, str(kind))


def _choice(value: str, choices: tuple[str, ...], path: Path, name: str) -> str:
    if value not in choices:
        raise ManifestError(path=str(path), field=name, expected=f"one of {list(choices)}",
                            got=repr(value))
    return value


def _table(cls: type, data: dict, path: Path, section: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        raise ManifestError(path=str(path), field=f"{section}.{unknown[0]}",
                            expected=f"one of {sorted(known)}", got=repr(unknown[0]),
                            hint=(f"Did you mean {close[0]!r}? " if close else "")
                            + "Check the spelling against scaffolds/_template/scaffold.toml.")
    kwargs = {}
    for f in fields(cls):
        kind = {"float": (int, float), "float | None": (int, float), "int": int, "int | None": int,
                "str": str}.get(f.type)
        if f.name in data and kind is not None:
            kwargs[f.name] = _expect(data, f.name, kind, path, section)
        elif f.name in data:
            kwargs[f.name] = data[f.name]
    try:
        return cls(**kwargs)
    except TypeError:
        missing = [f.name for f in fields(cls) if f.name not in data]
        raise ManifestError(path=str(path), field=f"{section}.{missing[0]}", expected="a value",
                            got="nothing (the field is missing)") from None


TOP_LEVEL = {"standard_version", "name", "title", "difficulty", "framework", "summary", "bugs",
             "quirks", "hints", "task", "budgets", "dataset", "artifact", "workspace", "feedback",
             "calibration", "check"}


def load_manifest(path: Path) -> Manifest:
    """Parse and validate ``scaffold.toml``.

    Args:
        path: the manifest file.

    Raises:
        ManifestError: naming the file and field, what was expected and what was found.
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(path=str(path), field="(file)", expected="a scaffold.toml file",
                            got="no such file", hint="Copy scaffolds/_template/scaffold.toml.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(path=str(path), field="(syntax)", expected="valid TOML",
                            got=str(exc)) from None
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(TOP_LEVEL), n=1)
        raise ManifestError(path=str(path), field=unknown[0], expected=f"one of {sorted(TOP_LEVEL)}",
                            got=repr(unknown[0]), hint=(f"Did you mean {close[0]!r}? " if close else "")
                            + "Check the spelling against scaffolds/_template/scaffold.toml.")
    version = _expect(data, "standard_version", int, path)
    if version != STANDARD_VERSION:
        raise ManifestError(path=str(path), field="standard_version", expected=str(STANDARD_VERSION),
                            got=repr(version))
    return _build(data, path)


def _build(data: dict, path: Path) -> Manifest:
    from pitfalls.library.metrics import METRICS  # local: scoring imports nothing from here

    task_d = _expect(data, "task", dict, path)
    task = _table(Task, task_d, path, "task")
    _choice(task.prediction, PREDICTIONS, path, "task.prediction")
    _choice(task.metric, tuple(METRICS), path, "task.metric")
    if task.prediction not in METRICS[task.metric].predictions:
        raise ManifestError(path=str(path), field="task.prediction",
                            expected=f"one of {list(METRICS[task.metric].predictions)} for metric "
                                     f"{task.metric!r}", got=repr(task.prediction))
    direction = "max" if METRICS[task.metric].higher_is_better else "min"
    if task.direction and task.direction != direction:
        raise ManifestError(path=str(path), field="task.direction",
                            expected=f"{direction!r} for metric {task.metric!r}", got=repr(task.direction))
    calibration = _calibration(_table(Calibration, _expect(data, "calibration", dict, path, default={}),
                                      path, "calibration"), path)
    task = Task(target=task.target, prediction=task.prediction, metric=task.metric,
                classes=tuple(task_d.get("classes", ())), direction=direction, goal=task.goal,
                goal_normalized=_goal_normalized(task, calibration, path))
    if task.prediction != "value" and len(task.classes) < 2:
        raise ManifestError(path=str(path), field="task.classes", expected="at least two class labels",
                            got=repr(list(task.classes)))
    dataset = _expect(data, "dataset", dict, path)
    artifact = _expect(data, "artifact", dict, path)
    artifact_path = _expect(artifact, "path", str, path, "artifact")
    if Path(artifact_path).suffix not in ARTIFACT_SUFFIXES:
        raise ManifestError(path=str(path), field="artifact.path",
                            expected=f"a path ending in one of {list(ARTIFACT_SUFFIXES)}",
                            got=repr(artifact_path), hint="Pickle files are not accepted.")
    workspace = _expect(data, "workspace", dict, path, default={})
    strings = lambda key, d=data: tuple(_expect(d, key, list, path, default=[]))  # noqa: E731
    return Manifest(
        name=_expect(data, "name", str, path), title=_expect(data, "title", str, path),
        difficulty=_choice(_expect(data, "difficulty", str, path), DIFFICULTIES, path, "difficulty"),
        framework=_choice(_expect(data, "framework", str, path), FRAMEWORKS, path, "framework"),
        summary=_expect(data, "summary", str, path), task=task,
        budgets=_table(Budgets, _expect(data, "budgets", dict, path), path, "budgets"),
        dataset_seed=_expect(dataset, "seed", int, path, "dataset"), artifact_path=artifact_path,
        predict_files=tuple(workspace.get("predict_files", ["model.py"])),
        bugs=strings("bugs"), quirks=strings("quirks"), hints=strings("hints"),
        feedback=_table(Feedback, _expect(data, "feedback", dict, path, default={}), path, "feedback"),
        calibration=calibration,
        check=_check_table(_expect(data, "check", dict, path, default={}), path),
        path=path.parent,
    )


LEGACY_CALIBRATION = ("baseline_public", "baseline_private", "reference_public", "reference_private")


def _calibration(cal: Calibration, path: Path) -> Calibration:
    """Validate ``[calibration]``; legacy single-installation values become a one-secret measurement."""
    legacy = [k for k in LEGACY_CALIBRATION if getattr(cal, k) is not None]
    new = [k for k in ("secrets", "baseline_mean", "baseline_sd", "reference_mean", "reference_sd")
           if getattr(cal, k) is not None]
    if legacy and new:
        raise ManifestError(path=str(path), field=f"calibration.{legacy[0]}",
                            expected="either the measured keys (secrets, *_mean, *_sd) or the legacy "
                                     "four (baseline_public, ...), not both", got=f"{legacy + new}",
                            hint="Run `pitfalls calibrate NAME --write` to rewrite the table.")
    if cal.secrets is not None and cal.secrets < 1:
        raise ManifestError(path=str(path), field="calibration.secrets", expected="an integer >= 1",
                            got=repr(cal.secrets))
    for key in ("baseline_sd", "reference_sd"):
        if getattr(cal, key) is not None and getattr(cal, key) < 0:
            raise ManifestError(path=str(path), field=f"calibration.{key}", expected="a number >= 0",
                                got=repr(getattr(cal, key)))
    if legacy and cal.baseline_private is not None and cal.reference_private is not None:
        return Calibration(secrets=1, baseline_mean=float(cal.baseline_private), baseline_sd=0.0,
                           reference_mean=float(cal.reference_private), reference_sd=0.0)
    return cal


def _goal_normalized(task: Task, cal: Calibration, path: Path) -> float | None:
    """``task.goal_normalized``, or the legacy absolute ``task.goal`` converted with the means."""
    if task.goal is not None and task.goal_normalized is not None:
        raise ManifestError(path=str(path), field="task.goal", expected="either goal_normalized or the "
                            "legacy absolute goal, not both", got=f"goal = {task.goal!r}",
                            hint="Delete `goal`; goal_normalized is what the runner uses.")
    if task.goal_normalized is not None:
        if not 0 < task.goal_normalized <= 1:
            raise ManifestError(path=str(path), field="task.goal_normalized",
                                expected="a number in (0, 1] (a share of the starter-to-reference gap)",
                                got=repr(task.goal_normalized))
        return float(task.goal_normalized)
    if task.goal is None or not cal.measured or cal.reference_mean == cal.baseline_mean:
        return None
    return (task.goal - cal.baseline_mean) / (cal.reference_mean - cal.baseline_mean)


def _check_table(data: dict, path: Path) -> Check:
    unknown = sorted(set(data) - {"xfail", "min_gap"})
    if unknown:
        raise ManifestError(path=str(path), field=f"check.{unknown[0]}",
                            expected="one of ['min_gap', 'xfail']", got=repr(unknown[0]))
    min_gap = _expect(data, "min_gap", (int, float), path, "check", default=None)
    xfail = _expect(data, "xfail", dict, path, "check", default={})
    for name, reason in xfail.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ManifestError(path=str(path), field=f"check.xfail.{name}",
                                expected="a non-empty reason string", got=repr(reason),
                                hint='Write `check_name = "why it is expected to fail"`.')
    return Check(xfail=dict(xfail), min_gap=None if min_gap is None else float(min_gap))


def write_calibration(path: Path, values: dict[str, float | int | None],
                      goal_normalized: float | None = None) -> None:
    """Replace (or append) the ``[calibration]`` table of a manifest, keeping everything else; with
    ``goal_normalized``, a legacy absolute ``goal = ...`` line under [task] becomes ``goal_normalized``."""
    text = path.read_text()
    if goal_normalized is not None:
        text = re.sub(r"(?m)^goal = [-+0-9.eE]+", f"goal_normalized = {goal_normalized:.2f}", text, count=1)
    start = text.find("\n[calibration]")
    if start != -1:
        end = text.find("\n[", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    block = ("\n[calibration]\n# written by `pitfalls calibrate NAME --write`: private-slice scores of the "
             "starter (baseline)\n# and the reference over `secrets` pinned test secrets; each "
             "installation measures its own anchors\n") + "".join(
        f"{k} = {v!r}\n" for k, v in values.items() if v is not None)
    path.write_text(text.rstrip("\n") + "\n" + block)

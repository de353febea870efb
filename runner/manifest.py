"""The scaffold manifest (``scaffold.toml``): declarative data, parsed into typed dataclasses.

Every field is documented in ``scaffolds/_template/scaffold.toml``. A malformed manifest raises
:class:`~pitfalls.errors.ManifestError` naming the file, the field, what was expected and what
was found.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ManifestError

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
    """A metric name from :data:`pitfalls.scoring.METRICS`; its direction is fixed there."""
    classes: tuple[int, ...] = ()
    """Class labels, in the column order of ``proba`` predictions (classification only)."""
    direction: str = ""
    """``max`` or ``min``: must agree with the metric (stated so readers need not look it up)."""
    goal: float | None = None
    """The held-out score a good solution reaches; ``pitfalls check`` requires the reference to."""


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
    """Scores of the untouched starter (0) and the reference solution (1), per slice."""

    baseline_public: float | None = None
    baseline_private: float | None = None
    reference_public: float | None = None
    reference_private: float | None = None


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
        kind = {"float": (int, float), "float | None": (int, float), "int": int, "str": str}.get(f.type)
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
    from .scoring import METRICS  # local: scoring imports nothing from here

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
    task = Task(target=task.target, prediction=task.prediction, metric=task.metric,
                classes=tuple(task_d.get("classes", ())), direction=direction, goal=task.goal)
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
        calibration=_table(Calibration, _expect(data, "calibration", dict, path, default={}), path,
                           "calibration"),
        check=_check_table(_expect(data, "check", dict, path, default={}), path),
        path=path.parent,
    )


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


def write_calibration(path: Path, values: dict[str, float | None]) -> None:
    """Replace (or append) the ``[calibration]`` table of a manifest, keeping everything else."""
    text = path.read_text()
    start = text.find("\n[calibration]")
    if start != -1:
        end = text.find("\n[", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    block = "\n[calibration]\n# written by `pitfalls calibrate NAME --write`\n" + "".join(
        f"{k} = {v!r}\n" for k, v in values.items() if v is not None)
    path.write_text(text.rstrip("\n") + "\n" + block)

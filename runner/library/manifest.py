"""The scaffold's declarative data: ``scaffold.toml`` parsed into a :class:`Manifest`, and
``mutants.toml`` into edits.

The keys of every table are declared once, in :mod:`pitfalls.library.schema`, and documented in
``scaffolds/STANDARD.md``. A malformed file raises :class:`~pitfalls.core.errors.ManifestError`
naming the file, the field, what was expected and what was found (an unknown key: the closest
known one).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError
from pitfalls.library.reasoning import parse_rubric, validation_regex
from pitfalls.library.schema import (
    ArtifactTable,
    Budgets,
    Calibration,
    Check,
    DatasetTable,
    Feedback,
    MutantEdit,
    RubricCriterion,
    ScaffoldToml,
    Task,
    WorkspaceTable,
    check_keys,
    expect,
    parse_table,
    reject_unknown,
    strings,
)
from pitfalls.library.variant_spec import VariantSpec, parse_variants
from pitfalls.library.wording import parse_wording

__all__ = ["Budgets", "Calibration", "Check", "Feedback", "Manifest", "Task", "load_manifest",
           "load_mutants", "load_starter_edits", "write_calibration"]

STANDARD_VERSION = 1
FRAMEWORKS = ("sklearn", "torch")
DIFFICULTIES = ("easy", "medium", "hard")
PREDICTIONS = ("label", "proba", "value", "ranking", "sequence")  # metrics_ranking.py, metrics_sequence.py
ARTIFACT_SUFFIXES = (".skops", ".safetensors")


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
    quirk_bugs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Quirk id to the planted bugs whose fix shows the quirk was handled (the reveal's found/missed)."""
    rubric: tuple[RubricCriterion, ...] = ()
    """The interviewer's rubric: criteria with their rating levels (runner/library/reasoning.py)."""
    variants: VariantSpec | None = None
    """``[variants]``: what differs between candidates (runner/library/variant_spec.py); None: nothing."""
    wording: dict[str, dict[str, str]] = field(default_factory=dict)
    """``[wording.BUG_ID]``: this scaffold's texts for a bug kind, over the catalog's (runner/library/wording.py)."""

    @property
    def artifact_format(self) -> str:
        """``skops`` or ``safetensors``, from the artifact path's suffix."""
        return Path(self.artifact_path).suffix.lstrip(".")


def load_manifest(path: Path) -> Manifest:
    """Parse and validate ``scaffold.toml``.

    Args:
        path: the manifest file.

    Raises:
        ManifestError: naming the file and field, what was expected and what was found.
    """
    data = _read_toml(path, "a scaffold.toml file", "Copy scaffolds/_template/scaffold.toml.")
    check_keys(data, ScaffoldToml, path=path, where="", label="the top level of scaffold.toml")
    version = expect(data, "standard_version", int, path)
    if version != STANDARD_VERSION:
        raise ManifestError(path=str(path), field="standard_version", expected=str(STANDARD_VERSION),
                            got=repr(version))
    return _build(data, path)


def _read_toml(path: Path, what: str, hint: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(path=str(path), field="(file)", expected=what, got="no such file",
                            hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(path=str(path), field="(syntax)", expected="valid TOML", got=str(exc)) from None


def _build(data: dict, path: Path) -> Manifest:
    calibration = _calibration(parse_table(Calibration, expect(data, "calibration", dict, path, default={}),
                                           path, "calibration"), path)
    dataset = parse_table(DatasetTable, expect(data, "dataset", dict, path), path, "dataset")
    artifact = parse_table(ArtifactTable, expect(data, "artifact", dict, path), path, "artifact")
    if Path(artifact.path).suffix not in ARTIFACT_SUFFIXES:
        raise ManifestError(path=str(path), field="artifact.path",
                            expected=f"a path ending in one of {list(ARTIFACT_SUFFIXES)}",
                            got=repr(artifact.path), hint="Pickle files are not accepted.")
    workspace = parse_table(WorkspaceTable, expect(data, "workspace", dict, path, default={}), path, "workspace")
    if not workspace.predict_files:
        raise ManifestError(path=str(path), field="workspace.predict_files", expected="at least one file "
                            "(the first defines load_model and predict)", got="[]")
    return Manifest(
        name=expect(data, "name", str, path), title=expect(data, "title", str, path),
        difficulty=_choice(expect(data, "difficulty", str, path), DIFFICULTIES, path, "difficulty"),
        framework=_choice(expect(data, "framework", str, path), FRAMEWORKS, path, "framework"),
        summary=expect(data, "summary", str, path), task=_task(data, calibration, path),
        budgets=parse_table(Budgets, expect(data, "budgets", dict, path), path, "budgets"),
        dataset_seed=dataset.seed, artifact_path=artifact.path, predict_files=workspace.predict_files,
        bugs=strings(data, "bugs", path), quirks=strings(data, "quirks", path),
        hints=strings(data, "hints", path),
        feedback=parse_table(Feedback, expect(data, "feedback", dict, path, default={}), path, "feedback"),
        calibration=calibration,
        check=_check_table(expect(data, "check", dict, path, default={}), path),
        path=path.parent, quirk_bugs=_quirk_bugs(data, path), rubric=parse_rubric(data, path),
        variants=parse_variants(data, path, strings(data, "bugs", path)),
        wording=parse_wording(data, path, strings(data, "bugs", path)),
    )


def _quirk_bugs(data: dict, path: Path) -> dict[str, tuple[str, ...]]:
    """``quirk_bugs``: each key one of ``quirks``, each value a list of ids from ``bugs``."""
    table = expect(data, "quirk_bugs", dict, path, default={})
    quirks, bugs = strings(data, "quirks", path), strings(data, "bugs", path)
    out = {}
    for quirk in table:
        if quirk not in quirks:
            raise ManifestError(path=str(path), field=f"quirk_bugs.{quirk}", expected=f"one of quirks {list(quirks)}",
                                got=repr(quirk), hint="Add the quirk to `quirks` or remove its line.")
        out[quirk] = strings(table, quirk, path, "quirk_bugs")
        unknown = [b for b in out[quirk] if b not in bugs]
        if unknown:
            raise ManifestError(path=str(path), field=f"quirk_bugs.{quirk}", expected=f"ids from bugs {list(bugs)}",
                                got=repr(unknown[0]), hint="List only bugs this scaffold plants.")
    return out


def _task(data: dict, calibration: Calibration, path: Path) -> Task:
    """``[task]``: metric and prediction kind known and compatible, direction derived, goal normalized."""
    from pitfalls.library.metrics import METRICS  # on use: the metric functions need numpy

    task = parse_table(Task, expect(data, "task", dict, path), path, "task")
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
    validation_regex(task.validation_pattern, path=path)
    if task.prediction in ("label", "proba", "sequence") and len(task.classes) < 2:
        raise ManifestError(path=str(path), field="task.classes", expected="at least two class labels"
                            + (" (the padding id first, then the tokens)" if task.prediction == "sequence" else ""),
                            got=repr(list(task.classes)))
    return dataclasses.replace(task, direction=direction,
                               goal_normalized=_goal_normalized(task, calibration, path))


def _choice(value: str, choices: tuple[str, ...], path: Path, name: str) -> str:
    if value not in choices:
        raise ManifestError(path=str(path), field=name, expected=f"one of {list(choices)}",
                            got=repr(value))
    return value


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
                                expected="a number in (0, 1] (a normalized score: starter 0, reference 1)",
                                got=repr(task.goal_normalized))
        return float(task.goal_normalized)
    if task.goal is None or not cal.measured or cal.reference_mean == cal.baseline_mean:
        return None
    from pitfalls.library.scale import normalize  # on use: numpy

    return normalize(task.goal, baseline=cal.baseline_mean, reference=cal.reference_mean, metric=task.metric,
                     rows=None)


def _check_table(data: dict, path: Path) -> Check:
    check = parse_table(Check, data, path, "check")
    xfail = expect(data, "xfail", dict, path, "check", default={})
    for name, reason in xfail.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ManifestError(path=str(path), field=f"check.xfail.{name}",
                                expected="a non-empty reason string", got=repr(reason),
                                hint='Write `check_name = "why it is expected to fail"`.')
    return Check(xfail=dict(xfail), min_gap=None if check.min_gap is None else float(check.min_gap))


STARTER_EDITS = "starter"
"""The reserved table of ``mutants.toml`` holding the starter's deliberate non-bug differences from the
reference (``[[starter]]``); no planted bug may carry this id."""


def load_mutants(path: Path, bugs: tuple[str, ...]) -> dict[str, list[MutantEdit]]:
    """Parse ``mutants.toml``: for each planted bug id, the edits that put it back into solution/.

    A missing file is an empty table (``files_present`` requires it when ``bugs`` is not empty). The
    reserved ``[[starter]]`` table is validated too but left out (:func:`load_starter_edits`).

    Args:
        bugs: the manifest's bug ids, the only table names allowed besides ``starter``.

    Raises:
        ManifestError: a table that is not a planted bug id (with the closest one), a table that is
            not an array of tables (``[[bug_id]]``), an edit with an unknown, missing or non-string
            key, or a planted bug named ``starter``.
    """
    return {k: v for k, v in _mutant_tables(path, bugs).items() if k != STARTER_EDITS}


def load_starter_edits(path: Path, bugs: tuple[str, ...]) -> list[MutantEdit]:
    """The ``[[starter]]`` edits of ``mutants.toml`` (applied after every bug's edits, they turn the
    reference into the starter: differences that are no planted bug); [] without them.

    Raises:
        ManifestError: as :func:`load_mutants`.
    """
    return _mutant_tables(path, bugs).get(STARTER_EDITS, [])


def _mutant_tables(path: Path, bugs: tuple[str, ...]) -> dict[str, list[MutantEdit]]:
    if STARTER_EDITS in bugs:
        raise ManifestError(path=str(path.parent / "scaffold.toml"), field="bugs",
                            expected=f"bug ids other than {STARTER_EDITS!r} (mutants.toml's reserved "
                                     "[[starter]] table)", got=repr(STARTER_EDITS),
                            hint="Give the bug kind another id.")
    if not path.exists():
        return {}
    data = _read_toml(path, "a mutants.toml file", "Copy scaffolds/_template/mutants.toml.")
    label = "mutants.toml (the bug ids of scaffold.toml's `bugs`) or [[starter]]"
    reject_unknown(data, [*bugs, STARTER_EDITS], path=path, where="", label=label)
    out: dict[str, list[MutantEdit]] = {}
    for bug, edits in data.items():
        if not isinstance(edits, list) or not all(isinstance(e, dict) for e in edits):
            raise ManifestError(path=str(path), field=bug, expected=f"an array of tables ([[{bug}]] "
                                "entries, each with file, old and new)", got=f"{type(edits).__name__}",
                                hint=f"Write `[[{bug}]]` (two brackets) above each edit.")
        out[bug] = [parse_table(MutantEdit, e, path, f"{bug}[{i}]", label=f"a [[{bug}]] edit")
                    for i, e in enumerate(edits)]
    return out


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

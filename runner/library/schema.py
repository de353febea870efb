"""Every table a scaffold author writes, declared once: one dataclass per table, one field per key.

``scaffold.toml``, ``mutants.toml`` and the catalog entries (``bugs/catalog/*.toml``,
``datasets/catalog/*.toml``) are parsed against these declarations: a key that is not a field is
an error with a did-you-mean, a field without a default is required. ``scaffolds/STANDARD.md``
documents the same fields (MUST for a field without a default, MAY with its default), and
``tests/unit/test_library_manifest.py`` keeps the document and these declarations equal.
"""

from __future__ import annotations

import difflib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError

STANDARD = "scaffolds/STANDARD.md"


# -- scaffold.toml ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaffoldToml:
    """The top level of ``scaffold.toml``: scalars, id lists, and the tables below."""

    standard_version: int
    name: str
    title: str
    difficulty: str
    framework: str
    summary: str
    task: dict
    budgets: dict
    dataset: dict
    artifact: dict
    bugs: tuple[str, ...] = ()
    quirks: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    workspace: dict = field(default_factory=dict)
    feedback: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    check: dict = field(default_factory=dict)
    quirk_bugs: dict = field(default_factory=dict)
    rubric: tuple[dict, ...] = ()
    variants: dict = field(default_factory=dict)
    wording: dict = field(default_factory=dict)


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
    """The goal as a normalized score on the private slice (runner/library/scale.py: 0 = the untouched
    starter, 1 = the reference, both on this installation's data; runner/scoring/anchors.py). The
    absolute score it stands for differs per installation: :func:`pitfalls.scoring.anchors.goal_score`
    derives it."""
    goal: float | None = None
    """Legacy absolute goal (a metric value). Read only: :func:`load_manifest` converts it to
    ``goal_normalized`` with the ``[calibration]`` means; ``pitfalls calibrate --write`` migrates it."""
    validation_pattern: str = ""
    """How train.py reports the candidate's own validation score: a regular expression with one
    capturing group (the number), matched per line of the training log; the last match counts
    (runner/library/reasoning.py). Empty: the dashboard shows "not reported"."""


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
class DatasetTable:
    seed: int
    """Public; ``make_dataset`` gets a 128-bit hash of it and the installation's data secret."""


@dataclass(frozen=True)
class ArtifactTable:
    path: str
    """What train.py saves, relative to the workspace: ``.skops`` or ``.safetensors``."""


@dataclass(frozen=True)
class WorkspaceTable:
    predict_files: tuple[str, ...] = ("model.py",)
    """Files the predictor may load; the first defines ``load_model`` and ``predict``."""


@dataclass(frozen=True)
class Feedback:
    public_fraction: float = 0.5
    """Share of the held-out rows whose score the candidate sees; the rest is private."""
    max_scored: int = 10
    """Scored submissions allowed per window; more are recorded but rejected unscored."""
    window_minutes: float = 10.0

    @property
    def max_preflights(self) -> int:
        """Preflights allowed per window: a quarter of ``max_scored``, at least 1 (a preflight trains
        like a submission, so it must not become a free training farm)."""
        return max(1, self.max_scored // 4)


@dataclass(frozen=True)
class Calibration:
    """What ``pitfalls calibrate NAME --write`` measured over ``secrets`` pinned test secrets
    (runner/scoring/anchors.py): private-slice scores of the untouched starter and of the reference.

    These are not the anchors of normalized scores: every installation measures its own
    (:func:`pitfalls.scoring.anchors.anchors`). ``pitfalls check`` re-measures these to prove the
    scaffold behaves the same on every installation's data.
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
class RubricCriterion:
    """One ``[[rubric]]`` entry of ``scaffold.toml``: a criterion the interviewer rates."""

    criterion: str
    """Its id: a lowercase identifier, unique in the scaffold, stored in ``rubric_rated`` events."""
    title: str
    """What is rated, in a few words."""
    levels: tuple[str, ...]
    """The evidence for each rating, lowest first: rating N is ``levels[N-1]``; at least two."""


@dataclass(frozen=True)
class VariantsTable:
    """``[variants]``: what may differ between the workspaces of two candidates
    (runner/library/variant_spec.py). Without the table every session gets the shipped scaffold."""

    count: int = 0
    """How many variants exist (ids ``v1`` .. ``vN``); 0: open-ended (ids drawn from v1 .. v99999)."""
    columns: dict = field(default_factory=dict)
    """Column -> list of interchangeable names; a variant renames the column to one of them, in the
    data and in every quoted occurrence in the workspace, solution, mutants, probes and brief."""
    shuffle_columns: bool = False
    """Whether a variant shuffles the column order of data/train.csv and the held-out frame."""
    constants: dict = field(default_factory=dict)
    """NAME -> list of allowed numbers: the ``NAME = value`` lines of the workspace and solution."""
    bug_pool: tuple[str, ...] = ()
    """Interchangeable ids from ``bugs``: a variant plants ``plant`` of them (the others always)."""
    plant: int = 0
    """How many of ``bug_pool`` a variant plants; 0: all of them."""
    check_variants: int = 5
    """How many variants ``variants_equally_hard`` measures (at least 5)."""
    tolerance: float = 0.25
    """How far (normalized: starter 0, reference 1) a variant's starter and reference may sit from the
    shipped scaffold's on the same data."""


@dataclass(frozen=True)
class Wording:
    """One ``[wording.BUG_ID]`` table of ``scaffold.toml``: this scaffold's own words for a planted bug
    kind it shares with other scaffolds; each key given replaces the catalog entry's text for this
    scaffold wherever it is shown (the reveal, the dashboard, the report)."""

    title: str | None = None
    description: str | None = None
    symptom: str | None = None
    why: str | None = None
    probe: str | None = None


# -- mutants.toml and the catalogs -------------------------------------------------------------
@dataclass(frozen=True)
class MutantEdit:
    """One ``[[bug_id]]`` entry of ``mutants.toml``: replace ``old`` by ``new`` in ``file``."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class BugEntry:
    """One ``[bug_id]`` table of ``bugs/catalog/*.toml``."""

    ref: str
    category: str
    framework: str
    title: str
    description: str
    symptom: str
    why: str
    probe: str
    silent_on: tuple[str, ...] = ()
    """Metrics this bug cannot move by nature: ``bug_bites`` then relies on its probe."""


@dataclass(frozen=True)
class QuirkEntry:
    """One ``[quirk_id]`` table of ``datasets/catalog/*.toml``."""

    ref: str
    title: str
    description: str
    detect: str
    handle: str


TABLES: dict[str, dict[str, type]] = {
    "scaffold.toml": {"": ScaffoldToml, "task": Task, "budgets": Budgets, "dataset": DatasetTable,
                      "artifact": ArtifactTable, "workspace": WorkspaceTable, "feedback": Feedback,
                      "calibration": Calibration, "check": Check, "[[rubric]]": RubricCriterion,
                      "variants": VariantsTable, "wording.bug_id": Wording},
    "mutants.toml": {"[[bug_id]]": MutantEdit, "[[starter]]": MutantEdit},
    "bugs/catalog/*.toml": {"[bug_id]": BugEntry},
    "datasets/catalog/*.toml": {"[quirk_id]": QuirkEntry},
}
"""Every table of every file an author writes: file -> table name ("" is the top level) -> fields."""


# -- parsing -------------------------------------------------------------------------------------
def keys(cls: type) -> list[str]:
    """The keys a table declared by ``cls`` may hold, in declaration order."""
    return [f.name for f in fields(cls)]


def required(cls: type) -> list[str]:
    """The keys a table declared by ``cls`` must hold (fields without a default)."""
    return [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]


def check_keys(data: dict, cls: type, *, path: Path | str, where: str, label: str) -> None:
    """Refuse a key of ``data`` that ``cls`` does not declare, and a required key it lacks.

    Args:
        where: the table's address in the file, prefixed to a key in the error (``task``, or ``""``
            for the top level).
        label: how the error names the table (``[task]``, ``the top level of scaffold.toml``).

    Raises:
        ManifestError: naming the key, the table, the keys allowed and the closest one.
    """
    reject_unknown(data, keys(cls), path=path, where=where, label=label)
    for key in required(cls):
        if key not in data:
            raise ManifestError(path=str(path), field=f"{where}.{key}" if where else key,
                                expected=f"set ({label} requires it)", got="nothing (the key is missing)",
                                hint=f"Add `{key} = ...` (see {STANDARD}).")


def reject_unknown(data: dict, known: list[str], *, path: Path | str, where: str, label: str) -> None:
    """Refuse the first key of ``data`` not in ``known``, suggesting the closest known key.

    Raises:
        ManifestError: ``where.key must be one of the keys of LABEL: [...]. Got 'key' instead. Did
            you mean 'closest'? Check the spelling against scaffolds/STANDARD.md.``
    """
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise ManifestError(path=str(path), field=f"{where}.{key}" if where else str(key),
                                expected=f"one of the keys of {label}: {sorted(known)}", got=repr(key),
                                hint=(f"Did you mean {close[0]!r}? " if close else "")
                                + f"Check the spelling against {STANDARD}.")


def expect(data: dict, key: str, kind: type | tuple, path: Path | str, section: str = "",
           default: Any = ..., describe: str = "") -> Any:
    """``data[key]`` if it has type ``kind`` (a bool is no number), ``default`` if absent.

    Raises:
        ManifestError: the key is absent without a default, or has another type.
    """
    name = f"{section}.{key}" if section else key
    if key not in data:
        if default is ...:
            raise ManifestError(path=str(path), field=name, expected=describe or _kind(kind),
                                got="nothing (the field is missing)", hint=f"Add `{key} = ...`.")
        return default
    value = data[key]
    ok = not isinstance(value, bool) if kind in (int, float, (int, float)) else True
    if not (ok and isinstance(value, kind)):
        raise ManifestError(path=str(path), field=name, expected=describe or _kind(kind),
                            got=f"{value!r} ({type(value).__name__})")
    return value


def strings(data: dict, key: str, path: Path | str, section: str = "",
            default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``data[key]`` as a tuple of strings (a TOML list of strings), ``default`` if absent."""
    value = expect(data, key, list, path, section, default=list(default), describe="a list of strings")
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise ManifestError(path=str(path), field=f"{section}.{key}" if section else key,
                            expected="a list of strings", got=f"{bad[0]!r} ({type(bad[0]).__name__}) in it")
    return tuple(value)


def _kind(kind: type | tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list",
             dict: "a table", (int, float): "a number"}
    return names.get(kind, str(kind))


SCALARS: dict[str, type | tuple] = {"float": (int, float), "float | None": (int, float), "int": int,
                                    "int | None": int, "str": str, "str | None": str, "dict": dict, "bool": bool}


def parse_table(cls: type, data: dict, path: Path | str, section: str, label: str = "") -> Any:
    """Build ``cls`` from the TOML table ``data``: keys checked, scalars and string lists typed.

    Raises:
        ManifestError: an unknown or missing key, or a value of the wrong type.
    """
    check_keys(data, cls, path=path, where=section, label=label or f"[{section}]")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        if f.type in SCALARS:
            kwargs[f.name] = expect(data, f.name, SCALARS[f.type], path, section)
        elif f.type == "tuple[str, ...]":
            kwargs[f.name] = strings(data, f.name, path, section)
        elif f.type == "tuple[int, ...]":
            kwargs[f.name] = tuple(expect(data, f.name, list, path, section))
        else:
            kwargs[f.name] = data[f.name]
    return cls(**kwargs)

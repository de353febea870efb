"""One evaluation of a workspace: train in a sandbox, count the artifact, predict in a second
sandbox, validate and score in this (trusted) process.

The held-out labels exist only here, in memory; the prediction sandbox receives the held-out
*features* and the candidate's model files, nothing else.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pitfalls.budget.artifacts import ArtifactError, count_params
from pitfalls.budget.code_count import CODE, CodeCount, count_code, free_code
from pitfalls.budget.types import ParamCount
from pitfalls.core.results import Status, Violation
from pitfalls.fs.jobfiles import regular_file
from pitfalls.fs.predictions import load_predictions
from pitfalls.library import metrics as scoring
from pitfalls.library.metrics_sequence import prediction_width
from pitfalls.library.scaffold import Scaffold
from pitfalls.sandbox.bwrap import Mount, RunResult, Sandboxed, run_sandboxed, sandbox_uid
from pitfalls.sched import Held, Ticket, Waiting
from pitfalls.scoring import intervals, verdicts
from pitfalls.scoring.anchor_cache import cached_anchors
from pitfalls.scoring.jobs import held_job, limits_for
from pitfalls.scoring.predictor import go_when_warm, stage_model, start_predictor
from pitfalls.scoring.verdicts import Stop

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Evaluation:
    """Raw outcome of one evaluation (no database, no presentation)."""

    status: Status
    message: str
    violations: list[Violation] = field(default_factory=list)
    score_public: float | None = None
    score_private: float | None = None
    score_interval: tuple[float, float] | None = None
    """95% bootstrap interval of the public score (runner/scoring/intervals.py); None when not scored."""
    params: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    log_tail: str = ""

    def ended(self, stop: Stop) -> Evaluation:
        """This evaluation, ended by ``stop``: the one place a rejection or failure is written."""
        self.status, self.message, self.violations = stop.status, stop.message, list(stop.violations)
        return self


def train(*, scaffold: Scaffold, work: Path, job: Path, seed: int, uid: int, held: Held | None = None) -> RunResult:
    """Run ``python train.py`` in the workspace copy ``work``, inside a sandbox (pinned to
    ``held``'s CPUs, with thread settings to match, when given)."""
    b = scaffold.manifest.budgets
    return run_sandboxed(argv=[sys.executable, "-u", "train.py"],
                         mounts=[Mount(work, "/workspace", writable=True)],
                         limits=limits_for(scaffold, b.train_seconds), cwd="/workspace",
                         env={"SEED": str(seed), "PYTHONPATH": "/workspace"},
                         log_path=job / "train.log", uid=uid, held=held)


def _count_code(*, scaffold: Scaffold, work: Path) -> tuple[CodeCount | None, list[Violation]]:
    """The prediction code's size and its counted literals, identifiers and syntax (code_count.py)."""
    m, b = scaffold.manifest, scaffold.manifest.budgets
    found: list[Violation] = []
    sources: dict[str, bytes] = {}
    code_bytes = 0
    for name in m.predict_files:
        f = regular_file(work, name)
        if f is None:
            found.append(Violation(constraint="predict_files", limit=list(m.predict_files), actual=name,
                                   message=f"The workspace must contain {name} (the prediction code) as a "
                                           "regular file. Got no such file (or a link) instead. Restore it "
                                           "from BRIEF.md's contract."))
            continue
        code_bytes += f.stat().st_size
        if code_bytes <= b.max_code_kb * 1024:  # larger code is never read, only refused
            sources[name] = f.read_bytes()
    if code_bytes > b.max_code_kb * 1024:
        found.append(Violation(constraint="max_code_kb", limit=b.max_code_kb, actual=round(code_bytes / 1024, 1),
                               message=f"Prediction code must be at most {b.max_code_kb} KiB. Got "
                                       f"{code_bytes / 1024:.1f} KiB instead. Keep learned values in "
                                       "the artifact, not in code."))
        return None, found
    try:
        return count_code(sources, free_code(scaffold.root.resolve(), tuple(m.predict_files))), found
    except ArtifactError as exc:
        return None, [*found, Violation(constraint="prediction_code", limit="valid Python",
                                        actual="unusable", message=str(exc))]


def count_artifact(*, scaffold: Scaffold, work: Path) -> tuple[ParamCount | None, CodeCount | None, list[Violation]]:
    """Count the artifact's parameters and the prediction code's size, against the budgets.

    Returns the artifact's count (its breakdown per tensor or attribute, plus the code's share
    under ``(prediction code)``; None when the artifact cannot be counted), the code's count and
    every broken budget (``max_params`` carries the breakdown's largest entries)."""
    m, b = scaffold.manifest, scaffold.manifest.budgets
    artifact = regular_file(work, m.artifact_path)
    parts = Path(m.artifact_path).parts
    if artifact is None and any((work / Path(*parts[:i + 1])).is_symlink() for i in range(len(parts))):
        # a link anywhere on the path (the file, or a folder such as artifacts/) would make this
        # trusted process read, count and hand the predictor a host file
        return None, None, [Violation(constraint="artifact", limit=m.artifact_path, actual="a symlink",
                                      message=f"{m.artifact_path} must be a regular file in a regular folder. Got "
                                              "a link on its path instead. Save the model itself there.")]
    try:
        count = count_params(artifact or work / m.artifact_path, max_mb=b.max_artifact_mb)
    except ArtifactError as exc:
        return None, None, [Violation(constraint="artifact", limit=m.artifact_path, actual="unusable",
                                      message=str(exc))]
    code, found = _count_code(scaffold=scaffold, work=work)
    if code is not None and code.total:
        count.breakdown[CODE] = code.total  # learned values in code literals count like the artifact's
        count.total += code.total
    if count.total > b.max_params:
        found.append(Violation(
            constraint="max_params", limit=b.max_params, actual=count.total, details=count.top(),
            message=f"The model must store at most {b.max_params:,} parameters. Got {count.total:,} "
                    f"instead (largest: {', '.join(f'{k}={v:,}' for k, v in list(count.top(3).items()))}"
                    f"{'; ' + code.summary() if code is not None and code.total else ''}). "
                    "Use a smaller model or fewer features."))
    return count, code, found


def check_artifact(*, scaffold: Scaffold, work: Path, enforce: bool) -> tuple[int | None, list[Violation]]:
    """Count the artifact's parameters and the prediction code's size, against the budgets
    (:func:`count_artifact`); ``enforce=False`` drops the parameter and code-size violations."""
    count, _, found = count_artifact(scaffold=scaffold, work=work)
    if not enforce:
        found = [v for v in found if v.constraint not in ("max_params", "max_code_kb")]
    return (count.total if count is not None else None), found


def _load_predictions(out: Path, n_rows: int, n_cols: int) -> np.ndarray | Violation:
    """``out/predictions.npy`` (every byte the candidate's) as an array, or a verdict for any content."""
    return load_predictions(out, n_rows=n_rows, n_cols=n_cols)


def check_array(scaffold: Scaffold, pred: np.ndarray, *, n_rows: int) -> Violation | None:
    """Whether ``pred`` has the scaffold's prediction form for ``n_rows`` rows (shape, dtype, finite,
    valid labels or probability rows): the one validator scoring and preflight share."""
    m = scaffold.manifest
    return scoring.check_predictions(pred, n_rows=n_rows, prediction=m.task.prediction, classes=m.task.classes)


def score_array(scaffold: Scaffold, pred: np.ndarray) -> tuple[float, float | None] | Violation:
    """Validate ``pred`` and score it on the public and private slices (trusted code only)."""
    m = scaffold.manifest
    labels = scaffold.dataset().heldout[m.task.target].to_numpy()
    bad = check_array(scaffold, pred, n_rows=len(labels))
    if bad:
        return bad
    if pred.ndim == 2 and pred.shape[1] == 1 and m.task.prediction != "proba":
        pred = pred[:, 0]
    # which rows are public follows the secret data seed: the repository alone must not tell
    mask = scoring.public_mask(len(labels), fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    kw = {"metric": m.task.metric, "classes": m.task.classes}
    private = scoring.score(pred[~mask], labels[~mask], **kw) if (~mask).any() else None
    return scoring.score(pred[mask], labels[mask], **kw), private


def score_predictions(*, scaffold: Scaffold, out: Path, ev: Evaluation) -> Stop | None:
    """Load ``out/predictions.npy``, validate it and fill in both slice scores (``ev`` is scored)."""
    m = scaffold.manifest
    pred = _load_predictions(out, len(scaffold.dataset().heldout),
                             prediction_width(m.task.prediction, m.task.classes))
    result = score_array(scaffold, pred) if isinstance(pred, np.ndarray) else pred
    if isinstance(result, Violation):
        return Stop.reject(result)
    ev.score_public, ev.score_private = result
    ev.score_interval = intervals.public_interval(scaffold, pred)
    cal = cached_anchors(scaffold)  # never measured here: measuring runs this very function
    places = scoring.public_decimals(cal.reference_public if cal else None, ev.score_public)
    shown = scoring.format_public(ev.score_public, places)  # the candidate never sees more digits
    ev.status, ev.message = "scored", f"Scored: {m.task.metric} = {shown} on the public slice."
    return None


def evaluate(*, scaffold: Scaffold, source: Path, seed: int = 0, enforce_budgets: bool = True,
             ticket: Ticket | None = None, session_id: str = "", kind: str = "submit",
             on_wait: Callable[[Waiting], None] | None = None) -> Evaluation:
    """Train, count, predict and score the workspace files in ``source`` (not modified).

    This thread's own work runs at the lowest CPU priority (runner/sched/priority.py). The files
    are copied first; then the job waits for a CPU slot of the host-wide scheduler
    (runner/sched/) and every sandbox runs on the slot's CPUs. Time budgets count from the grant:
    ``timings["queued_seconds"]`` is the wait, apart from them.

    Args:
        scaffold: the loaded scaffold.
        source: a workspace folder or an extracted snapshot.
        seed: exported as ``SEED`` to training (for repeated-seed checks).
        enforce_budgets: if False, parameter and code budgets are reported but do not reject
            (used to calibrate an over-budget starter). Time and memory are always enforced.
        ticket: a place queued earlier (``sched.enqueue``, so a full queue is refused before
            anything is stored); withdrawn whatever happens. Default: queue now as ``session_id``
            (default: this process) in lane ``kind``.
        on_wait: told the place in the queue while waiting (see :meth:`pitfalls.sched.Ticket.wait`).

    Raises:
        SchedulerBusy: no ticket was given and the queue is full.
    """
    with held_job(scaffold=scaffold, source=source, name=f"submit {scaffold.name}", ticket=ticket,
                  session_id=session_id, kind=kind, on_wait=on_wait) as slot:
        ev = _run_stages(scaffold=scaffold, work=slot.work, job=slot.job, seed=seed, uid=slot.uid,
                         enforce=enforce_budgets, held=slot.held)
    ev.timings["queued_seconds"] = round(slot.queued, 2)
    return ev


def _run_stages(*, scaffold: Scaffold, work: Path, job: Path, seed: int, uid: int,
                enforce: bool, held: Held | None = None) -> Evaluation:
    """Every stage in order; the first that returns a :class:`Stop` ends the evaluation with it.

    The predictor starts warm next to training and is cancelled if it is not used."""
    b = scaffold.manifest.budgets
    ev = Evaluation(status="failed", message="")
    predictor, out = start_predictor(scaffold=scaffold, job=job, uid=sandbox_uid(),
                                     limits=limits_for(scaffold, b.predict_seconds), held=held)
    try:
        stop = (train_stage(scaffold=scaffold, work=work, job=job, seed=seed, uid=uid, ev=ev, held=held)
                or count_stage(scaffold=scaffold, work=work, enforce=enforce, ev=ev)
                or model_stage(scaffold=scaffold, work=work, job=job))
    except BaseException:
        predictor.cancel()
        raise
    if stop is not None:
        predictor.cancel()
        return ev.ended(stop)
    stop = (predict_stage(scaffold=scaffold, predictor=predictor, out=out, ev=ev)
            or score_predictions(scaffold=scaffold, out=out, ev=ev))
    return ev if stop is None else ev.ended(stop)


def train_stage(*, scaffold: Scaffold, work: Path, job: Path, seed: int, uid: int, ev: Evaluation,
                held: Held | None = None) -> Stop | None:
    """Stage 1: ``python train.py`` in its sandbox, within its time, memory and disk budgets.

    ``train_cpu_seconds``: the slot's CPU time during training (its cpuacct cgroup; absent without
    one), which includes the warm predictor's imports, at minimal weight on the same CPUs."""
    b = scaffold.manifest.budgets
    cpu = held.cpu_seconds() if held is not None else None
    run = train(scaffold=scaffold, work=work, job=job, seed=seed, uid=uid, held=held)
    ev.timings["train_seconds"] = round(run.wall_seconds, 2)
    ev.timings["train_limit_seconds"] = float(b.train_seconds)  # "trained 15.2 s of 60 s"
    after = held.cpu_seconds() if held is not None else None
    if cpu is not None and after is not None:
        ev.timings["train_cpu_seconds"] = round(after - cpu, 2)
    ev.log_tail = run.log_tail
    return verdicts.run_verdict(run, phase="training", job=job, seconds=b.train_seconds, memory_mb=b.memory_mb,
                                max_disk_mb=b.max_disk_mb, what="python train.py")


def count_stage(*, scaffold: Scaffold, work: Path, enforce: bool, ev: Evaluation) -> Stop | None:
    """Stage 2: the artifact's parameters and the prediction code, against the budgets."""
    ev.params, violations = check_artifact(scaffold=scaffold, work=work, enforce=enforce)
    return Stop.reject(*violations) if violations else None


def model_stage(*, scaffold: Scaffold, work: Path, job: Path, features: pd.DataFrame | None = None) -> Stop | None:
    """Stage 3: the counted artifact, re-encoded, and the prediction code handed to the predictor
    (with the held-out features, or ``features`` instead: see :func:`stage_model`)."""
    try:
        stage_model(scaffold=scaffold, work=work, job=job, features=features)
    except OSError as exc:  # training filled the job folder: no room left to stage the model
        violation = verdicts.disk_violation(job, phase="training", max_disk_mb=scaffold.manifest.budgets.max_disk_mb,
                                            log_tail=str(exc))
        if exc.errno != errno.ENOSPC or violation is None:
            raise
        return Stop.reject(violation)
    except ArtifactError as exc:
        return Stop.reject(Violation(constraint="artifact", limit=scaffold.manifest.artifact_path,
                                     actual="unusable", message=str(exc)))
    return None


def predict_stage(*, scaffold: Scaffold, predictor: Sandboxed, out: Path, ev: Evaluation) -> Stop | None:
    """Stage 4: ``predict()`` in the warm sandbox, within its time, memory and disk budgets."""
    b = scaffold.manifest.budgets
    go_when_warm(predictor, out)
    run = predictor.wait()
    ev.timings["predict_seconds"] = round(run.wall_seconds, 2)
    ev.log_tail = (ev.log_tail + "\n--- predict ---\n" + run.log_tail).strip()[-4096:]
    return verdicts.run_verdict(run, phase="prediction", job=out.parent, seconds=b.predict_seconds,
                                memory_mb=b.memory_mb, max_disk_mb=b.max_disk_mb,
                                what=f"predict() in {scaffold.manifest.predict_files[0]}")

"""Preflight: a submission's checks without its score.

The workspace trains exactly as a submission does (the pipeline's own stages: a scheduler slot,
``python train.py`` in the training sandbox within the budgets, the artifact and the prediction
code counted with the same breakdown a rejection shows), then ``predict()`` runs in the
prediction sandbox on a few *training* rows and its output goes through the scoring validator
(shape, dtype, finite values, labels or probability rows summing to 1).

Nothing of the held-out set is read or written: the predictor's data folder holds training rows
only (:func:`preflight_rows`), and no metric is computed. Over the parameter budget, the model is
still handed to the predictor, so one preflight reports budget and format problems together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pitfalls.core.results import Violation
from pitfalls.fs.predictions import load_predictions
from pitfalls.library.metrics_sequence import prediction_width
from pitfalls.library.scaffold import Scaffold
from pitfalls.sandbox.bwrap import sandbox_uid
from pitfalls.sched import Ticket, Waiting
from pitfalls.scoring.jobs import HeldJob, held_job, limits_for
from pitfalls.scoring.pipeline import (
    Evaluation,
    check_array,
    count_artifact,
    model_stage,
    predict_stage,
    train_stage,
)
from pitfalls.scoring.predictor import start_predictor
from pitfalls.scoring.verdicts import Stop

PREFLIGHT_ROWS = 16
"""How many training rows ``predict()`` gets."""
BREAKDOWN_ENTRIES = 12
"""How many of the artifact's largest entries a preflight shows (a rejection shows as many)."""
GO_ON_PAST = frozenset({"max_params"})
"""Broken budgets after which the model is still handed to the predictor. Not ``max_code_kb``:
code over that size is never read by the runner, only refused."""

Outcome = Literal["ready", "problems", "failed", "refused"]


@dataclass
class Preflight:
    """What a preflight found. ``ready``: no budget or format problem and no failure."""

    outcome: Outcome
    message: str
    problems: list[Violation] = field(default_factory=list)
    params: int | None = None
    max_params: int = 0
    breakdown: dict[str, int] = field(default_factory=dict)
    """The artifact's largest entries (per tensor or attribute, ``(prediction code)`` for code)."""
    code: str = ""
    """What the prediction code costs, in words (its costliest literals), when it costs anything."""
    rows: int = 0
    """Training rows ``predict()`` was run on (0 when it was not run)."""
    timings: dict[str, float] = field(default_factory=dict)
    log_tail: str = ""

    @property
    def ready(self) -> bool:
        return self.outcome == "ready"

    def view(self) -> dict[str, Any]:
        """JSON-ready, for the CLI's ``--json`` and ``pitfalls-submit --preflight``."""
        return {**dataclasses.asdict(self), "ready": self.ready}


def preflight_rows(scaffold: Scaffold) -> pd.DataFrame:
    """A few training rows' features (:data:`PREFLIGHT_ROWS`, fixed for the installation), in the
    held-out features' column order (the same as train.csv's); one with a missing value among them
    when the training data has any, since held-out rows may too."""
    m = scaffold.manifest
    features = scaffold.dataset().train.drop(columns=[m.task.target])
    rng = np.random.default_rng(scaffold.data_seed() % 2**32)
    idx = rng.choice(len(features), size=min(PREFLIGHT_ROWS, len(features)), replace=False)
    missing = np.flatnonzero(features.isna().any(axis=1).to_numpy())
    if len(missing) and not np.isin(idx, missing).any():
        idx[-1] = missing[rng.integers(len(missing))]
    return features.iloc[np.sort(idx)].reset_index(drop=True)


def run_preflight(*, scaffold: Scaffold, source: Path, ticket: Ticket | None = None, session_id: str = "",
                  on_wait: Callable[[Waiting], None] | None = None) -> Preflight:
    """Train ``source`` (not modified) as a submission would, count it, run ``predict()`` on a few
    training rows and validate the output; score nothing.

    ``ticket``, ``session_id`` and ``on_wait`` as for :func:`pitfalls.scoring.pipeline.evaluate`
    (lane ``submit``: a candidate waits).

    Raises:
        SchedulerBusy: no ticket was given and the queue is full.
    """
    with held_job(scaffold=scaffold, source=source, name=f"preflight {scaffold.name}", ticket=ticket,
                  session_id=session_id, on_wait=on_wait) as slot:
        result = _stages(scaffold, slot)
    result.timings["queued_seconds"] = round(slot.queued, 2)
    return result


def _stages(scaffold: Scaffold, slot: HeldJob) -> Preflight:
    """The pipeline's stages in its order, with training rows for the held-out features."""
    b = scaffold.manifest.budgets
    ev = Evaluation(status="failed", message="")
    result = Preflight(outcome="failed", message="", max_params=b.max_params)
    rows = preflight_rows(scaffold)
    predictor, out = start_predictor(scaffold=scaffold, job=slot.job, uid=sandbox_uid(),
                                     limits=limits_for(scaffold, b.predict_seconds), held=slot.held)
    try:
        stop = train_stage(scaffold=scaffold, work=slot.work, job=slot.job, seed=0, uid=slot.uid, ev=ev,
                           held=slot.held) or _count(scaffold, slot, result)
        stop = stop or model_stage(scaffold=scaffold, work=slot.work, job=slot.job, features=rows)
    except BaseException:
        predictor.cancel()
        raise
    if stop is None:
        result.rows = len(rows)
        stop = (predict_stage(scaffold=scaffold, predictor=predictor, out=out, ev=ev)
                or _check_output(scaffold, out, len(rows)))
    else:
        predictor.cancel()
    return _finish(result, ev, stop)


def _count(scaffold: Scaffold, slot: HeldJob, result: Preflight) -> Stop | None:
    """Count as the pipeline does; note every problem, and stop only where the predictor could not go on."""
    count, code, problems = count_artifact(scaffold=scaffold, work=slot.work)
    if count is not None:
        result.params, result.breakdown = count.total, count.top(BREAKDOWN_ENTRIES)
    if code is not None and code.total:
        result.code = code.summary()
    result.problems += problems
    blocking = [v for v in problems if v.constraint not in GO_ON_PAST]
    return Stop.reject(*blocking) if blocking else None


def _check_output(scaffold: Scaffold, out: Path, n_rows: int) -> Stop | None:
    """The predictions file through the scoring loader and validator, for ``n_rows`` training rows."""
    pred = load_predictions(out, n_rows=n_rows, n_cols=prediction_width(scaffold.manifest.task.prediction,
                                                                     scaffold.manifest.task.classes))
    bad = pred if isinstance(pred, Violation) else check_array(scaffold, pred, n_rows=n_rows)
    if bad is None:
        return None
    return Stop.reject(dataclasses.replace(bad, message=f"On {n_rows} training rows: {bad.message}"))


def _finish(result: Preflight, ev: Evaluation, stop: Stop | None) -> Preflight:
    """The outcome and its message from the problems noted and the stage that stopped, if any."""
    result.timings, result.log_tail = dict(ev.timings), ev.log_tail
    if stop is not None:
        result.problems += [v for v in stop.violations if v not in result.problems]
    if stop is not None and stop.status == "failed":
        also = " ".join(v.message for v in result.problems)
        result.outcome, result.message = "failed", stop.message + (f" Also: {also}" if also else "")
    elif result.problems:
        result.outcome = "problems"
        result.message = (f"Not ready: {len(result.problems)} problem(s) a submission would be rejected for: "
                          + " ".join(v.message for v in result.problems))
    else:
        result.outcome = "ready"
        result.message = (f"Ready to submit: trained within the budgets, {result.params:,} of "
                          f"{result.max_params:,} parameters, and predict() returned the expected form on "
                          f"{result.rows} training rows. Nothing was scored; no submission was used.")
    return result

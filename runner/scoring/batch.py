"""Train many (variant, seed) runs of one scaffold in a single sandbox and score them.

``pitfalls check`` trains the reference and each "reference + one bug" variant with several
seeds. Through :func:`pitfalls.scoring.pipeline.evaluate` every run pays for two sandboxes and their
imports (about 3 s); here one sandbox imports the libraries once and forks a child per run
(``runner/sandbox/harness/batch.py``), one per CPU of the scheduler's slots it holds (two on a
two-core host; runner/sched/), each on one thread. Budgets are not enforced (the
starter and reference budgets are checked through the real pipeline); held-out labels stay in
this process, as everywhere.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pitfalls import sched
from pitfalls.core.results import Violation
from pitfalls.fs.jobfiles import prepare_dir
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.workspace import write_training_data
from pitfalls.sandbox.bwrap import Limits, Mount, run_sandboxed, sandbox_uid
from pitfalls.scoring.jobs import copy_workspace
from pitfalls.scoring.pipeline import score_array
from pitfalls.scoring.predictor import HARNESS_DIR


@dataclass
class BatchRun:
    """One trained-and-scored run (scores are None when the run failed)."""

    variant: str
    seed: int
    score_public: float | None
    score_private: float | None
    seconds: float
    error: str = ""


def _job_limits(scaffold: Scaffold, n_tasks: int, parallel: int) -> Limits:
    b = scaffold.manifest.budgets
    rounds = math.ceil(n_tasks / parallel)
    return Limits(wall_seconds=rounds * (b.train_seconds + b.predict_seconds) + 60,
                  memory_mb=b.memory_mb * parallel + 512, max_processes=b.max_processes * parallel + 8,
                  max_file_mb=b.max_file_mb)


def _stage(scaffold: Scaffold, variants: dict[str, Path], job: Path, uid: int) -> tuple[Path, Path, Path, Path]:
    code, data, spec, out = job / "variants", job / "data", job / "job", job / "out"
    for name, src in variants.items():
        copy_workspace(src, code / name)
    write_training_data(scaffold=scaffold, directory=job)  # job/data/train.csv
    target = scaffold.manifest.task.target
    scaffold.dataset().heldout.drop(columns=[target]).to_csv(data / "heldout_features.csv", index=False)
    spec.mkdir()
    for folder in (code, data, spec):
        for root, dirs, files in os.walk(folder):
            for name in [root, *(os.path.join(root, d) for d in dirs)]:
                os.chmod(name, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
    prepare_dir(out, uid)
    return code, data, spec, out


def run_batch(*, scaffold: Scaffold, variants: dict[str, Path], seeds: range | list[int],
              parallel: int | None = None) -> list[BatchRun]:
    """Train and score every variant (name -> workspace folder) with every seed.

    The batch holds up to two CPU slots of the host-wide scheduler (lane "check") and trains
    ``parallel`` runs at once (default and at most: one per CPU held).

    Raises:
        SchedulerBusy: the scheduler's queue is full.
        RuntimeError: the batch sandbox itself failed (not a single run: those come back as
            runs with an ``error``).
    """
    tasks = [{"id": f"{name}--{seed}", "variant": f"/variants/{name}", "seed": seed}
             for name in variants for seed in seeds]
    with tempfile.TemporaryDirectory(prefix="pitfalls-batch-") as tmp:
        job = Path(tmp)
        os.chmod(job, 0o700)
        uid = sandbox_uid()
        out = _stage(scaffold, variants, job, uid)[3]
        scheduler = sched.Scheduler()
        with scheduler.slot(job=f"check {scaffold.name}: {len(tasks)} runs", session_id=f"check-{os.getpid()}",
                            kind="check", width=min(2, scheduler.n_slots)) as held:
            parallel = min(parallel or len(held.cpus), len(held.cpus))
            _run(scaffold, tasks, parallel=parallel, job=job, uid=uid, held=held)
        return [_collect(scaffold, out, t) for t in tasks]


def _run(scaffold: Scaffold, tasks: list[dict], *, parallel: int, job: Path, uid: int, held: sched.Held) -> None:
    """The batch sandbox on ``held``'s CPUs, ``parallel`` single-threaded runs at a time."""
    m = scaffold.manifest
    code, data, spec, out = job / "variants", job / "data", job / "job", job / "out"
    (spec / "jobs.json").write_text(json.dumps({
        "framework": m.framework, "module": Path(m.predict_files[0]).stem,
        "artifact": m.artifact_path, "train_seconds": m.budgets.train_seconds,
        "predict_seconds": m.budgets.predict_seconds, "parallel": parallel, "tasks": tasks}))
    os.chmod(spec / "jobs.json", 0o644)
    run = run_sandboxed(argv=[sys.executable, "-I", "/harness/batch.py"],
                        mounts=[Mount(code, "/variants"), Mount(data, "/data"), Mount(spec, "/job"),
                                Mount(HARNESS_DIR, "/harness"), Mount(out, "/out", writable=True)],
                        limits=_job_limits(scaffold, len(tasks), parallel), cwd="/tmp",
                        env=sched.thread_env(1), log_path=job / "batch.log", uid=uid,
                        tmp_mb=2048, held=held)
    if run.returncode != 0:
        raise RuntimeError(f"The batch sandbox must exit cleanly. Got exit code {run.returncode}"
                           f"{' (timed out)' if run.timed_out else ''} instead: {run.log_tail[-400:]}")


def _collect(scaffold: Scaffold, out: Path, task: dict) -> BatchRun:
    name, seed = task["id"].rsplit("--", 1)
    meta_path, pred_path, log_path = (out / f"{task['id']}{s}" for s in (".json", ".npy", ".log"))
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"returncode": None, "seconds": 0}
    log = log_path.read_text(errors="replace")[-600:] if log_path.is_file() else ""
    run = BatchRun(variant=name, seed=int(seed), score_public=None, score_private=None,
                   seconds=float(meta.get("seconds", 0.0)))
    if meta.get("returncode") != 0 or not pred_path.is_file():
        run.error = f"exit code {meta.get('returncode')}: {log.strip().splitlines()[-1] if log.strip() else ''}"
        return run
    result = score_array(scaffold, np.load(pred_path, allow_pickle=False))
    if isinstance(result, Violation):
        run.error = result.message
    else:
        run.score_public, run.score_private = result
    return run

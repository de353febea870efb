"""The prediction sandbox, started warm: it imports the libraries while training runs.

Measured on tumor_triage (bench/runner_overhead.py): a cold prediction sandbox spent most of its
wall time importing scikit-learn and skops, which the bare fit+predict pays once. Started next to
the training sandbox, the predictor imports them then and blocks on its stdin; the model code,
the counted and rewritten artifact and the held-out features appear in its (read-only) folders
only after training is over, and ``go`` starts its clock. Until ``go`` it has nothing of the
candidate's: no code, no artifact.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pitfalls.budget.canonical import canonicalize
from pitfalls.budget.code_count import predictor_source
from pitfalls.budget.types import ArtifactError
from pitfalls.core.resources import package_folder
from pitfalls.fs.jobfiles import prepare_dir, regular_file
from pitfalls.library.scaffold import Scaffold
from pitfalls.sandbox.bwrap import Limits, Mount, Sandboxed, start_sandboxed
from pitfalls.sched import Held

if TYPE_CHECKING:
    import pandas as pd

HARNESS_DIR = package_folder("pitfalls.sandbox", "harness")
WARM_MODULES = {
    "sklearn": ("sklearn.base", "sklearn.pipeline", "sklearn.linear_model", "skops.io"),
    "torch": ("torch", "torch.nn", "safetensors.torch"),
}
"""What the predictor imports before ``go``, per framework (numpy and pandas always)."""
WARM_MARKER = ".warm"
"""The file the harness writes to its /out once those imports are done (runner/sandbox/harness/predict.py)."""
WARM_WAIT_SECONDS = 120.0
"""How long :func:`go_when_warm` waits for the imports at most (then the clock counts the rest)."""
FEATURES_FILE = "heldout_features.csv"
"""The rows the harness predicts, in the predictor's /data (runner/sandbox/harness/predict.py)."""


def start_predictor(*, scaffold: Scaffold, job: Path, uid: int, limits: Limits,
                    held: Held | None = None) -> tuple[Sandboxed, Path]:
    """Start the gated prediction sandbox on empty ``job/{model,data,out}``; return it and ``out``.

    ``uid`` must differ from the training sandbox's (they run at the same time). ``held``: the
    job's CPU slot (runner/sched/), shared with training: the predictor's imports run there at a
    minimal CPU weight, so they take nothing from another job and next to nothing from training.
    """
    m = scaffold.manifest
    model_dir, data_dir, out = job / "model", job / "data", job / "out"
    for d in (model_dir, data_dir):
        d.mkdir()
        os.chmod(d, 0o755)
    prepare_dir(out, uid)
    warm = ",".join(WARM_MODULES.get(m.framework, ()))
    handle = start_sandboxed(
        argv=[sys.executable, "-I", "/harness/predict.py", "--warm", warm, Path(m.predict_files[0]).stem,
              Path(m.artifact_path).name],
        mounts=[Mount(model_dir, "/model"), Mount(data_dir, "/data"), Mount(HARNESS_DIR, "/harness"),
                Mount(out, "/out", writable=True)],
        limits=limits, cwd="/model", env={}, log_path=job / "predict.log", uid=uid, gated=True, held=held, warm=True)
    return handle, out


def go_when_warm(predictor: Sandboxed, out: Path, *, wait_seconds: float = WARM_WAIT_SECONDS) -> None:
    """Start the prediction clock once the predictor's warm-up imports are done.

    Before ``go`` the predictor runs at a minimal CPU weight, so on a busy machine its imports may
    not be done when training ends; they are the runner's work, not the candidate's, and must not
    count against predict_seconds. It gets full weight now, and ``go`` waits (at most
    ``wait_seconds``) for the harness's marker or its exit. Nothing of the candidate's runs before
    ``go``: the wait cannot be stretched by the candidate.
    """
    import time

    predictor.to_slot()  # first onto the slot: its last imports must not take another job's CPU
    predictor.cgroups.set_cpu_shares(1024)
    marker, deadline = out / WARM_MARKER, time.monotonic() + wait_seconds
    while not marker.exists() and predictor.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    marker.unlink(missing_ok=True)
    predictor.go()


def stage_model(*, scaffold: Scaffold, work: Path, job: Path, features: pd.DataFrame | None = None) -> None:
    """Put the prediction code, the canonical artifact and the held-out features in place.

    ``features``: other rows to predict instead (preflight: a few training rows); then nothing of
    the held-out set is read. The harness reads either from the same file.

    Raises:
        ArtifactError: the artifact or the prediction code cannot be re-encoded.
    """
    m = scaffold.manifest
    model_dir, data_dir = job / "model", job / "data"
    for name in m.predict_files:  # checked by regular_file() already; counted by code_count
        _copy_code(work / name, model_dir / Path(name).name)
    # the predictor gets a canonical re-encoding of the counted artifact, never the original

    artifact = regular_file(work, m.artifact_path)  # checked by check_artifact; training has ended
    if artifact is None:
        raise ArtifactError(f"{m.artifact_path} must be a regular file. Got a link or nothing instead.")
    canonicalize(artifact, model_dir / Path(m.artifact_path).name,
                 code_files=[model_dir / Path(n).name for n in m.predict_files])
    if features is None:
        features = scaffold.dataset().heldout.drop(columns=[m.task.target])
    features.to_csv(data_dir / FEATURES_FILE, index=False)
    for d in (model_dir, data_dir):
        for f in d.iterdir():
            os.chmod(f, 0o644)


def _copy_code(src: Path, dst: Path) -> None:
    """Write the predictor's copy of a prediction file: the counted one, without docstrings or
    comments (:func:`pitfalls.budget.code_count.predictor_source`), so text that was not counted never
    reaches the predictor."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fin:
        text = fin.read()
    dst.write_text(predictor_source(text, src.name), encoding="utf-8")

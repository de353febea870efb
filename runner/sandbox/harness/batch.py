"""Batch harness: train and predict many (variant, seed) runs inside ONE sandbox, by forking.

Standalone (imports nothing of pitfalls). Used by ``pitfalls check`` to train the reference and
each "reference + one bug" variant with several seeds: the heavy imports (pandas, scikit-learn,
skops, torch) happen once in this parent, and each run is a forked child, so a run costs its
training time rather than seconds of imports. Reads /job/jobs.json; sees /variants (code of each
variant, read-only), /data (train.csv and the held-out *features*, read-only) and /out.
For each run it writes /out/<id>.npy (predictions), /out/<id>.log and /out/<id>.json.
"""

import importlib
import json
import os
import runpy
import shutil
import signal
import sys
import time
import traceback

import numpy as np
import pandas as pd


def _child(task: dict, job: dict, features: pd.DataFrame) -> None:
    """Runs in the forked child: never returns."""
    code = 1
    log = os.open(f"/out/{task['id']}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        work = f"/tmp/runs/{task['id']}"
        shutil.copytree(task["variant"], work)
        os.makedirs(f"{work}/data", exist_ok=True)
        os.makedirs(f"{work}/artifacts", exist_ok=True)
        shutil.copy("/data/train.csv", f"{work}/data/train.csv")
        os.chdir(work)
        sys.path.insert(0, work)
        os.environ["SEED"] = str(task["seed"])
        sys.argv = ["train.py"]
        signal.alarm(int(job["train_seconds"]) + 1)
        runpy.run_path("train.py", run_name="__main__")
        signal.alarm(int(job["predict_seconds"]) + 1)
        mod = importlib.import_module(job["module"])
        model = mod.load_model(job["artifact"])
        pred = np.asarray(mod.predict(model, features.copy()))
        signal.alarm(0)
        np.save(f"/out/{task['id']}.npy", pred.astype(np.float64), allow_pickle=False)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) and exc.code else 1
    except BaseException:
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _preload(framework: str) -> None:
    import sklearn.base  # noqa: F401
    import skops.io  # noqa: F401
    if framework == "torch":
        import safetensors.torch  # noqa: F401
        import torch
        torch.set_num_threads(1)


def main() -> int:
    with open("/job/jobs.json") as fh:
        job = json.load(fh)
    _preload(job["framework"])
    features = pd.read_csv("/data/heldout_features.csv")
    pending, running = list(job["tasks"]), {}
    while pending or running:
        while pending and len(running) < job["parallel"]:
            task = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                _child(task, job, features)
            running[pid] = (task, time.monotonic())
        pid, status = os.wait()
        task, start = running.pop(pid)
        shutil.rmtree(f"/tmp/runs/{task['id']}", ignore_errors=True)
        with open(f"/out/{task['id']}.json", "w") as fh:
            json.dump({"returncode": os.waitstatus_to_exitcode(status),
                       "seconds": round(time.monotonic() - start, 3)}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

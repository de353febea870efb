"""Prediction harness, run inside the prediction sandbox (standalone: imports nothing of pitfalls).

Sees /model (the candidate's model code and the trained artifact, read-only), /data (held-out
features only, read-only) and /out (where predictions go). No labels exist anywhere it can read.
"""

import importlib
import json
import os
import sys
import time
import traceback

import numpy as np
import pandas as pd

WARM_MARKER = ".warm"
"""Written to /out once the warm-up imports are done (the runner waits for it before ``go``)."""


def main(module: str, artifact: str) -> int:
    t0 = time.perf_counter()
    sys.path.insert(0, "/model")
    mod = importlib.import_module(module)
    for name in ("load_model", "predict"):
        if not callable(getattr(mod, name, None)):
            print(f"{module}.py must define a function `{name}`. Got none instead.", file=sys.stderr)
            return 3
    model = mod.load_model(f"/model/{artifact}")
    t1 = time.perf_counter()
    features = pd.read_csv("/data/heldout_features.csv")
    pred = np.asarray(mod.predict(model, features))
    if pred.dtype == object:
        try:
            pred = pred.astype(np.float64)
        except (TypeError, ValueError):
            pred = pred.astype(str)
    np.save("/out/predictions.npy", pred, allow_pickle=False)
    with open("/out/predict.json", "w") as fh:
        json.dump({"load_seconds": t1 - t0, "predict_seconds": time.perf_counter() - t1}, fh)
    return 0


def warm_up(modules: list[str]) -> bool:
    """Import the libraries the predictor will need, then wait for the runner's ``go`` on stdin.

    The runner starts this sandbox while training runs, so these imports cost no wall time;
    the model and its code appear in /model only once training is over and counted. Returns
    False when the runner cancels (stdin closes without ``go``).
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing library shows up at predict time, with its message
            pass
    try:  # tells the runner the imports are done, so its clock never counts them (predictor.go_when_warm)
        open(f"/out/{WARM_MARKER}", "w").close()
    except OSError:
        pass
    return sys.stdin.readline().strip() == "go"


if __name__ == "__main__":
    try:
        args = sys.argv[1:]
        if args and args[0] == "--warm":
            if not warm_up([m for m in args[1].split(",") if m]):
                sys.exit(0)
            args = args[2:]
        code = main(args[0], args[1])
        # Skip the interpreter's teardown (0.5-0.6 s with scikit-learn loaded): everything the
        # runner reads is written and closed, so there is nothing left to flush but these.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    except MemoryError:
        print("MemoryError: prediction ran out of memory.", file=sys.stderr)
        sys.exit(4)
    except Exception:
        traceback.print_exc()
        sys.exit(1)

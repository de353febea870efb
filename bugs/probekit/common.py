"""Running the candidate's training script and loading its predictor, inside a sandbox."""

from __future__ import annotations

import importlib
import runpy
import sys
import traceback


def run_training(script: str = "train.py") -> str | None:
    """Run ``script`` as ``__main__``. Returns the error text, or None.

    Its output is not redirected here (sys.stdout stays the interpreter's own, as in the training
    sandbox): the probe harness points descriptor 1 at /dev/null before setup runs.
    """
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        return None if not exc.code else f"SystemExit({exc.code})"
    except BaseException:  # the candidate's code may raise anything
        return traceback.format_exc(limit=3)
    return None


def load_predictor(module: str = "model", artifact: str | None = None):
    """Import the candidate's model module and load the trained artifact.

    Returns (module, model). ``artifact`` defaults to the module's training script's
    ARTIFACT_PATH convention: the first file in artifacts/.
    """
    import pathlib

    sys.modules.pop(module, None)
    mod = importlib.import_module(module)
    if artifact is None:
        files = sorted(pathlib.Path("artifacts").glob("model.*"))
        if not files:
            raise FileNotFoundError("training saved no artifacts/model.* file")
        artifact = str(files[0])
    return mod, mod.load_model(artifact)

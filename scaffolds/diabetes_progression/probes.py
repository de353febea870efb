"""Probes for diabetes_progression: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once while a spy records the shapes reaching the loss, then runs the saved predictor on the
training rows; each probe inspects that run. Each probe returns (status, evidence) with
status "present", "fixed" or "unknown".
"""

import pandas as pd
from probekit import load_predictor, run_training
from probekit.regression import LossShapeSpy, prediction_scale

TARGET = "progression"


def setup():
    spy = LossShapeSpy()
    with spy:
        error = run_training("train.py")
    train = pd.read_csv("data/train.csv")
    try:
        mod, model = load_predictor("model")
        scale = prediction_scale(mod.predict, model, train.drop(columns=[TARGET]), train[TARGET])
    except Exception as exc:
        scale = None
        error = error or f"{type(exc).__name__}: {exc}"
    return {"spy": spy, "error": error, "scale": scale}


def broadcast_loss_shape(ctx):
    spy = ctx["spy"]
    share = spy.broadcast_share()
    if share is None:
        return "unknown", f"no MSE/L1/Huber loss call seen during training ({ctx['error'] or 'a hand-written loss?'})"
    status = "present" if share > 0.5 else "fixed"
    return status, (f"{share:.0%} of {len(spy.calls)} loss calls broadcast their arguments "
                    f"(e.g. {spy.example()})")


def target_scale_not_inverted(ctx):
    s = ctx["scale"]
    if s is None:
        return "unknown", f"could not run predict() on the training rows ({ctx['error']})"
    status = "present" if s["offset"] > 1.0 or s["spread"] > 3.0 else "fixed"
    return status, (f"predictions on the training rows: mean {s['pred_mean']:.3g}, sd {s['pred_sd']:.3g}; "
                    f"{TARGET}: mean {s['target_mean']:.3g}, sd {s['target_sd']:.3g} "
                    f"(means {s['offset']:.1f} target sds apart)")


PROBES = {
    "broadcast_loss_shape": broadcast_loss_shape,
    "target_scale_not_inverted": target_scale_not_inverted,
}

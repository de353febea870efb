"""Probes for digits_budget: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once under spies; each probe then inspects that run or the saved predictor.
"""

import pandas as pd
from probekit import TorchSpy, load_predictor, modes_during_predict, run_training


def setup():
    spy = TorchSpy()
    with spy:
        error = run_training("train.py")
    return {"spy": spy, "error": error, "train": pd.read_csv("data/train.csv")}


def unshuffled_batches(ctx):
    batches = ctx["spy"].batches
    if not batches:
        return "unknown", f"no cross-entropy call seen ({ctx['error']})"
    mean = sum(b["distinct_targets"] for b in batches) / len(batches)
    return ("present" if mean < 4 else "fixed"), f"{mean:.1f} distinct labels per training batch"


def softmax_before_loss(ctx):
    batches = ctx["spy"].batches
    if not batches:
        return "unknown", f"no cross-entropy call seen ({ctx['error']})"
    probs = sum(b["probabilities"] for b in batches)
    return ("present" if probs > len(batches) / 2 else "fixed"), f"{probs}/{len(batches)} loss inputs were already probabilities"


def missing_eval_mode(ctx):
    mod, model = load_predictor("model")
    modes = modes_during_predict(mod.predict, model, ctx["train"].drop(columns=["label"]).head(32))
    if not modes:
        return "fixed", "no BatchNorm or Dropout layers left"
    training = sorted(name for name, on in modes.items() if on)
    return ("present" if training else "fixed"), (f"in training mode during predict: {training}" if training
                                                  else "all BatchNorm/Dropout layers in eval mode")


def missing_zero_grad(ctx):
    spy = ctx["spy"]
    if spy.steps == 0:
        return "unknown", f"no optimizer step seen ({ctx['error']})"
    ratio = spy.zero_grads / spy.steps
    return ("present" if ratio < 0.5 else "fixed"), f"{spy.zero_grads} zero_grad calls for {spy.steps} optimizer steps"


PROBES = {
    "unshuffled_batches": unshuffled_batches,
    "softmax_before_loss": softmax_before_loss,
    "missing_eval_mode": missing_eval_mode,
    "missing_zero_grad": missing_zero_grad,
}

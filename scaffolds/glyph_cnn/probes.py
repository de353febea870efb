"""Probes for glyph_cnn: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once;
each probe then inspects the saved predictor on training scans.
"""

import numpy as np
import pandas as pd
import torch
from probekit import load_predictor, modes_during_predict, run_training

MIRROR = {0: 1, 1: 0, 2: 3, 3: 2, 4: 5, 5: 4, 8: 9, 9: 8}  # b/d, p/q, left/right, L/J
ROWS = 400


def setup():
    error = run_training("train.py")
    train = pd.read_csv("data/train.csv")
    return {"error": error, "rows": train.head(ROWS)}


def _predict(ctx, features, seed=0, eval_first=False):
    mod, model = load_predictor("model")
    if eval_first:
        model.eval()
    torch.manual_seed(seed)
    return np.asarray(mod.predict(model, features))


def mirrored_training_scans(ctx):
    rows = ctx["rows"][ctx["rows"]["glyph"].isin(list(MIRROR))]
    try:
        proba = _predict(ctx, rows.drop(columns=["glyph"]), eval_first=True)
    except Exception as exc:  # the candidate's code may raise anything
        return "unknown", f"prediction failed ({exc!r}; training: {ctx['error']})"
    partner = rows["glyph"].map(MIRROR).to_numpy()
    share = float(np.mean(proba.argmax(axis=1) == partner))
    return ("present" if share > 0.15 else "fixed"), f"{share:.0%} of {len(rows)} mirror-pair training scans read as their mirror image"


def augmentation_at_predict(ctx):
    features = ctx["rows"].drop(columns=["glyph"])
    try:
        first, second = (_predict(ctx, features, seed=s, eval_first=True) for s in (1, 2))
    except Exception as exc:  # the candidate's code may raise anything
        return "unknown", f"prediction failed ({exc!r}; training: {ctx['error']})"
    gap = float(np.abs(first - second).max())
    return ("present" if gap > 1e-3 else "fixed"), f"two predictions of the same rows in eval mode differ by up to {gap:.4f}"


def missing_eval_mode(ctx):
    try:
        mod, model = load_predictor("model")
        modes = modes_during_predict(mod.predict, model, ctx["rows"].drop(columns=["glyph"]).head(32))
    except Exception as exc:  # the candidate's code may raise anything
        return "unknown", f"prediction failed ({exc!r}; training: {ctx['error']})"
    if not modes:
        return "fixed", "no BatchNorm or Dropout layers left"
    training = sorted(name for name, on in modes.items() if on)
    return ("present" if training else "fixed"), (f"in training mode during predict: {training}" if training
                                                  else "all BatchNorm/Dropout layers in eval mode")


def exposure_not_normalized(ctx):
    features = ctx["rows"].drop(columns=["glyph"]).astype(float)
    dim = features.copy()
    dim.iloc[::2] = 40.0 + 0.3 * features.iloc[::2]  # every other scan through a dim, low-contrast scanner
    try:
        before, after = _predict(ctx, features, eval_first=True), _predict(ctx, dim, eval_first=True)
    except Exception as exc:  # the candidate's code may raise anything
        return "unknown", f"prediction failed ({exc!r}; training: {ctx['error']})"
    changed = float(np.mean(before.argmax(axis=1) != after.argmax(axis=1)))
    return ("present" if changed > 0.1 else "fixed"), f"{changed:.0%} of {len(features)} predicted glyphs change when every other scan is re-exposed"


PROBES = {
    "mirrored_training_scans": mirrored_training_scans,
    "augmentation_at_predict": augmentation_at_predict,
    "missing_eval_mode": missing_eval_mode,
    "exposure_not_normalized": exposure_not_normalized,
}

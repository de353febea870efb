"""Probes for tumor_triage: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once under spies; each probe then inspects that run or the saved predictor.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import pandas as pd
from probekit import (
    SklearnSpy,
    fitted_frame,
    label_agreement,
    load_predictor,
    prediction_dependence,
    run_training,
    train_serve_skew,
)

TARGET = "malignant"
LEAK = "referral_code"


def setup():
    spy = SklearnSpy()
    with spy:
        error = run_training("train.py")
        try:
            mod, model = load_predictor("model")
            frame = pd.read_csv("data/train.csv")
            mod.predict(model, frame.drop(columns=[TARGET]))
        except Exception as exc:
            mod, model = None, None
            error = error or f"{type(exc).__name__}: {exc}"
    return {"spy": spy, "error": error, "module": mod, "model": model, "train": pd.read_csv("data/train.csv")}


def label_misalignment(ctx):
    found = label_agreement(ctx["spy"], ctx["train"], TARGET)
    if found is None:
        return "unknown", f"could not match fitted rows to data/train.csv ({ctx['error'] or 'no supervised fit seen'})"
    share, n = found
    status = "present" if share < 0.97 else "fixed"
    return status, f"{share:.1%} of {n} fitted rows carry their own label"


def scaler_not_saved(ctx):
    skew = train_serve_skew(ctx["spy"])
    if skew is None:
        return "unknown", "no fit and predict of the same estimator seen"
    return ("present" if skew > 1.0 else "fixed"), f"median feature shift fit->predict: {skew:.2f} sd"


def inverted_class_weights(ctx):
    fits = [c for c in ctx["spy"].fits() if c.cls != "Pipeline"]
    if not fits:
        return "unknown", "no supervised fit seen"
    final = fits[-1]
    weight = final.params.get("class_weight")
    if weight is None and final.sample_weight is None:
        return "fixed", "no class weights (the inverted weights are gone)"
    if weight == "balanced":
        return "fixed", "class_weight='balanced'"
    if isinstance(weight, dict):
        return ("present" if weight.get(1, 1) < weight.get(0, 1) else "fixed"), f"class_weight={weight}"
    return "unknown", f"class_weight={weight!r}"


def leak_feature_used(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    features = ctx["train"].drop(columns=[TARGET])
    changed = prediction_dependence(ctx["module"].predict, ctx["model"], features, LEAK)
    if changed > 0.005:
        return "present", f"{changed:.1%} of predictions change when {LEAK} is shuffled"
    # A nearly constant model (other bugs still in) barely depends on anything: what it was fit on decides
    found = fitted_frame(ctx["spy"])
    if found is not None:
        used = LEAK in found[0].columns
        return (("present" if used else "fixed"),
                f"{LEAK} {'is' if used else 'is not'} among the fitted columns ({changed:.1%} of predictions "
                "change when it is shuffled)")
    if len(set(ctx["module"].predict(ctx["model"], features).tolist())) > 1:
        return "fixed", f"predictions do not depend on {LEAK}"
    return "unknown", "the model predicts a single class and its training columns were not seen"


PROBES = {
    "label_misalignment": label_misalignment,
    "scaler_not_saved": scaler_not_saved,
    "inverted_class_weights": inverted_class_weights,
    "leak_feature_used": leak_feature_used,
}

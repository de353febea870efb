"""Probes for clinic_visits: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once under spies (estimator fits and cross-validation splits); each probe then inspects that
run or the saved predictor. Each probe returns (status, evidence) with status "present",
"fixed" or "unknown".
"""

import numpy as np
import pandas as pd
from probekit import SklearnSpy, load_predictor, run_training
from probekit.groups import SplitSpy, final_fit, fresh_id_dependence, label_like_columns, split_leaks

TARGET = "escalated"
PATIENT = "patient_id"
LEAKY_SHARE = 0.05  # validation rows whose patient is also in the training folds


def setup():
    spy, splits = SklearnSpy(), SplitSpy()
    with spy, splits:
        error = run_training("train.py")
    train = pd.read_csv("data/train.csv")
    try:
        mod, model = load_predictor("model")
        mod.predict(model, train.drop(columns=[TARGET]))
    except Exception as exc:
        mod, model = None, None
        error = error or f"{type(exc).__name__}: {exc}"
    return {"spy": spy, "splits": splits, "error": error, "module": mod, "model": model, "train": train}


def random_split_selection(ctx):
    found = split_leaks(ctx["splits"], ctx["train"], PATIENT, TARGET)
    mapped = [f for f in found if f["share"] is not None]
    if not found:
        if ctx["error"]:
            return "unknown", f"no cross-validation split seen ({ctx['error'][-200:]})"
        return "fixed", "no cross-validation split seen: nothing was selected on a row-level split"
    leaky = [f for f in mapped if f["share"] > LEAKY_SHARE]
    described = "; ".join(f"{f['cls']} ({f['how']}): " + (
        f"up to {f['share']:.0%} of a validation fold's rows belong to patients in its training folds"
        if f["share"] > 0 else "validation folds hold only patients absent from their training folds")
        for f in mapped[:3])
    if leaky:
        return "present", described
    if mapped:
        return "fixed", described
    return "unknown", f"{len(found)} splits seen, none could be mapped to patients"


def entity_id_feature(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    features = ctx["train"].drop(columns=[TARGET])
    changed = fresh_id_dependence(ctx["module"].predict, ctx["model"], features, PATIENT)
    if changed > 0.005:
        return "present", f"{changed:.1%} of predictions change when new patients get other unseen ids"
    pred = np.asarray(ctx["module"].predict(ctx["model"], features), dtype=float)
    if len(np.unique(np.round(pred, 9), axis=0)) > 1:
        return "fixed", f"predictions for new patients do not depend on the {PATIENT} they get"
    found = final_fit(ctx["spy"])  # a constant model says nothing: look at what it was fit on
    if found is None:
        return "unknown", "the model predicts one value and its training columns were not seen"
    used = PATIENT in found[0].columns
    return ("present" if used else "fixed"), f"{PATIENT} {'is' if used else 'is not'} among the fitted columns"


def entity_target_encoding(ctx):
    found = final_fit(ctx["spy"])
    if found is None:
        return "unknown", f"no supervised fit seen ({ctx['error'] or 'no error'})"
    frame, y = found
    label_like = label_like_columns(frame, y)
    if label_like:
        return "present", f"fitted columns that track the label: {label_like} (single-column AUC)"
    return "fixed", f"no fitted column tracks the label (of {frame.shape[1]} columns)"


PROBES = {
    "random_split_selection": random_split_selection,
    "entity_id_feature": entity_id_feature,
    "entity_target_encoding": entity_target_encoding,
}

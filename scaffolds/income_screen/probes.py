"""Probes for income_screen: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once and loads its predictor; each probe then rewrites the training features in a way that
must not change a correct prediction and counts the rows whose prediction changes.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import pandas as pd
from probekit import load_predictor, run_training
from probekit.messy import batch_dependence, number_format_dependence, ordered_response, spelling_dependence

TARGET = "high_income"
TEXT_COLUMNS = ["workclass", "marital_status", "occupation"]
NOMINAL_COLUMNS = ["occupation", "education"]
NUMBER_COLUMNS = ["capital_gain", "capital_loss"]


def setup():
    error = run_training("train.py")
    features = pd.read_csv("data/train.csv").drop(columns=[TARGET])
    try:
        mod, model = load_predictor("model")
        mod.predict(model, features.head(20))
    except Exception as exc:
        mod, model = None, None
        error = error or f"{type(exc).__name__}: {exc}"
    return {"error": error, "module": mod, "model": model, "features": features}


def _verdict(ctx, measure, what):
    if ctx["model"] is None:
        return "unknown", f"no working predictor ({(ctx['error'] or '').strip()[-200:]})"
    try:
        share = measure(ctx["module"].predict, ctx["model"], ctx["features"])
    except Exception as exc:
        return "unknown", f"the predictor failed on rewritten features: {type(exc).__name__}: {exc}"[:300]
    return ("present" if share > 0.01 else "fixed"), f"{share:.1%} of predictions change when {what}"


def categories_as_codes(ctx):
    if ctx["model"] is None:
        return "unknown", f"no working predictor ({(ctx['error'] or '').strip()[-200:]})"
    predict, model, features = ctx["module"].predict, ctx["model"], ctx["features"]
    try:
        ordered = {col: ordered_response(predict, model, features, col) for col in NOMINAL_COLUMNS}
        batch = batch_dependence(predict, model, features)
    except Exception as exc:
        return "unknown", f"the predictor failed on rewritten features: {type(exc).__name__}: {exc}"[:300]
    seen = "; ".join(f"{col}: {share:.0%} of rows move monotonically through its {n} levels in "
                     f"alphabetical order" for col, (share, n) in ordered.items())
    seen += f"; {batch:.0%} of a 60-row batch changes when scored alone"
    present = batch > 0.01 or any(share >= 0.9 for share, _ in ordered.values())
    return ("present" if present else "fixed"), seen


def numbers_coerced_to_nan(ctx):
    return _verdict(ctx, lambda p, m, f: number_format_dependence(p, m, f, NUMBER_COLUMNS),
                    "amounts are written '2,174' instead of '2174'")


def cleaning_only_in_training(ctx):
    return _verdict(ctx, lambda p, m, f: spelling_dependence(p, m, f, TEXT_COLUMNS),
                    "categories are re-spelled (case, spaces, hyphens)")


PROBES = {
    "categories_as_codes": categories_as_codes,
    "numbers_coerced_to_nan": numbers_coerced_to_nan,
    "cleaning_only_in_training": cleaning_only_in_training,
}

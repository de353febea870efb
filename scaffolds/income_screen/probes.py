"""Probes for income_screen: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once under a scikit-learn spy and loads its predictor; most probes then rewrite the training
features in a way that must not change a correct prediction and count the rows whose
prediction changes; ``resubmissions_kept`` counts repeated rows in what the final fit saw.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import numpy as np
import pandas as pd
from probekit import SklearnSpy, fitted_frame, load_predictor, run_training
from probekit.messy import batch_dependence, number_format_dependence, ordered_response, spelling_dependence

TARGET = "high_income"
TEXT_COLUMNS = ["workclass", "marital_status", "occupation"]
NOMINAL_COLUMNS = ["occupation", "education"]
NUMBER_COLUMNS = ["capital_gain", "capital_loss"]
LOAN = "loan_amount"
COPY_KEY = ["age", "education_num", "hours_per_week"]  # equal in every re-export of an application
MAX_REPEATED = 0.05  # share of fitted rows repeating an earlier one: about 1.5% by chance once de-duplicated
MOVED = 0.02  # a probability moving by more than this counts as a changed prediction


def setup():
    spy = SklearnSpy()
    with spy:
        error = run_training("train.py")
    features = pd.read_csv("data/train.csv").drop(columns=[TARGET])
    try:
        mod, model = load_predictor("model")
        mod.predict(model, features.head(20))
    except Exception as exc:
        mod, model = None, None
        error = error or f"{type(exc).__name__}: {exc}"
    return {"error": error, "module": mod, "model": model, "features": features, "spy": spy}


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


def _final_frame(spy):
    """The widest DataFrame fit with as many rows as the final supervised fit (most identifying
    columns, then most columns, then the latest), and that fit's labels: a pipeline's inner steps
    see only some columns, so the plain last DataFrame may lack them."""
    found = fitted_frame(spy)
    if found is None:
        return None
    y = found[1]
    frames = [(sum(k in c.X.columns for k in COPY_KEY), len(c.X.columns), i, c.X) for i, c in enumerate(spy.calls)
              if c.method == "fit" and isinstance(c.X, pd.DataFrame) and len(c.X) == len(y)]
    best = max(frames, key=lambda t: t[:3], default=None)
    return (best[3], y) if best is not None and best[0] >= 2 else None


def resubmissions_kept(ctx):
    found = _final_frame(ctx["spy"])
    if found is None:
        return "unknown", (f"no fit on a DataFrame with the columns {COPY_KEY} that identify an application "
                           f"({(ctx['error'] or '').strip()[-200:]})")
    frame, y = found
    key = [c for c in COPY_KEY if c in frame.columns]
    rows = frame[key].apply(pd.to_numeric, errors="coerce").assign(label=np.asarray(y))
    known = rows.notna().all(axis=1) & (rows[key].to_numpy() > 0).all(axis=1)  # age 0: unknown, not a match
    repeated = int((rows.duplicated() & known).sum())
    share = repeated / max(len(rows), 1)
    return (("present" if share > MAX_REPEATED else "fixed"),
            f"{repeated} of {len(rows)} fitted rows ({share:.1%}) repeat an earlier row on {key} and the label")


def leak_feature_used(ctx):
    if ctx["model"] is None:
        return "unknown", f"no working predictor ({(ctx['error'] or '').strip()[-200:]})"
    features = ctx["features"]
    if LOAN not in features.columns:
        return "unknown", f"no column {LOAN!r} in data/train.csv"
    shuffled = features.copy()
    shuffled[LOAN] = np.random.default_rng(0).permutation(shuffled[LOAN].to_numpy())
    try:
        a = np.asarray(ctx["module"].predict(ctx["model"], features), dtype=float)
        b = np.asarray(ctx["module"].predict(ctx["model"], shuffled), dtype=float)
    except Exception as exc:
        return "unknown", f"the predictor failed on rewritten features: {type(exc).__name__}: {exc}"[:300]
    moved = float(np.mean(np.abs(a - b).reshape(len(a), -1).max(axis=1) > MOVED))
    return (("present" if moved > 0.01 else "fixed"),
            f"{moved:.1%} of predicted probabilities move by more than {MOVED} when {LOAN} is shuffled")


PROBES = {
    "categories_as_codes": categories_as_codes,
    "numbers_coerced_to_nan": numbers_coerced_to_nan,
    "cleaning_only_in_training": cleaning_only_in_training,
    "resubmissions_kept": resubmissions_kept,
    "leak_feature_used": leak_feature_used,
}

"""Probes for sensor_faults: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once
under spies; each probe then inspects that run or the saved predictor.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import numpy as np
import pandas as pd
from probekit import SklearnSpy, load_predictor, run_training

TARGET = "fault"
LEAK = "maint_minutes"
GAPS = ["temperature_c", "vibration", "pressure_bar", "current_a", "acoustic_db"]
MATCH = ["temperature_c", "pressure_bar", "current_a", "rpm", "acoustic_db"]  # columns no fix rescales
THRESHOLD_METRICS = {"accuracy", "balanced_accuracy", "f1", "precision", "recall"}
WINDOW = 30  # minutes


def _fits_with_validation():
    """Record the X_val a boosted-tree fit receives (the spy keeps only X and y)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    seen, original = [], HistGradientBoostingClassifier.fit

    def fit(self, X, y, sample_weight=None, *args, **kwargs):
        seen.append({"X": X, "X_val": kwargs.get("X_val"), "params": self.get_params()})
        return original(self, X, y, sample_weight, *args, **kwargs)

    HistGradientBoostingClassifier.fit = fit
    return seen, lambda: setattr(HistGradientBoostingClassifier, "fit", original)


def setup():
    spy = SklearnSpy()
    with spy:
        boosted, restore = _fits_with_validation()
        try:
            error = run_training("train.py")
        finally:
            restore()
    train = pd.read_csv("data/train.csv")
    try:
        mod, model = load_predictor("model")
        mod.predict(model, train.drop(columns=[TARGET]).head(50))
    except Exception as exc:
        mod, model = None, None
        error = error or f"{type(exc).__name__}: {exc}"
    return {"spy": spy, "boosted": boosted, "error": error, "module": mod, "model": model, "train": train}


def _predict_fault(ctx, frame):
    return np.asarray(ctx["module"].predict(ctx["model"], frame), dtype=float)[:, -1]


def _model_input(ctx, frame):
    """What the saved estimator receives when predict() is called on ``frame`` (None if not seen)."""
    spy = SklearnSpy()
    with spy:
        ctx["module"].predict(ctx["model"], frame)
    calls = [c for c in spy.calls if c.method in ("predict", "predict_proba", "decision_function") and c.depth == 0]
    return calls[0].X if calls else None


def _fault_scores(ctx, frame):
    """P(fault) along predict()'s own path; when predict() answers yes/no, the probabilities those
    decisions came from (the saved estimator on the input predict() gave it)."""
    p = _predict_fault(ctx, frame)
    if len(np.unique(p)) > 2 or not hasattr(ctx["model"], "predict_proba"):
        return p
    X = _model_input(ctx, frame)
    return p if X is None else np.asarray(ctx["model"].predict_proba(X), dtype=float)[:, -1]


def leak_feature_used(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    features = ctx["train"].drop(columns=[TARGET]).head(5000)
    shuffled = features.assign(**{LEAK: np.random.default_rng(0).permutation(features[LEAK].to_numpy())})
    changed = float(np.mean(np.abs(_fault_scores(ctx, features) - _fault_scores(ctx, shuffled)) > 1e-9))
    return ("present" if changed > 0.005 else "fixed"), f"{changed:.1%} of fault scores change when {LEAK} is shuffled"


def vibration_units_mixed(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    frame = ctx["train"].drop(columns=[TARGET]).dropna()
    older = frame[~frame["firmware"].astype(str).str.startswith("v3")].head(2000)
    if len(older) < 100:
        return "unknown", "too few readings on older firmware to restate"
    restated = older.assign(firmware="v3.1", vibration=(older["vibration"] / 25.4).round(4))
    a, b = _model_input(ctx, older), _model_input(ctx, restated)
    if a is None or b is None or np.shape(a) != np.shape(b):
        return "unknown", "could not compare what the model receives"
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    moved = np.any(np.abs(a - b) > 0.01 * np.maximum(np.abs(a), 1e-9), axis=1)
    share = float(moved.mean())
    return ("present" if share > 0.5 else "fixed"), (f"{share:.0%} of older-firmware readings reach the model "
                                                     "differently when restated in firmware v3 units")


def gaps_filled_with_zero(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    rows = ctx["train"].drop(columns=[TARGET]).dropna(subset=GAPS).head(500)
    X = _model_input(ctx, rows.assign(**{col: np.nan for col in GAPS}))
    if X is None:
        return "unknown", "predict() called no estimator"
    values = np.asarray(X, dtype=float) if not isinstance(X, pd.DataFrame) else X.to_numpy(dtype=float)
    if np.isnan(values).any():
        return "fixed", "readings with every sensor blank reach the model with gaps (the trees or the pipeline route them)"
    zero = int(np.sum(np.all(values == 0, axis=0)))
    if zero >= len(GAPS):
        return "present", f"readings with every sensor blank reach the model with {zero} columns of 0"
    return "fixed", f"blank readings reach the model imputed ({zero} all-zero columns)"


def _minutes(stamps):
    t = pd.to_datetime(stamps)
    return ((t - pd.Timestamp("2000-01-01")).dt.total_seconds() / 60).to_numpy()


def _locate(frame, train):
    """Positions in ``train`` of the rows of ``frame`` (matched on columns no fix rescales)."""
    cols = [c for c in MATCH if c in frame.columns]
    if len(cols) < 3 or not isinstance(frame, pd.DataFrame):
        return None
    key = lambda f: [tuple(r) for r in np.round(f[cols].fillna(-1).to_numpy(dtype=float), 3)]  # noqa: E731
    where = {}
    for i, k in enumerate(key(train)):
        where.setdefault(k, i)
    found = np.array([where.get(k, -1) for k in key(frame)])
    return found if (found >= 0).mean() > 0.9 else None


def incident_rows_split_randomly(ctx):
    fits = [f for f in ctx["boosted"] if isinstance(f["X_val"], pd.DataFrame)]
    if not fits:
        return "unknown", f"no boosted-tree fit with a validation frame seen ({ctx['error'] or 'none'})"
    train = ctx["train"]
    fit_rows, val_rows = _locate(fits[0]["X"], train), _locate(fits[0]["X_val"], train)
    if fit_rows is None or val_rows is None:
        return "unknown", "could not match the validation rows to data/train.csv"
    fault = train[TARGET].to_numpy() == 1
    minutes, machine = _minutes(train["timestamp"]), train["machine_id"].to_numpy()
    seen = fit_rows[(fit_rows >= 0) & fault[np.maximum(fit_rows, 0)]]
    val_faults = val_rows[(val_rows >= 0) & fault[np.maximum(val_rows, 0)]]
    if len(val_faults) == 0:
        return "unknown", "no fault rows in the validation part"
    near = [bool(np.any((machine[seen] == machine[v]) & (np.abs(minutes[seen] - minutes[v]) <= WINDOW)))
            for v in val_faults]
    share = float(np.mean(near))
    return ("present" if share > 0.3 else "fixed"), (f"{share:.0%} of {len(val_faults)} validation faults have a "
                                                     f"fault row of the same machine within {WINDOW} minutes in "
                                                     "the training part")


def scored_as_decisions(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    p = _predict_fault(ctx, ctx["train"].drop(columns=[TARGET]).head(3000))
    distinct = len(np.unique(np.round(p, 9)))
    if distinct <= 2:
        return "present", f"predict() returns {distinct} distinct fault probabilities: decisions, not scores"
    stopping = [f["params"] for f in ctx["boosted"] if f["params"].get("early_stopping") is True
                or (f["params"].get("early_stopping") == "auto" and len(f["X"]) > 10_000)]
    bad = [p["scoring"] for p in stopping if str(p.get("scoring")) in THRESHOLD_METRICS]
    if bad:
        return "present", f"early stopping scored by {bad[0]!r} ({distinct} distinct predicted probabilities)"
    return "fixed", f"{distinct} distinct predicted probabilities; no early stopping on a thresholded metric"


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
    if final.sample_weight is not None and final.y is not None:
        w, y = np.asarray(final.sample_weight, dtype=float), np.asarray(final.y)
        pos, neg = w[y == 1].mean(), w[y == 0].mean()
        return ("present" if pos < neg else "fixed"), f"mean sample weight {pos:.3g} (faults), {neg:.3g} (others)"
    return "unknown", f"class_weight={weight!r}"


PROBES = {
    "leak_feature_used": leak_feature_used,
    "vibration_units_mixed": vibration_units_mixed,
    "gaps_filled_with_zero": gaps_filled_with_zero,
    "incident_rows_split_randomly": incident_rows_split_randomly,
    "scored_as_decisions": scored_as_decisions,
    "inverted_class_weights": inverted_class_weights,
}

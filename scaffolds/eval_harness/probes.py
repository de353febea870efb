"""Probes for eval_harness: is each planted bug still in the workspace's harness?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once and
loads its predictor; each probe then appends edited copies of one public system to the public
systems and compares the predictor's estimates for them (the harness may look at every row, as the
scorer's call does). Each probe returns (status, evidence), status "present", "fixed" or "unknown".
"""

import numpy as np
import pandas as pd
from probekit import load_predictor, run_training

TARGET = "quality"
CLASSES = 4


def setup():
    error = run_training("train.py")
    frame = pd.read_csv("data/train.csv")
    try:
        mod, model = load_predictor("model")
    except Exception as exc:
        mod, model = None, None
        error = error or f"{type(exc).__name__}: {exc}"
    features = frame.drop(columns=[TARGET])
    ids = [c[4:] for c in features.columns if c.startswith("ans_")]
    gold = {i: int(features[f"gold_{i}"].iloc[0]) for i in ids}
    groups = {}
    for i in ids:
        key = (gold[i], tuple(np.nan_to_num(features[f"ans_{i}"].to_numpy(float), nan=-1.0)))
        groups.setdefault(key, []).append(i)
    copies = [g for g in groups.values() if len(g) > 1]
    single = [g[0] for g in groups.values() if len(g) == 1 and g[0].startswith("nw_")]
    base = features.iloc[[int(np.argsort(frame[TARGET].to_numpy())[len(frame) // 2])]]
    return {"error": error, "module": mod, "model": model, "features": features, "gold": gold,
            "copies": copies, "single": single, "base": base}


def _estimates(ctx, edits):
    """The predictor's estimates for copies of the base system, one per edit {item: answer}."""
    rows = []
    for edit in edits:
        row = ctx["base"].copy()
        for item, answer in edit.items():
            row[f"ans_{item}"] = answer
        rows.append(row)
    frame = pd.concat([ctx["features"], *rows], ignore_index=True)
    out = np.asarray(ctx["module"].predict(ctx["model"], frame), float)
    return out[-len(edits):]


def _swing(ctx, items):
    """How much the estimate moves when the base system's answers on ``items`` go from right to wrong."""
    right = {i: float(ctx["gold"][i]) for i in items}
    wrong = {i: float((ctx["gold"][i] + 1) % CLASSES) for i in items}
    a, b = _estimates(ctx, [right, wrong])
    return abs(float(a - b))


def benchmark_items_scored(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    bench = [i for i in ctx["gold"] if i.startswith("ob_")]
    swing = _swing(ctx, bench)
    return ("present" if swing > 1e-6 else "fixed"), (
        f"the estimate moves by {swing:.4f} when one system's {len(bench)} ob_ answers go from all right to all wrong")


def duplicate_items_counted(ctx):
    if ctx["model"] is None or not ctx["copies"]:
        return "unknown", ctx["error"] or "no duplicated item found in data/train.csv"
    group = max(ctx["copies"], key=len)
    same = [i for i in ctx["single"] if ctx["gold"][i] == ctx["gold"][group[0]]]
    dup, one = _swing(ctx, group), _swing(ctx, same[:1])
    if one == 0.0:
        return "unknown", "a single item's answer does not move the estimate"
    return ("present" if dup > 1.5 * one else "fixed"), (
        f"an item imported {len(group)} times moves the estimate {dup / one:.1f}x as much as a single item of its class")


def unanswered_items_dropped(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    row = ctx["base"].iloc[0]
    wrong = [i for i in ctx["single"] if not np.isnan(row[f"ans_{i}"]) and row[f"ans_{i}"] != ctx["gold"][i]]
    blank = {i: np.nan for i in wrong[: max(1, len(wrong) // 2)]}
    kept, blanked = _estimates(ctx, [{}, blank])
    moved = float(blanked - kept)
    return ("present" if abs(moved) > 1e-6 else "fixed"), (
        f"blanking {len(blank)} wrong answers of one system moves its estimate by {moved:+.4f}")


def micro_averaged_accuracy(ctx):
    if ctx["model"] is None:
        return "unknown", ctx["error"]
    counts = pd.Series([ctx["gold"][i] for i in ctx["single"]]).value_counts()
    rare, common = int(counts.idxmin()), int(counts.idxmax())
    pick = {c: next(i for i in ctx["single"] if ctx["gold"][i] == c) for c in (rare, common)}
    r, c = _swing(ctx, [pick[rare]]), _swing(ctx, [pick[common]])
    if c == 0.0:
        return "unknown", "a majority-class item's answer does not move the estimate"
    return ("present" if r < 1.5 * c else "fixed"), (
        f"a class-{rare} item moves the estimate {r / c:.1f}x as much as a class-{common} item "
        f"({counts[rare]} and {counts[common]} single items)")


PROBES = {
    "benchmark_items_scored": benchmark_items_scored,
    "duplicate_items_counted": duplicate_items_counted,
    "unanswered_items_dropped": unanswered_items_dropped,
    "micro_averaged_accuracy": micro_averaged_accuracy,
}

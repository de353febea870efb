"""Probes for bike_demand: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace
once under spies; each probe then maps the rows each fit and prediction saw back to dates in
data/train.csv (by the weather readings featurize passes through) and inspects them.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import numpy as np
import pandas as pd
from probekit import SklearnSpy, run_training
from probekit.temporal import (
    closest_source,
    final_fit,
    match_rows,
    recent_coverage,
    trailing_mean,
    validation_before_training,
)

TARGET, TIME, RECENT = "rentals", "date", "rentals_3d_avg"
KEYS = ["temp_c", "humidity", "wind_kmh", "rain_mm"]  # one day's weather identifies the day


def setup():
    spy = SklearnSpy()
    with spy:
        error = run_training("train.py")
    return {"spy": spy, "error": error, "train": pd.read_csv("data/train.csv")}


def lookahead_feature_used(ctx):
    call, train = final_fit(ctx["spy"]), ctx["train"]
    rows = None if call is None else match_rows(call.X, train, KEYS)
    if rows is None or np.mean(rows >= 0) < 0.5:
        return "unknown", f"could not match the final fit's rows to data/train.csv ({ctx['error'] or 'no fit seen'})"
    sources = {"exported": train[RECENT],
               "previous days": trailing_mean(train, time=TIME, target=TARGET, window=3)}
    found = closest_source(call.X, rows, sources)
    (col, rho), (col_h, rho_h) = found["exported"], found["previous days"]
    if rho >= 0.99 and rho > rho_h + 0.005:
        return "present", (f"fitted column {col!r} ranks days like the exported {RECENT} (Spearman {rho:.3f}), "
                           f"which averages the day and the next; best match to the previous 3 days: {rho_h:.3f}")
    return "fixed", (f"no fitted column ranks days like the exported {RECENT} (closest: {col or '-'}, "
                     f"Spearman {rho:.3f}); {col_h or '-'} follows the previous 3 days' mean at {rho_h:.3f}")


def shuffled_time_split(ctx):
    found = validation_before_training(ctx["spy"], ctx["train"], time=TIME, keys=KEYS)
    if found is None:
        return "unknown", f"could not match fitted rows to data/train.csv ({ctx['error'] or 'no fit seen'})"
    if not found:
        return "fixed", "no validation prediction on held-back training days was seen"
    worst = max(found)
    share, n, last = worst
    if share > 0.05:
        return "present", (f"{share:.0%} of {n} validation days fall on or before {last}, the last day "
                           "the model was fitted on")
    return "fixed", (f"every validation day comes after the fitted days (the last fitted day is {last}); "
                     f"{len(found)} validation step(s)")


def stale_final_fit(ctx):
    found = recent_coverage(ctx["spy"], ctx["train"], time=TIME, keys=KEYS)
    if found is None:
        return "unknown", f"could not match the final fit's rows to data/train.csv ({ctx['error'] or 'no fit seen'})"
    seen, n, first = found
    status = "present" if seen < 0.95 else "fixed"
    return status, f"the final fit saw {seen:.0%} of the {n} most recent days (from {first})"


PROBES = {
    "lookahead_feature_used": lookahead_feature_used,
    "shuffled_time_split": shuffled_time_split,
    "stale_final_fit": stale_final_fit,
}

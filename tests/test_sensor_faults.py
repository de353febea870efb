"""sensor_faults: its data problems are where the guide says, and only data exploration shows them.

The data-only problems (a leak column, a unit change at a firmware version, incidents logged as
runs of rows) must show in the training data the candidate explores and be absent from the
production-like held-out data; the starter's code must not name any of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from pitfalls.library.scaffold import load_scaffold


@pytest.fixture(scope="module")
def data():
    return load_scaffold("sensor_faults").dataset()


def test_faults_are_well_under_one_percent_in_both_frames(data):
    assert 0.003 < data.train["fault"].mean() < 0.01
    assert 0.003 < data.heldout["fault"].mean() < 0.01


def test_maintenance_minutes_leak_in_training_only(data):
    """Booked after the fault: it ranks training faults almost alone; in held-out it is noise."""
    tr, ho = data.train, data.heldout
    assert average_precision_score(tr["fault"], tr["maint_minutes"]) > 0.5
    assert average_precision_score(ho["fault"], ho["maint_minutes"]) < 3 * ho["fault"].mean()


def test_vibration_changes_units_with_firmware_and_production_runs_the_new_one(data):
    tr, ho = data.train, data.heldout
    medians = tr.groupby("firmware")["vibration"].median()
    assert 20 < medians["v2.7"] / medians["v3.1"] < 30  # mm/s against in/s
    assert 0.1 < (tr["firmware"] == "v3.1").mean() < 0.4
    assert (ho["firmware"] == "v3.1").all()


def test_incidents_are_runs_in_training_and_single_rows_in_held_out(data):
    def repeated(frame: pd.DataFrame) -> float:
        pos = frame[frame["fault"] == 1].assign(t=lambda f: pd.to_datetime(f["timestamp"]))
        gap = pos.sort_values(["machine_id", "t"]).groupby("machine_id")["t"].diff()
        return float((gap <= pd.Timedelta(minutes=30)).mean())

    assert repeated(data.train) > 0.5
    assert repeated(data.heldout) < 0.05
    assert pd.to_datetime(data.heldout["timestamp"]).min() > pd.to_datetime(data.train["timestamp"]).max()


def test_the_starter_code_names_none_of_the_data_problems():
    """Reading train.py and model.py cannot reveal them: no column of the leak, the units or the
    incidents is mentioned in the candidate's files."""
    scaffold = load_scaffold("sensor_faults")
    text = "\n".join(p.read_text() for p in scaffold.workspace_dir.glob("*.py"))
    for word in ("maint_minutes", "firmware", "vibration", "machine_id", "timestamp", "incident", "25.4"):
        assert word not in text, word


def test_a_random_split_puts_most_validation_faults_next_to_their_own_incident(data):
    """What incident_rows_split_randomly measures: with a random 75/25 split, most validation fault
    rows have a training fault row of the same machine within 30 minutes; with a time split, few do."""
    tr = data.train.assign(t=lambda f: pd.to_datetime(f["timestamp"]))
    rng = np.random.default_rng(0)

    def near_share(valid: np.ndarray) -> float:
        faults = tr[tr["fault"] == 1]
        fit, val = faults[~valid[faults.index]], faults[valid[faults.index]]
        hits = [((fit["machine_id"] == r.machine_id) & ((fit["t"] - r.t).abs() <= pd.Timedelta(minutes=30))).any()
                for r in val.itertuples()]
        return float(np.mean(hits))

    random_split = rng.random(len(tr)) < 0.25
    time_split = np.arange(len(tr)) >= int(0.75 * len(tr))
    assert near_share(random_split) > 0.6
    assert near_share(time_split) < 0.1

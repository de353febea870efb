"""sensor_faults: rank machine sensor readings by fault risk (scikit-learn, tabular, faults well under 1%).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import change_units_at_version, inject_missing, relog_incidents, sensor_fleet, sensor_log
from pitfalls.library.scaffold import Dataset

DAYS = 90
TRAIN_NORMAL, TRAIN_INCIDENTS = 36_000, 50
HELDOUT_NORMAL, HELDOUT_INCIDENTS = 20_000, 110
HELDOUT_SPAN = (1.0, 1.33)  # the month after the training export
GAPS = ["temperature_c", "vibration", "pressure_bar", "current_a", "acoustic_db"]
GAP_RATE = 0.02
LEAK = "maint_minutes"
REPAIR_LOGGED = 0.9
"""Share of fault incidents whose repair was booked on the same shift (the leak's strength)."""
ROUTINE = 0.04
"""Share of readings on a shift with routine maintenance booked (the column's honest values)."""


def _maintenance(frame: pd.DataFrame, rng: np.random.Generator, *, randomize: bool) -> tuple[pd.DataFrame, dict]:
    """Minutes of maintenance booked on the reading's machine and shift, joined from the work-order
    system at export time: it includes the repair that followed a fault. Held-out rows get the
    routine bookings only, independent of the outcome, as a reading scored live would."""
    n = len(frame)
    minutes = np.where(rng.random(n) < ROUTINE, rng.integers(10, 60, n), 0)
    if not randomize:
        repaired = (frame["fault"].to_numpy() == 1) & (rng.random(n) < REPAIR_LOGGED)
        runs = (frame["fault"].to_numpy() == 1) & (frame["fault"].shift(1).fillna(0).to_numpy() == 1)
        repaired = _follow_runs(repaired, runs)
        minutes = np.where(repaired, rng.integers(30, 240, n), minutes)
        minutes = np.where(runs, _carry(minutes, runs), minutes)
    out = frame.copy()
    out.insert(len(out.columns) - 1, LEAK, minutes)
    return out, {"id": "target_leakage", "column": LEAK, "strength": REPAIR_LOGGED,
                 "heldout": "independent of the label"}


def _follow_runs(flags: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """A re-logged row (``runs``) takes the flag of the first row of its incident."""
    out = flags.copy()
    for i in np.flatnonzero(runs):
        out[i] = out[i - 1]
    return out


def _carry(values: np.ndarray, runs: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i in np.flatnonzero(runs):
        out[i] = out[i - 1]
    return out


def make_dataset(seed: int) -> Dataset:
    """Train: a quarter of a 40-machine fleet's readings, ~0.6% fault rows (50 incidents, each
    re-logged a minute apart until acknowledged), vibration in in/s once a machine runs firmware v3.1,
    the shift's maintenance minutes joined after the fact, 2% sensor gaps. Held-out: the next
    month, every machine on v3.1, one row per incident, routine maintenance only, the same gaps."""
    rng = np.random.default_rng(seed)
    fleet = sensor_fleet(rng)
    train = sensor_log(fleet, rng, normal=TRAIN_NORMAL, incidents=TRAIN_INCIDENTS, start="2025-01-06", days=DAYS)
    heldout = sensor_log(fleet, rng, normal=HELDOUT_NORMAL, incidents=HELDOUT_INCIDENTS, start="2025-01-06",
                         days=DAYS, span=HELDOUT_SPAN)
    train, q_repeat = relog_incidents(train, target="fault", entity="machine_id", time="timestamp", rng=rng)
    train, q_leak = _maintenance(train, rng, randomize=False)
    heldout, _ = _maintenance(heldout, rng, randomize=True)
    units = {"column": "vibration", "by": "firmware", "versions": ["v3.1"], "factor": 1 / 25.4}
    train, q_units = change_units_at_version(train, **units)
    heldout, _ = change_units_at_version(heldout, **units)
    train, q_gaps = inject_missing(train, columns=GAPS, rate=GAP_RATE, rng=rng)
    heldout, _ = inject_missing(heldout, columns=GAPS, rate=GAP_RATE, rng=rng)
    train = train.sort_values("timestamp", kind="stable").reset_index(drop=True)
    heldout = heldout.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=[q_leak, q_units, q_repeat, q_gaps])

"""Machine sensor logs with rare faults, and two quirks of such logs.

:func:`sensor_fleet` and :func:`sensor_log` draw a synthetic fleet's readings (temperature,
vibration, pressure, motor current, speed, noise level) with rare fault incidents of three kinds
(bearing wear, overheating, a leaking seal), each a signature over several sensors. The fleet's
controllers move from firmware v2.7 to v3.1 on per-machine dates.

Quirk kinds:

- ``repeated_incidents`` (Q05 for one class): an alarm re-logs the reading every minute until
  someone acknowledges it, so one fault incident becomes a run of near-identical fault rows of
  one machine. A random row split then puts rows of one incident on both sides: validation
  recognises incidents instead of predicting new ones. :func:`relog_incidents` plants it; the
  detector counts fault rows that follow another fault row of the same machine within minutes.
- ``unit_change`` (Q09 at a version boundary): a firmware release reports a sensor in other units
  (vibration in in/s instead of mm/s, /25.4). :func:`change_units_at_version` plants it; the
  detector compares the column's median between rows of the new versions and the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Detection, Example, Quirk, register

__all__ = ["SENSORS", "change_units_at_version", "relog_incidents", "sensor_fleet", "sensor_log"]

SENSORS = ["temperature_c", "vibration", "pressure_bar", "current_a", "rpm", "acoustic_db"]
TYPES = {  # temperature, vibration (mm/s), pressure, current, rpm at full load
    "pump": (55.0, 2.8, 6.0, 18.0, 1450.0),
    "compressor": (68.0, 4.2, 8.5, 32.0, 2950.0),
    "fan": (42.0, 1.9, 1.3, 9.0, 980.0),
}
OLD_FIRMWARE, NEW_FIRMWARE = "v2.7", "v3.1"
REPEAT_WINDOW_MINUTES = 30
REPEAT_SHARE = 0.3
"""repeated_incidents fires when 30% or more of the fault rows follow another fault row of the same
machine within 30 minutes (independent incidents of a 40-machine fleet over weeks almost never do)."""
UNIT_RATIO = 3.0
"""unit_change fires when the column's median differs by 3x or more between the new versions' rows and
the others (each at least 1% of rows): drift and load change a median by tens of percent, units by
a constant factor (25.4, 1.8, 1000)."""


def sensor_fleet(rng: np.random.Generator, *, machines: int = 40,
                 upgrade: tuple[float, float] = (0.6, 1.0)) -> pd.DataFrame:
    """``machines`` machines of random types with their own baselines, and the fraction of the
    training period at which each one's controller moves to firmware v3.1 (beyond 1: after it)."""
    kinds = rng.choice(list(TYPES), machines)
    rows = []
    for i, kind in enumerate(kinds):
        t, v, p, c, r = TYPES[kind]
        rows.append({"machine_id": f"M{i + 1:02d}", "machine_type": kind, "t0": t + rng.normal(0, 2),
                     "v0": v * rng.lognormal(0, 0.12), "p0": p * (1 + rng.normal(0, 0.05)),
                     "c0": c * (1 + rng.normal(0, 0.08)), "rpm0": r * (1 + rng.normal(0, 0.02)),
                     "upgrade": rng.uniform(*upgrade)})
    return pd.DataFrame(rows)


def _readings(fleet: pd.DataFrame, rng: np.random.Generator, n: int, span: tuple[float, float]) -> pd.DataFrame:
    m = fleet.iloc[rng.integers(0, len(fleet), n)].reset_index(drop=True)
    load = rng.beta(4, 2, n)
    out = pd.DataFrame({"frac": rng.uniform(*span, n), "machine_id": m.machine_id, "machine_type": m.machine_type,
                        "upgrade": m.upgrade})
    out["temperature_c"] = m.t0 + 14 * load + rng.normal(0, 2.5, n)
    out["vibration"] = m.v0 * (0.7 + 0.5 * load) * rng.lognormal(0, 0.2, n)
    out["pressure_bar"] = m.p0 * (0.85 + 0.25 * load) * (1 + rng.normal(0, 0.04, n))
    out["current_a"] = m.c0 * (0.5 + 0.6 * load) * (1 + rng.normal(0, 0.05, n))
    out["rpm"] = m.rpm0 * (1 + rng.normal(0, 0.01, n))
    out["acoustic_db"] = 62 + 9 * np.log10(out["vibration"]) + 6 * load + rng.normal(0, 1.5, n)
    out["fault"] = 0
    return out


def _fail(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Each row becomes a fault reading of a random kind and severity."""
    n, out = len(frame), frame.copy()
    s = rng.uniform(0.8, 2.0, n)
    mode = rng.choice(["bearing", "overheat", "seal"], n)
    for name, changes in {
        "bearing": [("vibration", "*", 1.2), ("acoustic_db", "+", 3.5), ("temperature_c", "+", 2.0)],
        "overheat": [("temperature_c", "+", 9.0), ("current_a", "*", 0.09), ("vibration", "*", 0.25)],
        "seal": [("pressure_bar", "*", -0.18), ("current_a", "*", -0.06), ("vibration", "*", 0.4)],
    }.items():
        rows = mode == name
        for col, how, size in changes:
            if how == "*":
                out.loc[rows, col] = out.loc[rows, col] * (1 + size * s[rows])
            else:
                out.loc[rows, col] = out.loc[rows, col] + size * s[rows]
    out["fault"] = 1
    return out


def sensor_log(fleet: pd.DataFrame, rng: np.random.Generator, *, normal: int, incidents: int,
               start: str, days: float, span: tuple[float, float] = (0.0, 1.0)) -> pd.DataFrame:
    """``normal`` ordinary readings and ``incidents`` fault readings (one row each) at random times of
    ``span`` (fractions of a period of ``days`` days from ``start``), sorted by time. Columns:
    timestamp (text, to the minute), machine_id, machine_type, firmware, SENSORS, fault. Vibration is
    in mm/s throughout (see :func:`change_units_at_version`)."""
    frame = pd.concat([_readings(fleet, rng, normal, span), _fail(_readings(fleet, rng, incidents, span), rng)],
                      ignore_index=True)
    frame["firmware"] = np.where(frame["frac"] >= frame["upgrade"], NEW_FIRMWARE, OLD_FIRMWARE)
    stamp = pd.Timestamp(start) + pd.to_timedelta(np.round(frame["frac"] * days * 1440), unit="min")
    frame.insert(0, "timestamp", stamp.dt.strftime("%Y-%m-%d %H:%M"))
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    decimals = {"temperature_c": 1, "vibration": 3, "pressure_bar": 3, "current_a": 2, "rpm": 0, "acoustic_db": 1}
    for col, d in decimals.items():
        frame[col] = frame[col].round(d)
    return frame[["timestamp", "machine_id", "machine_type", "firmware", *SENSORS, "fault"]]


# -- repeated_incidents -----------------------------------------------------------------------

def _runs(frame: pd.DataFrame, *, target: str, entity: str, time: str, window: int) -> tuple[int, int]:
    """(positive rows that follow another positive row of their entity within ``window`` minutes, positive rows)."""
    pos = frame[frame[target] == 1]
    if len(pos) == 0:
        return 0, 0
    stamps = pd.to_datetime(pos[time])
    minutes = ((stamps - stamps.min()).dt.total_seconds() / 60).to_numpy()
    order = pd.DataFrame({"e": pos[entity].to_numpy(), "t": minutes}).sort_values(["e", "t"], kind="stable")
    gap = order.groupby("e")["t"].diff()
    return int((gap <= window).sum()), len(pos)


def _detect_repeats(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Share of fault rows that follow another fault row of the same machine within the window."""
    window = quirk.get("window_minutes", REPEAT_WINDOW_MINUTES)
    repeated, total = _runs(train, target=target, entity=quirk["entity"], time=quirk["time"], window=window)
    share = repeated / max(total, 1)
    return Detection(total >= 10 and share >= REPEAT_SHARE,
                     f"{repeated} of {total} positive rows follow another positive row of the same "
                     f"{quirk['entity']} within {window} minutes: share {share:.2f} (threshold {REPEAT_SHARE})")


def _heldout_repeats(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                     target: str) -> Detection:
    """Held-out positive rows within the window of a training positive row of the same entity (any)."""
    if heldout is None:
        return Detection(False, "no held-out data")
    window = quirk.get("window_minutes", REPEAT_WINDOW_MINUTES)
    both = pd.concat([train.assign(_part=0), heldout.assign(_part=1)], ignore_index=True)
    together, _ = _runs(both, target=target, entity=quirk["entity"], time=quirk["time"], window=window)
    alone = sum(_runs(f, target=target, entity=quirk["entity"], time=quirk["time"], window=window)[0]
                for f in (train, heldout))
    shared = together - alone
    return Detection(shared > 0, f"{shared} held-out positive rows within {window} minutes of a training "
                                 f"positive row of the same {quirk['entity']} (threshold: any)")


def _example_repeats(seed: int) -> Example:
    rng = np.random.default_rng([seed, 31])
    fleet = sensor_fleet(rng)
    clean = sensor_log(fleet, rng, normal=3000, incidents=40, start="2025-01-06", days=60)
    planted, quirk = relog_incidents(clean, target="fault", entity="machine_id", time="timestamp", rng=rng)
    return Example("fault", clean, None, planted, None, quirk)


@register(id="repeated_incidents", ref="Q05", detect=_detect_repeats, example=_example_repeats,
          heldout_leak=_heldout_repeats)
def relog_incidents(df: pd.DataFrame, *, target: str, entity: str, time: str, rng: np.random.Generator,
                    mean_rows: float = 4.5, max_rows: int = 30, noise: float = 0.004) -> tuple[pd.DataFrame, Quirk]:
    """Log every positive row again once a minute until acknowledged: a run of ``k`` rows (geometric,
    mean ``mean_rows``, at most ``max_rows``) with numeric features times ``1 + noise * N(0, 1)``
    (rounded like the column), placed after the original in row order."""
    pos = np.flatnonzero(df[target].to_numpy() == 1)
    k = np.minimum(rng.geometric(1 / mean_rows, len(pos)), max_rows)
    numeric = [c for c in df.columns if c != target and pd.api.types.is_numeric_dtype(df[c])]
    stamps = pd.to_datetime(df[time])
    copies = []
    for row, runs in zip(pos, k, strict=True):
        block = df.iloc[np.repeat(row, runs - 1)].copy()
        step = np.arange(1, runs)
        block[time] = (stamps.iloc[row] + pd.to_timedelta(step, unit="min")).strftime("%Y-%m-%d %H:%M")
        for col in numeric:
            decimals = _decimals(df[col])
            block[col] = np.round(block[col].to_numpy(dtype=float) * (1 + noise * rng.standard_normal(len(block))),
                                  decimals)
        copies.append((row, block))
    parts, last = [], 0
    for row, block in copies:
        parts += [df.iloc[last:row + 1], block]
        last = row + 1
    out = pd.concat([*parts, df.iloc[last:]], ignore_index=True)
    return out, {"id": "repeated_incidents", "entity": entity, "time": time, "incidents": len(pos),
                 "rows": int(k.sum()), "window_minutes": REPEAT_WINDOW_MINUTES}


def _decimals(column: pd.Series) -> int:
    """The fewest decimals (up to 6) that hold every value of ``column``."""
    values = column.dropna().to_numpy(dtype=float)
    for d in range(7):
        if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9):
            return d
    return 6


# -- unit_change --------------------------------------------------------------------------------

def _detect_units(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """The column's median in rows of the new versions against the other rows."""
    col, by = quirk["column"], quirk["by"]
    new = train[by].astype(str).isin([str(v) for v in quirk["versions"]])
    values = pd.to_numeric(train[col], errors="coerce")
    if min(new.mean(), 1 - new.mean()) < 0.01:
        return Detection(False, f"{new.mean():.1%} of rows have {by} in {quirk['versions']}: too few to compare")
    a, b = float(values[new].median()), float(values[~new].median())
    ratio = max(abs(a), abs(b)) / max(min(abs(a), abs(b)), 1e-12)
    return Detection(ratio >= UNIT_RATIO, f"median {col} {a:.4g} where {by} in {quirk['versions']}, {b:.4g} "
                                          f"elsewhere: ratio {ratio:.1f} (threshold {UNIT_RATIO})")


def _example_units(seed: int) -> Example:
    rng = np.random.default_rng([seed, 37])
    clean = sensor_log(sensor_fleet(rng), rng, normal=3000, incidents=20, start="2025-01-06", days=60)
    planted, quirk = change_units_at_version(clean, column="vibration", by="firmware", versions=[NEW_FIRMWARE],
                                             factor=1 / 25.4)
    return Example("fault", clean, None, planted, None, quirk)


@register(id="unit_change", ref="Q09", detect=_detect_units, example=_example_units)
def change_units_at_version(df: pd.DataFrame, *, column: str, by: str, versions: list[str], factor: float,
                            decimals: int = 4) -> tuple[pd.DataFrame, Quirk]:
    """Multiply ``column`` by ``factor`` (then round) in rows whose ``by`` is one of ``versions``:
    a release that reports the quantity in other units (catalog Q09, at a version boundary)."""
    out = df.copy()
    rows = out[by].astype(str).isin([str(v) for v in versions]).to_numpy()
    out[column] = out[column].astype(float)
    out.loc[rows, column] = np.round(out.loc[rows, column].to_numpy(dtype=float) * factor, decimals)
    return out, {"id": "unit_change", "column": column, "by": by, "versions": list(versions),
                 "factor": factor, "rows": int(rows.sum())}

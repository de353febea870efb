"""How long one submission holds the scorer, per scaffold: the inputs of bench/simulate_day.py.

    $ .venv/bin/python bench/scoring_times.py [--scaffolds NAME,...] [--runs 1]

Per scaffold, in a private installation (own PITFALLS_HOME and scheduler folder): an untimed
warm-up submission (anchors, page cache), then ``--runs`` times `pitfalls submit --dir WS --json`
of the reference solution (default options: probes in the background), timed from outside, and the
wait for its background probes. Reported per scaffold: the user's latency (process wall time), the
submit lane's slot hold (training + prediction, from the JSON's ``timings``), and how long after
the score the probes were done (the probe lane's hold, since nothing else runs). On a loaded host
wall times stretch with the load; the "dedicated" columns estimate the holds on a core of its own:
training's CPU seconds (``train_cpu_seconds``, from the job's cgroup) instead of its wall time, and
the probes' wall time scaled by the same CPU/wall share. The load average before and after each
scaffold is printed: read the numbers with it.

The last line is a Python dict to paste into ``SCORING_SECONDS`` of bench/simulate_day.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import _submitting as bench

OVERHEAD_SECONDS = 0.3
"""Trusted work inside the slot besides training and prediction (counting, staging, scoring)."""


def measure(name: str, tmp: Path, runs: int) -> dict[str, float]:
    """Median latency, submit-lane hold and probe hold of ``name``'s reference (``runs`` runs)."""
    warm = bench.reference_workspace(name, tmp / f"{name}-warm")
    bench.submit(warm, "--no-probes")
    lat, hold, cpu_hold, probe, queued = [], [], [], [], []
    for i in range(runs):
        ws = bench.reference_workspace(name, tmp / f"{name}-{i}")
        got = bench.submit(ws)
        if got.status != "scored":
            raise SystemExit(f"The reference of {name} must score. Got {got.status}: {got.message[:300]} instead.")
        probe.append(bench.wait_probes(ws))
        lat.append(got.wall)
        t = got.timings
        hold.append(t.get("train_seconds", 0.0) + t.get("predict_seconds", 0.0) + OVERHEAD_SECONDS)
        train_cpu = t.get("train_cpu_seconds", t.get("train_seconds", 0.0))
        cpu_hold.append(min(train_cpu, t.get("train_seconds", 0.0)) + t.get("predict_seconds", 0.0) + OVERHEAD_SECONDS)
        queued.append(t.get("queued_seconds", 0.0))
    share = statistics.median(cpu_hold) / statistics.median(hold)
    return {"latency": statistics.median(lat), "submit_hold": statistics.median(hold),
            "probe_hold": statistics.median(probe), "queued": statistics.median(queued),
            "dedicated_submit": statistics.median(cpu_hold),
            "dedicated_probe": statistics.median(probe) * share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaffolds", default="", help="comma-separated; default: every scaffold in the library")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("PITFALLS_VARIANT", "base")  # the shipped files, which the reference expects
    home, _ = bench.setup_installation("scoring-times")
    from pitfalls.library.scaffold import scaffold_names

    names = [n for n in args.scaffolds.split(",") if n.strip()] or list(scaffold_names())
    rows, table = [], {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scoring-times-") as tmp:
            for name in names:
                before = os.getloadavg()[0]
                try:
                    got = measure(name, Path(tmp), args.runs)
                except SystemExit as exc:  # one scaffold's failure must not hide the others' figures
                    print(f"  {name}: skipped: {exc}", flush=True)
                    continue
                after = os.getloadavg()[0]
                table[name] = (round(got["dedicated_submit"], 1), round(got["dedicated_probe"], 1))
                rows.append([name, f"{got['latency']:.1f} s", f"{got['queued']:.1f} s", f"{got['submit_hold']:.1f} s",
                             f"{got['probe_hold']:.1f} s", f"{got['dedicated_submit']:.1f} s",
                             f"{got['dedicated_probe']:.1f} s", f"{before:.1f} / {after:.1f}"])
                print("  " + "  ".join(rows[-1]), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n`{bench.command_line()}`:\n")
    print(bench.markdown(["scaffold", "submit latency", "queued", "submit slot hold", "probes done after",
                          "dedicated submit hold", "dedicated probe hold", "load avg before / after"], rows))
    print(f"\nSCORING_SECONDS = {table!r}  # (submit hold, probe hold) on a dedicated core")


if __name__ == "__main__":
    main()

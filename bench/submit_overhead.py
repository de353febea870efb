"""What a submission costs as users feel it: `pitfalls submit` next to a bare train + predict.

    $ .venv/bin/python bench/submit_overhead.py [--repeats 3] [--scaffolds tumor_triage,...] [--load N]

For each scaffold's reference solution (a practice workspace with scaffolds/NAME/solution/*
copied over the starter), in interleaved rounds on the same machine (the order rotates every
round; the median of ``--repeats`` is shown; read the ratios, not the seconds):

- **bare**: `python train.py` in a copy of the workspace, then a second process that loads the
  artifact with the workspace's `model.py` (`load_model`, `predict`) and predicts the public
  `data/train.csv` without its target (the candidate's own data: the held-out set stays with the
  runner). Both run with the caller's environment, as a candidate would run them;
- **submit**: `pitfalls submit --dir WS --json` with default options, the command users run (the
  probes start in the background after the score; the bench waits for them, untimed, before the
  next run, and shows when they were done);
- **--no-probes**: `pitfalls submit --dir WS --json --no-probes`.

Each submission uses a fresh workspace (its own session), so no rate limit is reached. The
installation is private (its own PITFALLS_HOME; its own scheduler folder unless PITFALLS_SCHED_DIR
is set), and its anchors are measured once per scaffold before any timing. ``--load N`` starts N
busy-loop processes (CPU hogs, outside the scheduler, like other work on the host) for the whole
run and shows the 1-minute load average of each row.

Goals (issue 13): submit <= 1.2x bare on a quiet machine, <= 1.3x at load average 4.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _submitting as bench

PREDICT = """
import importlib, sys
import numpy as np, pandas as pd
sys.path.insert(0, '.')
m = importlib.import_module({module!r})
model = m.load_model({artifact!r})
np.asarray(m.predict(model, pd.read_csv('data/train.csv').drop(columns=[{target!r}])))
"""

HOG = "while True: pass"


def bare_runner(name: str, workspace: Path, tmp: Path) -> Callable[[], float]:
    """A function that times `python train.py` + a bare predict in a copy of ``workspace``."""
    from pitfalls.library.scaffold import load_scaffold

    m = load_scaffold(name).manifest
    code = PREDICT.format(module=Path(m.predict_files[0]).stem, artifact=m.artifact_path, target=m.task.target)
    src = tmp / "bare"
    shutil.copytree(workspace, src, ignore=shutil.ignore_patterns(".pitfalls.json"))

    def run() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "train.py"], cwd=src, check=True, capture_output=True)
        subprocess.run([sys.executable, "-c", code], cwd=src, check=True, capture_output=True)
        return time.perf_counter() - start

    return run


def submit_runner(name: str, tmp: Path, *extra: str, probes: list[float] | None = None) -> Callable[[], float]:
    """A function that times `pitfalls submit [EXTRA]` on a fresh reference workspace; with
    ``probes``, it then waits for the background probes and appends when they were done."""
    count = iter(range(10**6))

    def run() -> float:
        ws = bench.reference_workspace(name, tmp / f"ws-{'-'.join(extra) or 'default'}-{next(count)}")
        got = bench.submit(ws, *extra)
        if got.status != "scored":
            raise SystemExit(f"{name}: pitfalls submit {' '.join(extra)} must score the reference. "
                             f"Got {got.status} instead: {got.message}")
        if probes is not None:
            probes.append(got.wall + bench.wait_probes(ws))
        return got.wall

    return run


def measure(name: str, repeats: int) -> dict[str, float]:
    """Median seconds of bare / submit / --no-probes for one scaffold, plus probes-done time."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp_name:
        tmp = Path(tmp_name)
        first = bench.reference_workspace(name, tmp / "first")  # anchors measured here, untimed
        probes: list[float] = []
        runs = {"bare": bare_runner(name, first, tmp),
                "submit": submit_runner(name, tmp, probes=probes),
                "no_probes": submit_runner(name, tmp, "--no-probes")}
        runs["bare"]()  # warm-up: page cache, compiled bytecode
        bench.submit(first, "--no-probes")
        times: dict[str, list[float]] = {k: [] for k in runs}
        keys = list(runs)
        for r in range(repeats):
            for key in keys[r % len(keys):] + keys[: r % len(keys)]:
                times[key].append(runs[key]())
    out = {k: statistics.median(v) for k, v in times.items()}
    out["probes_done"] = statistics.median(probes)
    return out


def start_hogs(n: int) -> list[subprocess.Popen]:
    """N busy-loop processes (outside the scheduler, like any other work on the host)."""
    return [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is shown")
    parser.add_argument("--scaffolds", default="", help="comma-separated names (default: all)")
    parser.add_argument("--load", type=int, default=0, help="CPU hog processes running throughout")
    args = parser.parse_args()
    home, sched_dir = bench.setup_installation("submit")
    from pitfalls.library.scaffold import scaffold_names

    names = [n.strip() for n in args.scaffolds.split(",") if n.strip()] or scaffold_names()
    hogs = start_hogs(args.load)
    print(f"PITFALLS_HOME={home} PITFALLS_SCHED_DIR={sched_dir}; {args.load} CPU hogs; median of "
          f"{args.repeats} interleaved rounds", flush=True)
    header = ["scaffold", "bare train+predict", "submit", "ratio", "submit --no-probes", "ratio",
              "probes done after", "load avg"]
    rows = []
    try:
        for name in names:
            t = measure(name, args.repeats)
            b = t["bare"]
            rows.append([name, f"{b:.2f} s", f"{t['submit']:.2f} s", f"{t['submit'] / b:.2f}x",
                         f"{t['no_probes']:.2f} s", f"{t['no_probes'] / b:.2f}x",
                         f"{t['probes_done']:.1f} s", f"{bench.loadavg():.1f}"])
            print("  ".join(rows[-1]), flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n`{bench.command_line()}`:\n")
    print(bench.markdown(header, rows))


if __name__ == "__main__":
    main()

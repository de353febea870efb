"""Runner overhead per scaffold: submit-to-score next to a bare fit+predict of the same code.

    $ .venv/bin/python bench/runner_overhead.py [--rounds 3] [--no-docker] [--scaffold NAME]

For each scaffold's reference solution, in interleaved rounds on the same machine (noisy: read
the ratios, not the seconds):

- **bare**: one Python process runs `train.py`, then `load_model` + `predict` on the held-out
  features (no sandbox, no measuring, no scoring);
- **runner**: `pitfalls.service.api.submit(probes=False)` on a practice workspace: snapshot, SQLite rows,
  sandboxed training (bubblewrap, cgroup limits, no network), trusted artifact measuring and
  rewriting, sandboxed prediction, trusted scoring;
- **docker**: the bare process inside `docker run --network none` of the candidate image (what a
  Docker container per scoring run would cost instead of the bubblewrap sandbox).

Goals (issue 5): runner <= 1.15x bare; a Docker sandbox <= 1.4x bare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import runpy, sys, importlib
import numpy as np, pandas as pd
sys.path.insert(0, '.')
sys.argv = ['train.py']
runpy.run_path('train.py', run_name='__main__')
m = importlib.import_module({module!r})
model = m.load_model({artifact!r})
np.asarray(m.predict(model, pd.read_csv('heldout_features.csv')))
"""


def _prepare(name: str, tmp: Path) -> tuple[object, Path, str]:
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.variants import materialize
    from pitfalls.library.workspace import write_training_data

    scaffold = load_scaffold(name)
    m = scaffold.manifest
    src = materialize(scaffold=scaffold, target=tmp / "src", reference=True)
    write_training_data(scaffold=scaffold, directory=src)
    scaffold.dataset().heldout.drop(columns=[m.task.target]).to_csv(src / "heldout_features.csv", index=False)
    code = BARE.format(module=Path(m.predict_files[0]).stem, artifact=m.artifact_path)
    return scaffold, src, code


def bare(src: Path, code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=src, check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "2"})
    return time.perf_counter() - start


def docker(src: Path, code: str, image: str) -> float:
    work = src.parent / "docker-src"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src, work)
    for path in [work, *work.rglob("*")]:
        os.lchown(path, 1000, 1000)
    start = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "1000:1000", "--memory", "4g",
                    "--cpus", "2", "-e", "OMP_NUM_THREADS=2", "-v", f"{work}:/w", "-w", "/w", image,
                    "python", "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def runner(name: str, tmp: Path, src: Path) -> float:
    from pitfalls.service import api

    ws = tmp / f"ws-{time.monotonic_ns()}"
    api.start_practice(name=name, directory=ws)
    for f in src.iterdir():  # the reference solution's files over the starter
        if f.suffix == ".py":
            shutil.copy(f, ws / f.name)
    start = time.perf_counter()
    res = api.submit(directory=ws, probes=False)
    elapsed = time.perf_counter() - start
    assert res.status == "scored", res.message
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--scaffold", action="append", default=None)
    args = parser.parse_args()
    os.environ["PITFALLS_HOME"] = tempfile.mkdtemp(prefix="pitfalls-bench-overhead-")
    from pitfalls.library.scaffold import scaffold_names
    from pitfalls.live import containers

    image = None if args.no_docker else containers.ensure_image()
    print(f"{'scaffold':22} {'bare s':>7} {'runner s':>9} {'ratio':>6} {'docker s':>9} {'ratio':>6}"
          f"   (median of {args.rounds} interleaved rounds)", flush=True)
    for name in args.scaffold or scaffold_names():
        with tempfile.TemporaryDirectory() as tmp:
            _, src, code = _prepare(name, Path(tmp))
            b, r, d = [], [], []
            for _ in range(args.rounds):
                b.append(bare(src, code))
                r.append(runner(name, Path(tmp), src))
                if image:
                    d.append(docker(src, code, image))
        mb, mr = statistics.median(b), statistics.median(r)
        md = statistics.median(d) if d else float("nan")
        print(f"{name:22} {mb:7.2f} {mr:9.2f} {mr / mb:6.2f} {md:9.2f} {md / mb:6.2f}", flush=True)


if __name__ == "__main__":
    main()

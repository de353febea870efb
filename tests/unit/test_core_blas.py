"""runner/core/blas.py: BLAS calls in threads beside a thread that forks finish (they hung with
OpenBLAS's own threads: `pitfalls check income_screen` spun in the copula sampler's matrix product
for 40 minutes in CI)."""

from __future__ import annotations

import subprocess
import sys

import threadpoolctl

from pitfalls.core import blas

RACE = """
import subprocess, sys, threading, time
import numpy as np
from pitfalls.core import blas
if sys.argv[1] == "limited":
    blas.single_threaded()
stop = time.monotonic() + 4
done = {"products": 0, "forks": 0}

def products():
    rng = np.random.default_rng(0)
    while time.monotonic() < stop:
        a = rng.standard_normal((7000, 15))  # the copula sampler's shapes (datasets/synthetic.py)
        _ = a @ np.linalg.cholesky(np.corrcoef(a, rowvar=False) + np.eye(15)).T
        done["products"] += 1

def forks():  # what starting a sandbox does: Popen with a preexec_fn forks
    while time.monotonic() < stop:
        subprocess.run(["true"], preexec_fn=lambda: None)
        done["forks"] += 1

threads = [threading.Thread(target=products, daemon=True) for _ in range(3)]
threads.append(threading.Thread(target=forks, daemon=True))
for t in threads:
    t.start()
for t in threads:
    t.join(20)
print(sum(t.is_alive() for t in threads), done["products"], done["forks"], flush=True)
"""


def test_every_loaded_blas_library_runs_one_thread():
    blas.single_threaded()
    found = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert found and all(i["num_threads"] == 1 for i in found), found


def test_a_process_that_loads_a_scaffold_runs_one_blas_thread():
    """Where the runner calls it: loading any scaffold's hooks (a fresh process, not this one)."""
    code = ("import threadpoolctl\nfrom pitfalls.library.scaffold import load_scaffold\n"
            "before = {i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'}\n"
            "load_scaffold('tumor_triage')\n"
            "print(sorted(before), sorted({i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split("] [")[-1].strip() == "1]", (proc.stdout, proc.stderr[-2000:])


def test_blas_in_threads_beside_forks_finishes():
    proc = subprocess.run([sys.executable, "-c", RACE, "limited"], capture_output=True, text=True, timeout=90)
    alive, products, forks = map(int, proc.stdout.split())
    assert alive == 0 and products > 50 and forks > 20, (proc.stdout, proc.stderr[-2000:])

"""Reference fit+predict time per scaffold: a bare run next to the sandboxed runner, same machine,
interleaved rounds (this machine is noisy; compare the ratio, not the seconds).

    $ .venv/bin/python bench/reference_times.py [--rounds 3]

"bare" = `python train.py` then a plain `python -c 'load_model; predict'` in the workspace,
no sandbox. "runner" = pitfalls.pipeline.evaluate (sandboxed training, trusted counting,
sandboxed prediction, trusted scoring).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pitfalls.pipeline import evaluate
from pitfalls.scaffold import load_scaffold, scaffold_names
from pitfalls.variants import materialize
from pitfalls.workspace import write_training_data

PREDICT = """
import pandas as pd, numpy as np, importlib
m = importlib.import_module({module!r})
model = m.load_model({artifact!r})
np.save('/dev/null', np.asarray(m.predict(model, pd.read_csv('heldout_features.csv'))))
"""


def bare(scaffold, src: Path) -> float:
    m = scaffold.manifest
    scaffold.dataset().heldout.drop(columns=[m.task.target]).to_csv(src / "heldout_features.csv", index=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "train.py"], cwd=src, check=True, capture_output=True)
    code = PREDICT.format(module=Path(m.predict_files[0]).stem, artifact=m.artifact_path)
    subprocess.run([sys.executable, "-c", code], cwd=src, check=True, capture_output=True)
    return time.perf_counter() - start


def runner(scaffold, src: Path) -> float:
    start = time.perf_counter()
    ev = evaluate(scaffold=scaffold, source=src)
    assert ev.status == "scored", ev.message
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"{'scaffold':16} {'bare s':>8} {'runner s':>9} {'ratio':>6}   (median of {rounds} interleaved rounds)")
    for name in scaffold_names():
        scaffold = load_scaffold(name)
        with tempfile.TemporaryDirectory() as tmp:
            src = materialize(scaffold=scaffold, target=Path(tmp), reference=True)
            write_training_data(scaffold=scaffold, directory=src)
            b, r = [], []
            for _ in range(rounds):
                b.append(bare(scaffold, src))
                r.append(runner(scaffold, src))
        mb, mr = statistics.median(b), statistics.median(r)
        print(f"{name:16} {mb:8.2f} {mr:9.2f} {mr / mb:6.2f}")


if __name__ == "__main__":
    main()

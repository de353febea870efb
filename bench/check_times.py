"""How long `pitfalls check` takes per scaffold, and what the batch sandbox saves.

    $ .venv/bin/python bench/check_times.py [--seeds 5]

Prints, per scaffold: the whole check suite's wall time, then the multi-seed runs of bug_bites
(reference and every reference+bug variant, ``--seeds`` each) two ways, side by side in the same
run: through one batch sandbox that forks a child per run (what `check` uses), and through
`pitfalls.scoring.pipeline.evaluate`, one training and one prediction sandbox per run. Compare the
ratio, not the seconds: the machines are noisy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

from pitfalls.checks.suite import run_checks
from pitfalls.library.scaffold import load_scaffold, scaffold_names
from pitfalls.library.variants import materialize
from pitfalls.scoring.batch import run_batch
from pitfalls.scoring.pipeline import evaluate


def _variants(name: str, tmp: Path) -> dict[str, Path]:
    scaffold = load_scaffold(name)
    out = {"reference": materialize(scaffold=scaffold, target=tmp / "reference", reference=True)}
    for bug in scaffold.manifest.bugs:
        out[bug] = materialize(scaffold=scaffold, target=tmp / bug, reference=True, bug=bug)
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _one_by_one(scaffold, variants: dict[str, Path], seeds: int) -> list:
    """Every (variant, seed) run through its own training and prediction sandboxes."""
    return [evaluate(scaffold=scaffold, source=src, seed=s, enforce_budgets=False)
            for src in variants.values() for s in range(seeds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name in scaffold_names():
        scaffold = load_scaffold(name)
        whole = _timed(partial(run_checks, scaffold=name, seeds=args.seeds))
        with tempfile.TemporaryDirectory() as tmp:
            variants = _variants(name, Path(tmp))
            batch = _timed(partial(run_batch, scaffold=scaffold, variants=variants, seeds=range(args.seeds)))
            single = _timed(partial(_one_by_one, scaffold, variants, args.seeds))
        rows.append((name, whole, len(variants) * args.seeds, batch, single))
        print(f"{name:22} check {whole:6.1f} s   {rows[-1][2]:3d} runs: batch {batch:6.1f} s, "
              f"one sandbox pair per run {single:6.1f} s ({single / batch:4.1f}x)", flush=True)
    print(f"{'all':22} check {sum(r[1] for r in rows):6.1f} s")


if __name__ == "__main__":
    main()

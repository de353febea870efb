"""income_screen's interaction table (GUIDE.md, "Why this is hard").

The starter, the reference, and the reference with one or both data-only bugs put back (their
mutants.toml edits), each trained in a subprocess (SEED 0) on ``make_dataset(seed).train`` and
scored on all held-out rows. Unsandboxed, for authors; ``pitfalls check``'s bug_bites measures
the single-bug rows sandboxed.

    .venv/bin/python scripts/income_screen_interactions.py [DATA_SEEDS, default 11,22,33]
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent / "scaffolds" / "income_screen"
TARGET = "high_income"
FILES = ("model.py", "train.py")
RAW_DEDUP = ("    df = pd.read_csv(path)\n", "    df = pd.read_csv(path).drop_duplicates()\n")
PREDICT = ("import runpy\nrunpy.run_path('train.py', run_name='__main__')\nimport pandas as pd, model\n"
           "m = model.load_model('artifacts/model.skops')\n"
           "pd.DataFrame(model.predict(m, pd.read_csv('heldout.csv'))).to_csv('pred.csv', index=False)\n")


def with_bugs(files: dict[str, str], bugs: list[str]) -> dict[str, str]:
    """``files`` with each bug's mutant edits applied in turn."""
    mutants = tomllib.loads((ROOT / "mutants.toml").read_text())
    files = dict(files)
    for bug in bugs:
        for edit in mutants[bug]:
            assert files[edit["file"]].count(edit["old"]) == 1, (bug, edit["old"][:60])
            files[edit["file"]] = files[edit["file"]].replace(edit["old"], edit["new"])
    return files


def variants() -> dict[str, dict[str, str]]:
    """The table's rows: name -> the two files."""
    solution = {f: (ROOT / "solution" / f).read_text() for f in FILES}
    leak_fixed = with_bugs(solution, ["resubmissions_kept"])
    return {
        "starter": {f: (ROOT / "workspace" / f).read_text() for f in FILES},
        "code fixed, no data fix": with_bugs(solution, ["resubmissions_kept", "leak_feature_used"]),
        "+ leak fixed only": leak_fixed,
        "+ copies removed only": with_bugs(solution, ["leak_feature_used"]),
        "+ leak fixed, raw drop_duplicates": {**leak_fixed, "train.py": leak_fixed["train.py"].replace(*RAW_DEDUP)},
        "reference (both fixed)": solution,
    }


def run(files: dict[str, str], train: pd.DataFrame, heldout: pd.DataFrame, seed: int) -> tuple[float, float]:
    """(validation printed by train.py, held-out ROC AUC) of one variant on one dataset."""
    folder = Path(tempfile.mkdtemp())
    try:
        for name, text in files.items():
            (folder / name).write_text(text)
        (folder / "data").mkdir()
        train.to_csv(folder / "data" / "train.csv", index=False)
        heldout.drop(columns=TARGET).to_csv(folder / "heldout.csv", index=False)
        env = {**os.environ, "SEED": str(seed), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-c", PREDICT], cwd=folder, env=env, capture_output=True,
                             text=True, check=True)
        validation = float(out.stdout.split("validation ROC AUC: ")[1].split()[0])
        proba = pd.read_csv(folder / "pred.csv").to_numpy()[:, 1]
        return validation, roc_auc_score(heldout[TARGET], proba)
    finally:
        shutil.rmtree(folder)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import scaffold  # the scaffold's hooks

    seeds = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [11, 22, 33]
    data = {s: scaffold.make_dataset(s) for s in seeds}
    rows = variants()
    jobs = list(itertools.product(rows, seeds))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: run(rows[job[0]], data[job[1]].train, data[job[1]].heldout, 0), jobs))
    table = pd.DataFrame([(v, s, va, ho) for (v, s), (va, ho) in zip(jobs, results)],
                         columns=["variant", "data_seed", "validation", "heldout"])
    held = table.pivot_table(index="data_seed", columns="variant", values="heldout")
    norm = held.sub(held["starter"], axis=0).div(held["reference (both fixed)"] - held["starter"], axis=0)
    summary = pd.DataFrame({"validation": table.groupby("variant")["validation"].mean(),
                            "heldout": held.mean(), "normalized": norm.mean(),
                            "normalized_min": norm.min(), "normalized_max": norm.max()}).loc[list(rows)]
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()

"""The candidate-facing brief and the starter EDA notebook, rendered from the manifest."""

from __future__ import annotations

from pitfalls.library.contract import contract_lines
from pitfalls.library.metrics import METRICS
from pitfalls.library.scaffold import Scaffold


def budget_lines(scaffold: Scaffold) -> list[str]:
    """Human-readable budget bullet points."""
    b = scaffold.manifest.budgets
    return [f"- Parameters: at most **{b.max_params:,}** numbers in the saved model "
            f"(`{scaffold.manifest.artifact_path}`; buffers and every stored array count).",
            f"- Training time: **{b.train_seconds:g} s** wall clock for `python train.py`, "
            "imports included, on 2 CPU cores.",
            f"- Prediction time: {b.predict_seconds:g} s. Memory: {b.memory_mb:,} MiB. "
            f"Processes: {b.max_processes}.",
            f"- Prediction code: the files {', '.join(scaffold.manifest.predict_files)} "
            f"(at most {b.max_code_kb} KiB in all)."]


def scale_line(scaffold: Scaffold) -> str:
    """The normalized scale in one sentence (runner/library/scale.py), with an example on the
    manifest's ``[calibration]`` means; the dashboard shows the same sentence."""
    from pitfalls.library.scale import scale_sentence

    m = scaffold.manifest
    cal = m.calibration if m.calibration.measured else None
    return scale_sentence(m.task.metric, baseline=cal.baseline_mean if cal else None,
                          reference=cal.reference_mean if cal else None)


def goal_lines(scaffold: Scaffold) -> list[str]:
    """The scale in one sentence and the goal, as a normalized score: its metric value differs per
    installation (runner/scoring/anchors.py)."""
    g = scaffold.manifest.task.goal_normalized
    goal = [] if g is None else [f"- Goal: a **normalized score of {g:.2f}** or more."]
    return [*goal, f"- {scale_line(scaffold)} The starter and the reference are trained and scored on the "
            "same data as you (so a raw score means more next to it: the data differs per installation)."]


def final_line(*, live: bool) -> str:
    """The brief's one line on the final submission (runner/core/finals.py)."""
    how = ("`pitfalls-submit --final \"note\"` or `pitfalls-submit --set-final N`" if live
           else "`pitfalls submit --final` or `pitfalls final N`")
    return (f"- Your **final submission** is the one that counts: the last scored one, unless you choose another "
            f"with {how} (a choice holds until you choose again).")


def preflight_line(scaffold: Scaffold, *, live: bool) -> str:
    """The brief's one line on checking a submission before spending it (runner/scoring/preflight.py)."""
    fb = scaffold.manifest.feedback
    how = "`pitfalls-submit --preflight`" if live else "`pitfalls preflight --dir .`"
    return (f"- Check before you spend a submission: {how} trains your code in the same sandbox, counts "
            "your model against the budgets and runs `predict()` on a few training rows (no score; "
            f"{fb.max_preflights} per {fb.window_minutes:g} minutes).")


PRACTICE_SUBMIT = ['pitfalls preflight --dir .  # budgets and predict() checked, no score, nothing spent',
                   'pitfalls submit --dir . --note "what you changed and why you think it helps"',
                   "pitfalls history --dir .   # your submissions so far",
                   "pitfalls hint --dir .      # stuck? the next hint"]
LIVE_SUBMIT = ["pitfalls-submit --preflight   # budgets and predict() checked, no score, nothing spent",
               'pitfalls-submit "what you changed and why you think it helps"',
               "pitfalls-submit --status   # time left and submissions so far",
               "# from a notebook cell: !pitfalls-submit \"my note\""]


def render_brief(scaffold: Scaffold, *, live: bool = False) -> str:
    """BRIEF.md: the scaffold's story, then the metric, budgets and how to submit.

    ``live``: the workspace of an interview session (the container's ``pitfalls-submit``).
    """
    m = scaffold.manifest
    metric = METRICS[m.task.metric]
    story = (scaffold.root / "brief.md").read_text() if (scaffold.root / "brief.md").exists() else m.summary
    fb = m.feedback
    return "\n".join([
        f"# {m.title}", "", story.strip(), "",
        "## How you are scored", "",
        f"- Metric: **{m.task.metric}** on held-out rows you never see "
        f"({'higher' if metric.higher_is_better else 'lower'} is better).",
        "- Each submission retrains your code from scratch on `data/train.csv` in a sandbox "
        "(no network), then `predict()` in your model file runs on the held-out features.",
        f"- You see the score on a public part of the held-out set; the rest is kept private. "
        f"Up to {fb.max_scored} scored submissions per {fb.window_minutes:g} minutes.",
        "- The public score is rounded and comes with a 95% interval: the public part is a sample of "
        "held-out rows, so two public scores whose intervals overlap may not differ at all.",
        *goal_lines(scaffold),
        final_line(live=live),
        preflight_line(scaffold, live=live),
        "- Edits to `data/train.csv` are ignored: the runner trains on a fresh copy. Clean data in code.",
        "", "## Budgets", "", *budget_lines(scaffold), "",
        "## How to submit", "",
        "In a terminal of JupyterLab:" if live else "From this folder:", "",
        "```bash", *(LIVE_SUBMIT if live else PRACTICE_SUBMIT), "```", "",
        *contract_lines(scaffold), ""])


def render_eda_notebook(scaffold: Scaffold, *, live: bool = False) -> str:
    """A neutral starter notebook: load the data and look at it."""
    import nbformat  # about a second to import (jsonschema): only workspace creation needs it
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    target = scaffold.manifest.task.target
    cells = [
        new_markdown_cell(f"# Exploring the data\n\n{scaffold.manifest.summary}\n\n"
                          "Read `BRIEF.md` first. Nothing in this notebook is scored."),
        new_code_cell("import pandas as pd\nimport numpy as np\n\n"
                      "df = pd.read_csv('data/train.csv')\ndf.shape"),
        new_code_cell("df.head()"),
        new_code_cell("df.describe(include='all').T"),
        new_code_cell(f"df[{target!r}].describe()" if scaffold.manifest.task.prediction == "value"
                      else f"df[{target!r}].value_counts()"),
        new_code_cell("df.isna().sum().sort_values(ascending=False).head(10)"),
        new_markdown_cell("Run the training script from here or from a terminal:"),
        new_code_cell("!python train.py"),
        *([new_markdown_cell("Submit for scoring (your code is retrained outside this container): run "
                             "`!pitfalls-submit \"what you changed and why\"` in a cell, or "
                             "`pitfalls-submit ...` in a terminal.")] if live else []),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                            "language": "python"}})
    return nbformat.writes(nb)

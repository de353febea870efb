"""The prediction contract of a scaffold, generated from its manifest and its training file, so that no
brief can drift from what the scorer checks (:func:`pitfalls.library.metrics.check_predictions`).

What ``features`` holds is what the scorer's harness passes: the held-out rows written to CSV
without the target and read back with ``pd.read_csv`` (runner/sandbox/harness/predict.py), so the
columns and dtypes are those of ``data/train.csv`` read the same way, minus the target.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from pitfalls.library.metrics_ranking import MAX_ID, RANKING_K
from pitfalls.library.metrics_sequence import MAX_SEQUENCE_LENGTH, padding_id

if TYPE_CHECKING:
    import pandas as pd

    from pitfalls.library.scaffold import Scaffold

HEADING = "## What `predict` gets and must return"
ROW_SUM_TOLERANCE = 1e-3
"""Rows of probabilities must sum to 1 within this (as check_predictions enforces)."""


def feature_frame(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """``frame`` without ``target`` as the harness reads it: written to CSV and read back."""
    import pandas as pd

    return pd.read_csv(io.StringIO(frame.drop(columns=[target]).to_csv(index=False)))


def feature_columns(scaffold: Scaffold) -> list[tuple[str, str]]:
    """``(column, dtype)`` of ``features`` in order, from the training data (never the held-out labels)."""
    frame = feature_frame(scaffold.dataset().train, scaffold.manifest.task.target)
    return [(str(c), str(frame[c].dtype)) for c in frame.columns]


def _runs(columns: list[tuple[str, str]]) -> list[str]:
    """The columns as text, grouped by dtype in order: a numbered run like p0, p1, ..., p63 is written
    as its ends; other neighbours of one dtype share it (``a``, ``b`` (float64))."""
    out: list[str] = []
    i = 0
    while i < len(columns):
        j = i
        while j + 1 < len(columns) and columns[j + 1][1] == columns[i][1]:
            j += 1
        names = [name for name, _ in columns[i:j + 1]]
        m = re.fullmatch(r"(.*?)(\d+)", names[0])
        numbered = m is not None and len(names) > 3 and names == [f"{m.group(1)}{int(m.group(2)) + k}"
                                                                   for k in range(len(names))]
        shown = f"`{names[0]}`, `{names[1]}`, ... `{names[-1]}`" if numbered else ", ".join(f"`{n}`" for n in names)
        out.append(f"{shown} ({columns[i][1]})")
        i = j + 1
    return out


def returns_line(scaffold: Scaffold) -> str:
    """What ``predict`` must return, in the terms check_predictions enforces."""
    task = scaffold.manifest.task
    classes = list(task.classes)
    if task.prediction == "proba":
        cols = (f"column j is P(`{task.target}` = j), j = 0 ... {len(classes) - 1}"
                if classes == list(range(len(classes)))
                else ", ".join(f"column {j}: P(`{task.target}` = {c})" for j, c in enumerate(classes)))
        return (f"- `predict` returns a float array of shape **(n, {len(classes)})**, n = `len(features)`: one row "
                f"per row of `features`, in order; {cols}. Values in [0, 1], each row summing to 1 "
                f"(within {ROW_SUM_TOLERANCE:g}), e.g. `predict_proba(X)` of a classifier fitted on labels "
                f"{classes} (check its `classes_`). A 1-D array of shape (n,) is rejected.")
    if task.prediction == "sequence":
        pad = padding_id(classes)
        return (f"- `predict` returns an integer array of shape **(n, L)**, n = `len(features)`, 1 <= L <= "
                f"{MAX_SEQUENCE_LENGTH}: row i is the sequence generated for row i of `features`, in order, as token "
                f"ids from {classes[1:]}, followed by the padding id {pad} up to the width L of the array. A "
                f"row's sequence ends at its first {pad} (what follows is ignored) and is compared with "
                f"`{task.target}` read as space-separated ids. Strings, lists and object arrays are rejected.")
    if task.prediction == "ranking":
        return (f"- `predict` returns an integer array of shape **(n, {RANKING_K})**, n = `len(features)`: for each "
                f"row of `features`, in order, the `{task.target}` values of the {RANKING_K} items it retrieves, "
                f"best first, no id twice in a row (ids in [0, {MAX_ID}]).")
    if task.prediction == "label":
        return (f"- `predict` returns an integer array of shape **(n,)**, n = `len(features)`: one predicted "
                f"`{task.target}` per row of `features`, in order, each one of {classes} (class labels, "
                "not probabilities).")
    return (f"- `predict` returns a float array of shape **(n,)**, n = `len(features)`: one predicted "
            f"`{task.target}` per row of `features`, in order, every value finite, on the target's own scale.")


def contract_lines(scaffold: Scaffold) -> list[str]:
    """The brief's prediction-contract section (heading included)."""
    m = scaffold.manifest
    columns = feature_columns(scaffold)
    return [HEADING, "",
            f"`train.py` must save the model to `{m.artifact_path}`. `{m.predict_files[0]}` must define "
            "`load_model(path)` and `predict(model, features)`.", "",
            f"- `features` is a pandas DataFrame of the rows to predict, read with `pd.read_csv` from a file laid "
            f"out like `data/train.csv` without the `{m.task.target}` column: these {len(columns)} columns, in "
            f"this order, with these dtypes: {', '.join(_runs(columns))}.",
            returns_line(scaffold)]

"""Copies across the candidate's own train/validation split (catalog Q06, issue 16 item 5).

The form a scaffold can plant (``copy_rows_within_split``, entry ``frame == "train"``) lives in
the data the candidate sees; its detector looks only there, and the held-out data stays clean.
Planted -> detected with the exact evidence; not planted -> silent; a scaffold that plants it
wrongly fails the right check with its message.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitfalls.checks.suite import run_checks
from pitfalls.datasets import REGISTRY, copy_rows_within_split, detect
from pitfalls.datasets._quirktools import base_case
from pitfalls.datasets.duplication import _example_within, split_copy_share
from pitfalls.library.scaffold import Dataset, _dataset, _load

TEMPLATE = Path(__file__).resolve().parent.parent / "scaffolds" / "_template"
ONLY = ["heldout_clean", "quirk_detected"]


@pytest.mark.parametrize("seed", range(4))  # the four base frames of the worked examples
def test_copies_within_the_split_are_detected_with_their_count_and_clean_data_is_silent(seed):
    ex = _example_within(seed)
    kind = REGISTRY["duplicates_across_split"]
    copies = ex.quirk["copies"]
    assert len(ex.train) == len(ex.clean_train) + copies and ex.quirk["frame"] == "train"
    assert ex.train.duplicated(keep=False).iloc[ex.quirk["rows"]].all()
    hit, n, grouped = split_copy_share(ex.train, list(ex.train.columns), 0.25)
    found = detect(ex.quirk, train=ex.train, heldout=ex.heldout, target=ex.target)
    assert found.fired and hit >= 0.01 * n
    assert found.evidence == (f"a random 25% validation split of the training data puts {hit} of {n} validation "
                              f"rows beside a copy in the fit part (equal on {len(ex.train.columns)} columns; "
                              f"{grouped} rows are in copy groups): share {hit / n:.3f} (threshold 0.01)")
    assert grouped >= copies + ex.quirk["originals"]
    silent = detect(ex.quirk, train=ex.clean_train, heldout=ex.heldout, target=ex.target)
    assert not silent.fired, silent.evidence
    leak = kind.heldout_leak(ex.quirk, train=ex.train, heldout=ex.heldout, target=ex.target)
    assert not leak.fired and leak.evidence.startswith("0 of ")


def test_the_detector_compares_only_the_columns_the_entry_names():
    """Copies re-spelled after planting are still found on the columns that stay equal."""
    target, train, _ = base_case(3)
    planted, quirk = copy_rows_within_split(train, n=40, copies=(1, 1), rng=np.random.default_rng(0),
                                            columns=[c for c in train.columns if c != "f00"])
    noisy = planted.copy()
    noisy.iloc[quirk["rows"], noisy.columns.get_loc("f00")] += 1e-3  # every copy differs in f00
    assert not noisy.duplicated().any()
    assert detect(quirk, train=noisy, heldout=None, target=target).fired
    everything = {**quirk, "columns": list(train.columns)}
    assert not detect(everything, train=noisy, heldout=None, target=target).fired


def test_the_planter_refuses_unclear_requests():
    _, train, _ = base_case(0)
    rng = np.random.default_rng(0)
    for kwargs in ({}, {"n": 3, "rows": [1]}, {"n": 3, "copies": (2, 1)}, {"n": 3, "copies": (0, 2)}):
        with pytest.raises(ValueError, match=r"^copy_rows_within_split takes either n or rows"):
            copy_rows_within_split(train, rng=rng, **kwargs)


def test_a_quirk_entry_names_one_of_the_two_frames():
    ds = Dataset(train=pd.DataFrame({"y": [0]}), heldout=pd.DataFrame({"y": [0]}))
    assert ds.frame_of({"id": "duplicates"}) == "train" and ds.frame_of({"frame": "heldout"}) == "heldout"
    with pytest.raises(ValueError, match=r"^A quirk entry's frame must be one of \['train', 'heldout'\]\. "
                                         r"Got 'validation' in 'x' instead\.$"):
        ds.frame_of({"id": "x", "frame": "validation"})


# -- a scaffold that plants it, well or badly ---------------------------------------------------
def _template(tmp_path: Path, planting: str) -> Path:
    """The template scaffold planting duplicates_across_split with ``planting`` (train, quirk)."""
    root = tmp_path / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _load.cache_clear()
    _dataset.cache_clear()
    hooks, manifest = root / "scaffold.py", root / "scaffold.toml"
    text = hooks.read_text()
    text = text.replace("from pitfalls.datasets import impose_class_imbalance",
                        "from pitfalls.datasets import copy_rows_across_split, copy_rows_within_split, "
                        "impose_class_imbalance")
    old = "    return Dataset(train=train.reset_index(drop=True), heldout=heldout, quirks=[quirk])"
    assert text.count(old) == 1
    hooks.write_text(text.replace(old, f"    train = train.reset_index(drop=True)\n{planting}\n"
                                       "    return Dataset(train=train, heldout=heldout, quirks=[quirk, copied])"))
    toml = manifest.read_text()
    assert toml.count('quirks = ["class_imbalance"]') == 1
    manifest.write_text(toml.replace('quirks = ["class_imbalance"]',
                                     'quirks = ["class_imbalance", "duplicates_across_split"]'))
    return root


def _results(root: Path) -> dict[str, tuple[str, str]]:
    report = run_checks(scaffold=root, quick=True, only=ONLY)
    return {r.name: (r.status, r.message) for r in report.results}


def test_copies_in_the_candidates_data_pass_check_with_the_detectors_evidence(tmp_path):
    root = _template(tmp_path, "    train, copied = copy_rows_within_split(train, n=15, copies=(2, 3), rng=rng)")
    results = _results(root)
    assert results["heldout_clean"][0] == "passed", results
    status, message = results["quirk_detected:duplicates_across_split"]
    assert status == "passed", message
    assert re.match(r"^a random 25% validation split of the training data puts \d+ of \d+ validation rows "
                    r"beside a copy in the fit part \(equal on 14 columns; \d+ rows are in copy groups\): "
                    r"share 0\.\d{3} \(threshold 0\.01\)$", message), message


def test_copies_planted_in_the_heldout_data_fail_heldout_clean(tmp_path):
    root = _template(tmp_path, "    heldout, copied = copy_rows_across_split(heldout, train=train, n=5, rng=rng)")
    results = _results(root)
    status, message = results["heldout_clean"]
    assert status == "failed"
    assert re.match(r"^Held-out rows must not repeat training rows\. Got 5 held-out feature rows that also occur "
                    r"in training instead\. Split before planting duplicates", message), message


def test_a_silent_heldout_entry_is_told_to_plant_in_the_candidates_data(tmp_path):
    root = _template(tmp_path, "    heldout, copied = copy_rows_across_split(heldout, train=train, n=0, rng=rng)")
    status, message = _results(root)["quirk_detected:duplicates_across_split"]
    assert status == "failed"
    assert re.match(r"^The planted quirk duplicates_across_split must be detectable in the training data\. Got a "
                    r"silent detector instead \(0 of 40 held-out rows equal a training row: share 0\.000 "
                    r"\(threshold 0\.01\)\)\. It is planted in the held-out data \(frame 'heldout'\), which the "
                    r"candidate never sees: plant it in the candidate's data instead \(frame 'train'; for copies "
                    r"across the candidate's own split, pitfalls\.datasets\.copy_rows_within_split\)\.$", message), message


def test_too_few_copies_in_the_candidates_data_are_told_to_plant_more_strongly(tmp_path):
    root = _template(tmp_path, "    train, copied = copy_rows_within_split(train, rows=[], copies=(1, 1), rng=rng)")
    status, message = _results(root)["quirk_detected:duplicates_across_split"]
    assert status == "failed"
    assert re.match(r"^The planted quirk duplicates_across_split must be detectable in the training data\. Got a "
                    r"silent detector instead \(a random 25% validation split .+ share 0\.000 \(threshold 0\.01\)\)\. "
                    r"Plant it more strongly, or fix the entry make_dataset returns\.$", message), message

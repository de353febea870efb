"""The scaffolds in the repository follow the contract, and every planted quirk is really there
(detectable in training data, absent from the held-out data)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pitfalls.library.catalogs import bugs as bug_catalog
from pitfalls.library.catalogs import quirks as quirk_catalog
from pitfalls.library.scaffold import _dataset, load_scaffold, scaffold_names
from pitfalls.library.variants import materialize, mutants
from pitfalls.scoring.batch import run_batch

REPO = Path(__file__).resolve().parent.parent
NAMES = scaffold_names()


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


@pytest.mark.parametrize("name", NAMES)
def test_manifest_ids_have_catalog_entries_mutants_and_probes(name):
    """Is every bug in the bug catalog, with a mutant that applies and a probe; every quirk catalogued?"""
    scaffold = load_scaffold(name)
    assert set(scaffold.manifest.bugs) <= set(bug_catalog())
    assert set(scaffold.manifest.quirks) <= set(quirk_catalog())
    assert set(mutants(scaffold)) == set(scaffold.manifest.bugs)
    probes_text = scaffold.probes_file.read_text()
    for bug in scaffold.manifest.bugs:
        assert f'"{bug}":' in probes_text
        with tempfile.TemporaryDirectory() as tmp:
            materialize(scaffold=scaffold, target=Path(tmp), reference=True, bug=bug)
    assert scaffold.guide_file.exists() and scaffold.manifest.hints
    assert scaffold.manifest.calibration.measured


@pytest.mark.parametrize("name", NAMES)
def test_dataset_is_deterministic_and_heldout_is_clean(name):
    """Same seed, same bytes; held-out shares no row with training; the quirk manifest matches."""
    scaffold = load_scaffold(name)
    first = scaffold.dataset()
    _dataset.cache_clear()
    again = scaffold.dataset()
    assert _digest(first.train) == _digest(again.train) and _digest(first.heldout) == _digest(again.heldout)
    other = scaffold.dataset(seed=scaffold.manifest.dataset_seed + 1)
    assert _digest(other.heldout) != _digest(first.heldout)
    target = scaffold.manifest.task.target
    cols = [c for c in first.train.columns if c != target and first.train[c].notna().all()
            and first.heldout[c].notna().all()]
    if all(first.train[c].nunique() <= 1 for c in cols):  # every varying column has gaps (eval_harness)
        cols = [c for c in first.train.columns if c != target]

    def rows(frame):
        return set(map(tuple, frame[cols].astype(object).where(frame[cols].notna(), "<NA>").to_numpy()))

    assert not rows(first.train) & rows(first.heldout)
    assert [q["id"] for q in first.quirks] == list(scaffold.manifest.quirks)


@pytest.mark.parametrize("name", NAMES)
def test_workspace_folder_holds_no_secrets(name):
    """The candidate's starting files contain no labels, solution, guide, probes or seed."""
    scaffold = load_scaffold(name)
    files = [p for p in scaffold.workspace_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} <= {"train.py", "eda.ipynb", "README.md", *scaffold.manifest.predict_files}
    seed = str(scaffold.manifest.dataset_seed)
    for p in files:
        assert seed not in p.read_text(), f"{p} mentions the dataset seed"


def test_tumor_triage_quirks_are_detectable():
    """Imbalance, leak and missingness show in training data and not in held-out data."""
    ds = load_scaffold("tumor_triage").dataset()
    tr, ho = ds.train, ds.heldout
    assert tr["malignant"].mean() < 0.15 < 0.3 < ho["malignant"].mean()  # class imbalance (Q23)
    assert roc_auc_score(tr["malignant"], tr["referral_code"]) > 0.9   # target leakage (Q21) ...
    assert abs(roc_auc_score(ho["malignant"], ho["referral_code"]) - 0.5) < 0.1  # ... absent in held-out
    missing = tr.isna().mean()
    assert set(missing[missing > 0].index) == {"mean_texture", "mean_concavity", "worst_smoothness"}  # Q11
    assert (missing[missing > 0] > 0.05).all()


def test_digits_budget_quirk_is_detectable():
    """Training rows are sorted by label (Q29); held-out rows are not."""
    ds = load_scaffold("digits_budget").dataset()
    assert ds.train["label"].is_monotonic_increasing
    assert not ds.heldout["label"].is_monotonic_increasing
    assert np.corrcoef(ds.train["label"], np.arange(len(ds.train)))[0, 1] > 0.95


def test_template_scaffold_is_a_working_contract(tmp_path):
    """The template loads, its reference beats its starter, and its one bug re-introduced hurts. The
    three builds train in one batch sandbox (runner/scoring/batch.py: the scores the real pipeline
    gives; tests/test_check.py runs the starter and the reference through it, budgets included)."""
    scaffold = load_scaffold(REPO / "scaffolds" / "_template")
    assert "_template" not in NAMES
    builds = {key: materialize(scaffold=scaffold, target=tmp_path / key, reference=reference, bug=bug)
              for key, reference, bug in [("starter", False, None), ("reference", True, None),
                                          ("mutant", True, "inverted_class_weights")]}
    runs = run_batch(scaffold=scaffold, variants=builds, seeds=[0])
    assert [r.error for r in runs] == ["", "", ""], runs
    results = {r.variant: r.score_private for r in runs}
    assert results["reference"] > results["starter"] + 0.1
    assert results["mutant"] < results["reference"] - 0.1

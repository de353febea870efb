"""Every registered quirk kind (pitfalls.datasets.REGISTRY): its detector fires on its planted
example and stays silent on the clean baseline, its held-out check is silent on clean held-out
data, its example is deterministic, and it is catalogued. Then the magnitudes that matter, and
each planter of this library called directly (same rng state, same bytes; input untouched).

Examples pass their clean frames to the planters themselves, so a planter that modified its
input would leave the quirk in ``clean_train`` and fail the silence test.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pitfalls.datasets import (
    REGISTRY,
    Example,
    add_leak_feature,
    add_near_duplicates,
    add_shortcut_feature,
    breast_cancer,
    copy_rows_across_split,
    digits,
    duplicate_rows,
    flip_labels,
    hide_high_values,
    impose_class_imbalance,
    inject_missing,
    shift_covariates,
    shift_label_prior,
    sort_by_label,
    tabular,
    wine,
)
from pitfalls.datasets.duplication import near_copy_pairs
from pitfalls.datasets.groups import repeat_entities
from pitfalls.datasets.messy import code_missing_as_sentinel
from pitfalls.library.catalogs import quirks as quirk_catalog

KINDS = sorted(REGISTRY)
SEEDS = [0, 1, 2, 3]  # the examples rotate through breast cancer, wine, digits and generated data


@functools.cache
def _example(kind: str, seed: int) -> Example:
    return REGISTRY[kind].example(seed)


def _digest(frame: pd.DataFrame | None) -> str:
    return "" if frame is None else hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def _run(kind: str, ex: Example, *, train: pd.DataFrame, heldout: pd.DataFrame | None, leak: bool = False):
    detector = REGISTRY[kind].heldout_leak if leak else REGISTRY[kind].detect
    found = detector(ex.quirk, train=train, heldout=heldout, target=ex.target)
    assert type(found.fired) is bool and found.evidence, found
    return found


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", KINDS)
def test_detector_fires_on_planted_data_and_stays_silent_on_clean_data(kind, seed):
    """Does the detector fire on the planted example and stay silent on its clean baseline?"""
    ex = _example(kind, seed)
    assert _run(kind, ex, train=ex.train, heldout=ex.heldout).fired
    clean = _run(kind, ex, train=ex.clean_train, heldout=ex.clean_heldout)
    assert not clean.fired, clean.evidence


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", [k for k in KINDS if REGISTRY[k].heldout_leak is not None])
def test_heldout_leak_check_is_silent_on_clean_heldout_data(kind, seed):
    """Is the held-out check silent on the clean held-out frame?"""
    ex = _example(kind, seed)
    found = _run(kind, ex, train=ex.clean_train, heldout=ex.clean_heldout, leak=True)
    assert not found.fired, found.evidence


@pytest.mark.parametrize("kind", KINDS)
def test_example_is_deterministic_and_its_entry_names_the_kind(kind):
    """Same seed, same bytes and entry; the entry's id is the kind; something was planted."""
    ex = _example(kind, 1)
    again = REGISTRY[kind].example(1)
    for part in ("clean_train", "clean_heldout", "train", "heldout"):
        assert _digest(getattr(ex, part)) == _digest(getattr(again, part)), part
    assert ex.quirk == again.quirk and ex.quirk["id"] == kind
    json.dumps(ex.quirk)  # plain values: the manifest entry is shown and stored as JSON
    assert (_digest(ex.train), _digest(ex.heldout)) != (_digest(ex.clean_train), _digest(ex.clean_heldout))
    assert _digest(REGISTRY[kind].example(2).train) != _digest(ex.train)


def test_every_registered_kind_is_catalogued_with_its_ref():
    """Does every kind have a catalog entry (datasets/catalog/*.toml) with the same ref?"""
    catalog = quirk_catalog()
    missing = [k for k in KINDS if k not in catalog]
    assert not missing, f"registered but not catalogued: {missing}"
    assert {k: REGISTRY[k].ref for k in KINDS} == {k: catalog[k]["ref"] for k in KINDS}
    for k in KINDS:
        assert {"title", "description", "detect", "handle"} <= set(catalog[k]), k


def test_every_catalogued_kind_is_registered():
    """Does every catalog entry have a registered planter and detector?"""
    unregistered = sorted(set(quirk_catalog()) - set(REGISTRY))
    assert not unregistered, f"catalogued but not registered: {unregistered}"


# -- magnitudes ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_imbalance_and_missing_entries_match_their_frames(seed):
    """minority_share, kept and rows_affected are what the frame shows."""
    ex = _example("class_imbalance", seed)
    q = ex.quirk
    assert q["minority_share"] == round(float((ex.train[ex.target] == q["minority"]).mean()), 4)
    assert (ex.train[ex.target] == q["minority"]).sum() == q["kept"]
    assert q["minority_share"] < 0.5 / ex.train[ex.target].nunique()
    ex = _example("missing_values", seed)
    assert ex.quirk["rows_affected"] == round(float(ex.train[ex.quirk["columns"]].isna().any(axis=1).mean()), 4)
    rates = ex.train[ex.quirk["columns"]].isna().mean()
    assert ((rates > 0.03) & (rates < 0.2)).all() and ex.train.drop(columns=ex.quirk["columns"]).notna().all().all()


@pytest.mark.parametrize("seed", SEEDS)
def test_label_noise_flips_the_share_it_reports(seed):
    """The listed rows went from source to dest; nothing else changed."""
    ex, q = _example("label_noise", seed), _example("label_noise", seed).quirk
    before, after = ex.clean_train[ex.target].to_numpy(), ex.train[ex.target].to_numpy()
    changed = np.flatnonzero(before != after)
    assert list(changed) == q["rows"] and q["flipped"] == len(changed)
    assert (before[changed] == q["source"]).all() and (after[changed] == q["dest"]).all()
    assert q["flipped"] == round(0.4 * (before == q["source"]).sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_duplicate_kinds_plant_the_copies_they_report(seed):
    """Exact copies, copies across the split and near-copies: counted as the entry says."""
    ex = _example("duplicates", seed)
    assert ex.train.duplicated().sum() == ex.quirk["copies"] == len(ex.train) - len(ex.clean_train)
    assert ex.train.duplicated(keep=False).iloc[ex.quirk["rows"]].all()
    ex = _example("duplicates_across_split", seed)
    features = [c for c in ex.heldout.columns if c != ex.target]
    shared = ex.heldout.merge(ex.train[features].drop_duplicates(), on=features, how="inner")
    assert len(shared) == ex.quirk["copies"] == len(ex.heldout) - len(ex.clean_heldout) > 0
    assert REGISTRY["duplicates_across_split"].heldout_leak(ex.quirk, train=ex.train, heldout=ex.heldout,
                                                            target=ex.target).fired
    ex = _example("near_duplicates", seed)
    assert near_copy_pairs(ex.train, ex.target)[0] == ex.quirk["copies"] and not ex.train.duplicated().any()


@pytest.mark.parametrize("seed", SEEDS)
def test_leak_and_shortcut_columns_are_random_in_heldout_and_caught_when_not(seed):
    """The held-out check is silent on the randomized column and fires on a leaky one."""
    for kind, plant in [("target_leakage", add_leak_feature), ("shortcut_feature", add_shortcut_feature)]:
        ex = _example(kind, seed)
        assert not _run(kind, ex, train=ex.train, heldout=ex.heldout, leak=True).fired
        leaky, _ = plant(ex.clean_heldout, target=ex.target, column=ex.quirk["column"],
                         rng=np.random.default_rng(seed))
        assert _run(kind, ex, train=ex.train, heldout=leaky, leak=True).fired


def test_leak_flag_follows_the_label_in_training_and_not_in_heldout():
    """flag=True (tumor_triage's referral flag): 0/1 only, equal to the label at strength 1, the
    same marginal but independent of the label when randomized, drawn with the same random
    numbers as the code (so the rest of a scaffold's data does not move); too few codes are refused."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=400), "y": (rng.random(400) < 0.3).astype(int)})
    train, _ = add_leak_feature(df, target="y", column="flag", rng=rng, flag=True, strength=1.0)
    assert set(train["flag"]) == {0, 1} and (train["flag"] == train["y"]).all()
    held, _ = add_leak_feature(df, target="y", column="flag", rng=rng, flag=True, strength=1.0, randomize=True)
    assert held["flag"].sum() == df["y"].sum() and abs(held["flag"].corr(held["y"])) < 0.15
    ten, _ = add_leak_feature(df, target="y", column="code", rng=np.random.default_rng(5), strength=0.9)
    one, _ = add_leak_feature(df, target="y", column="code", rng=np.random.default_rng(5), strength=0.9, flag=True)
    assert ((ten["code"] >= 7).astype(int) == one["code"]).all() and (one["code"] != one["y"]).any()
    with pytest.raises(ValueError, match="codes must be at least 3"):
        add_leak_feature(df, target="y", column="flag", rng=rng, codes=2)


@pytest.mark.parametrize("seed", SEEDS)
def test_informative_missingness_hides_the_top_values_and_mcar_gaps_do_not_trigger_it(seed):
    """About 20% of the column is gone, all above what is kept; random gaps stay silent."""
    ex = _example("informative_missingness", seed)
    column = ex.quirk["columns"][0]
    gone = ex.train[column].isna().to_numpy()
    assert abs(gone.mean() - 0.2) < 0.01 and ex.quirk["missing_share"][column] == round(gone.mean(), 4)
    assert ex.clean_train[column][gone].min() >= ex.clean_train[column][~gone].max()
    mcar = _example("missing_values", seed)
    assert not REGISTRY["informative_missingness"].detect(mcar.quirk, train=mcar.train, heldout=mcar.heldout,
                                                          target=mcar.target).fired


@pytest.mark.parametrize("seed", SEEDS)
def test_shifts_move_heldout_data_by_what_the_entry_says(seed):
    """Covariates move by shift_sd standard deviations; the class keeps keep_share of its rows."""
    ex = _example("covariate_shift", seed)
    assert ex.quirk["frame"] == "heldout" and _digest(ex.train) == _digest(ex.clean_train)
    for c in ex.quirk["columns"]:
        moved = ex.heldout[c] - ex.clean_heldout[c]
        assert np.allclose(moved, ex.clean_heldout[c].std() * ex.quirk["shift_sd"])
    ex = _example("label_shift", seed)
    label, y = ex.quirk["label"], ex.heldout[ex.target]
    assert (y == label).sum() == round(0.2 * (ex.clean_heldout[ex.target] == label).sum())
    assert ex.quirk["heldout_share"] == round(float((y == label).mean()), 4)


def test_other_kinds_detectors_stay_silent_on_neighbouring_quirks():
    """Exact copies are not near-copies (and back); imbalance is not label noise."""
    pairs = [("near_duplicates", "duplicates"), ("duplicates", "near_duplicates"),
             ("label_noise", "class_imbalance")]
    for detector, planted in pairs:
        for seed in SEEDS:
            ex = _example(planted, seed)
            found = REGISTRY[detector].detect(ex.quirk, train=ex.train, heldout=ex.heldout, target=ex.target)
            assert not found.fired, (detector, planted, seed, found.evidence)


# -- the planters themselves -----------------------------------------------------------------
# kind -> (planter, the frame it plants, settings); rng (and train, across the split) added below
PLANTERS: dict[str, tuple[Callable[..., tuple[pd.DataFrame, Any]], str, dict[str, Any]]] = {
    "class_imbalance": (impose_class_imbalance, "train", {"target": "outcome", "minority": 1, "keep": 20}),
    "target_leakage": (add_leak_feature, "train", {"target": "outcome", "column": "code"}),
    "missing_values": (inject_missing, "train", {"columns": ["f01", "f02"], "rate": 0.1}),
    "sorted_by_label": (sort_by_label, "train", {"target": "outcome"}),
    "label_noise": (flip_labels, "train", {"target": "outcome", "source": 1, "dest": 0, "share": 0.3}),
    "duplicates": (duplicate_rows, "train", {"n": 20}),
    "duplicates_across_split": (copy_rows_across_split, "heldout", {"n": 20}),
    "near_duplicates": (add_near_duplicates, "train", {"target": "outcome", "n": 20}),
    "informative_missingness": (hide_high_values, "train", {"columns": ["f03"]}),
    "shortcut_feature": (add_shortcut_feature, "train", {"target": "outcome", "column": "batch"}),
    "covariate_shift": (shift_covariates, "heldout", {"columns": ["f00", "f04"]}),
    "label_shift": (shift_label_prior, "heldout", {"target": "outcome", "label": 0, "keep_share": 0.3}),
    "group_leakage": (repeat_entities, "train", {"target": "outcome"}),
    "sentinel_values": (code_missing_as_sentinel, "train", {"columns": ["f01"], "code": -999.0, "rate": 0.1}),
}


@pytest.mark.parametrize("kind", sorted(PLANTERS))
def test_planter_is_deterministic_and_leaves_its_input_alone(kind):
    """Same rng state, same bytes and entry; input frames unchanged; a new frame out."""
    plant, part, settings = PLANTERS[kind]
    assert REGISTRY[kind].plant is plant
    frame = tabular(5)
    frames = {"train": frame.iloc[:400].reset_index(drop=True), "heldout": frame.iloc[400:].reset_index(drop=True)}
    before = {k: v.copy(deep=True) for k, v in frames.items()}
    params = inspect.signature(plant).parameters
    extra = {"train": frames["train"]} if part == "heldout" and "train" in params else {}
    runs = [plant(frames[part], **settings, **extra, **({"rng": np.random.default_rng(11)} if "rng" in params else {}))
            for _ in range(2)]
    for k in frames:
        pd.testing.assert_frame_equal(frames[k], before[k])
    (out, quirk), (again, quirk_again) = runs
    assert out is not frames[part] and _digest(out) == _digest(again) and quirk == quirk_again
    assert quirk["id"] == kind and (quirk.get("frame", "train") == part)


def test_base_frames_are_seeded_and_clean():
    """Base data: deterministic per seed, different across seeds, no gaps, the documented shapes."""
    for load, shape in [(breast_cancer, (569, 31)), (digits, (1797, 65)), (wine, (178, 14)), (tabular, (600, 11))]:
        a, b, c = load(0), load(0), load(1)
        assert a.shape == shape and _digest(a) == _digest(b) != _digest(c) and a.notna().all().all()
    assert tabular(0, classes=3, rows=300)["outcome"].nunique() == 3

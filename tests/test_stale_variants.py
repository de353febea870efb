"""Pruning built variant folders ($PITFALLS_HOME/variants/, runner/library/stale_variants.py): real
folders with set modification times and a real store. A variant any session names (live, practice,
ended or not) is never removed; unreferenced ones unused for more than $PITFALLS_VARIANT_KEEP_DAYS
(default 14) go when a new variant is built; an unreadable store prunes nothing. Nothing trains."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import REPO
from pitfalls.core.errors import PitfallsError
from pitfalls.core.store import Store
from pitfalls.library import stale_variants
from pitfalls.library.scaffold import _dataset, _load, load_scaffold
from pitfalls.library.stale_variants import KEEP_ENV, keep_days, prune
from pitfalls.library.variant import variant_scaffold

DAY = 86400
WINE = '\n[variants]\ncolumns = { alcohol = ["alcohol_pct", "abv"] }\n'


def folder(variants: Path, name: str, days_old: float) -> Path:
    """A built-looking variant folder last used ``days_old`` days ago."""
    path = variants / name
    (path / "workspace").mkdir(parents=True)
    (path / "workspace" / "train.py").write_text("print('x')\n")
    when = time.time() - days_old * DAY
    os.utime(path, (when, when))
    return path


def session(scaffold: str, mode: str, *, ended: bool = False) -> None:
    store = Store()
    sid = store.create_session(scaffold=scaffold, workspace=Path("/nowhere"), mode=mode, candidate="Ada")
    if ended:
        store.update_session(sid, ended_at="2026-01-01T00:00:00+00:00")


def test_referenced_variants_are_kept_and_old_unreferenced_ones_go(pitfalls_home, monkeypatch):
    monkeypatch.delenv(KEEP_ENV, raising=False)
    variants = pitfalls_home / "variants"
    session("acme/churn@v2", "live")
    session("tumor_triage@v3", "practice", ended=True)  # an ended practice run still reads its variant
    session("churn", "practice")  # no variant: protects nothing
    old = folder(variants, "churn-v1-0123456789abcdef", 30)
    live = folder(variants, "churn-v2-0123456789abcdef", 300)
    live_other_key = folder(variants, "churn-v2-fedcba9876543210", 300)  # another secret or content: kept too
    practice = folder(variants, "tumor_triage-v3-0123456789abcdef", 30)
    recent = folder(variants, "churn-v4-0123456789abcdef", 13)
    interrupted = folder(variants, ".churn-v5-0123456789abcdef-x1y2z3", 15)
    just_built = folder(variants, "churn-v6-0123456789abcdef", 30)
    other = folder(variants, "not-a-variant", 300)
    removed = prune(variants, store=pitfalls_home / "pitfalls.sqlite", keep=just_built)
    assert sorted(removed) == sorted([old, interrupted])
    for kept in (live, live_other_key, practice, recent, just_built, other):
        assert (kept / "workspace" / "train.py").is_file(), kept
    assert not old.exists() and not interrupted.exists()


def test_the_setting_decides_the_age(pitfalls_home, monkeypatch):
    variants = pitfalls_home / "variants"
    five, two = folder(variants, "churn-v1-0123456789abcdef", 5), folder(variants, "churn-v2-0123456789abcdef", 2)
    store = pitfalls_home / "pitfalls.sqlite"
    monkeypatch.delenv(KEEP_ENV, raising=False)
    assert keep_days() == 14 and prune(variants, store=store) == []
    monkeypatch.setenv(KEEP_ENV, "3")
    assert prune(variants, store=store) == [five] and two.is_dir()
    monkeypatch.setenv(KEEP_ENV, "two weeks")
    with pytest.raises(PitfallsError, match=r"^\$PITFALLS_VARIANT_KEEP_DAYS must be a number of days >= 0\. "
                                            r"Got 'two weeks' instead\. Set it to a number, or unset it"):
        prune(variants, store=store)


def test_an_unreadable_store_prunes_nothing(tmp_path):
    variants = tmp_path / "variants"
    old = folder(variants, "churn-v1-0123456789abcdef", 300)
    store = tmp_path / "pitfalls.sqlite"
    store.write_bytes(b"not a database, or one another process damaged" * 100)
    assert stale_variants.referenced(store) is None
    assert prune(variants, store=store, days=0) == [] and old.is_dir()


def test_building_a_variant_prunes_and_using_one_renews_it(pitfalls_home, tmp_path, monkeypatch):
    """End to end: `variant_scaffold` builds v1 (a new folder), which removes an old unreferenced
    folder and keeps an old one a session names; loading v1 again renews its last use."""
    monkeypatch.delenv(KEEP_ENV, raising=False)
    root = tmp_path / "lib" / "_template"
    shutil.copytree(REPO / "scaffolds" / "_template", root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "scaffold.toml").write_text((root / "scaffold.toml").read_text().rstrip("\n") + "\n" + WINE)
    _load.cache_clear()
    _dataset.cache_clear()
    variants = pitfalls_home / "variants"
    session("lib/_template@v7", "live", ended=True)
    stale = folder(variants, "_template-v2-0123456789abcdef", 20)
    named = folder(variants, "_template-v7-0123456789abcdef", 400)
    v1 = variant_scaffold(load_scaffold(root), "v1")
    assert v1.root.parent == variants and (v1.root / "workspace" / "train.py").is_file()
    assert not stale.exists() and named.is_dir()
    long_ago = time.time() - 20 * DAY
    os.utime(v1.root, (long_ago, long_ago))
    from pitfalls.library import variant

    variant._built.clear()  # a new process
    assert variant_scaffold(load_scaffold(root), "v1").root == v1.root
    assert v1.root.stat().st_mtime > time.time() - 60  # used now: not stale any more


def test_a_folder_used_in_the_last_hours_stays_whatever_the_setting(pitfalls_home, monkeypatch):
    """A check or calibrate in another process reads variants no session names; with
    $PITFALLS_VARIANT_KEEP_DAYS=0 a new build removed them while in use. Now MIN_AGE_SECONDS (6 h)
    protects a recent use, and every folder this process holds is kept (``keep`` takes several)."""
    variants = pitfalls_home / "variants"
    store = pitfalls_home / "pitfalls.sqlite"
    in_use = folder(variants, "churn-v1-0123456789abcdef", 10 / (24 * 60))  # used 10 minutes ago
    held = folder(variants, "churn-v2-0123456789abcdef", 3)  # loaded by this process days ago
    stale = folder(variants, "churn-v3-0123456789abcdef", 1)
    monkeypatch.setenv(KEEP_ENV, "0")
    assert prune(variants, store=store, keep={held}) == [stale]
    assert in_use.is_dir() and held.is_dir() and stale_variants.MIN_AGE_SECONDS >= 3600

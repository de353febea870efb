"""The bug and quirk catalogs are complete data, listable from the CLI."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from pitfalls.library.catalogs import bugs, catalog, quirks
from pitfalls.library.scaffold import load_scaffold, scaffold_names

BUG_FIELDS = ("ref", "category", "framework", "title", "description", "symptom", "why", "probe")
QUIRK_FIELDS = ("ref", "title", "description", "detect", "handle")


@pytest.mark.parametrize("bug_id", sorted(bugs()))
def test_every_bug_entry_has_every_field(bug_id):
    """id, category, framework, description, symptom, why it hurts, and how its probe decides."""
    entry = bugs()[bug_id]
    missing = [f for f in BUG_FIELDS if not str(entry.get(f, "")).strip()]
    assert not missing, f"bugs/catalog entry {bug_id} lacks {missing}"
    assert entry["framework"] in ("sklearn", "torch", "pandas", "any")
    assert set(entry.get("silent_on", [])) <= {"balanced_accuracy", "accuracy", "f1", "log_loss", "roc_auc",
                                                "r2", "rmse"}


@pytest.mark.parametrize("quirk_id", sorted(quirks()))
def test_every_quirk_entry_has_every_field(quirk_id):
    """ref, title, description, how to detect it, how to handle it."""
    missing = [f for f in QUIRK_FIELDS if not str(quirks()[quirk_id].get(f, "")).strip()]
    assert not missing, f"datasets/catalog entry {quirk_id} lacks {missing}"


def test_every_planted_id_is_catalogued_and_listed_with_its_scaffolds():
    """`--planted` names, for each kind, exactly the scaffolds whose manifest plants it."""
    for kind in ("bugs", "quirks"):
        listed = catalog(kind, planted=True)
        for name in scaffold_names():
            for planted_id in getattr(load_scaffold(name).manifest, kind):
                assert name in listed[planted_id]["scaffolds"]


def test_cli_lists_both_catalogs_as_text_and_json():
    """`pitfalls bugs` / `pitfalls quirks` print every id; `--json` gives the entries."""
    for kind, entries in (("bugs", bugs()), ("quirks", quirks())):
        text = run_cli(kind, check=True).stdout
        assert all(k in text for k in entries)
        data = json.loads(run_cli(kind, "--json", check=True).stdout)
        assert set(data) == set(entries)

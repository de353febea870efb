"""The bug and quirk catalogs (pitfalls.library.catalogs) are complete data, listable from the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pitfalls.cli.main import cli
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
                                                "average_precision", "r2", "rmse"}


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
    runner = CliRunner()
    for kind, entries in (("bugs", bugs()), ("quirks", quirks())):
        text = runner.invoke(cli, [kind], catch_exceptions=False)
        assert text.exit_code == 0 and all(k in text.output for k in entries)
        data = runner.invoke(cli, [kind, "--json"], catch_exceptions=False)
        assert data.exit_code == 0 and set(json.loads(data.output)) == set(entries)

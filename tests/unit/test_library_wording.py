"""A scaffold's own words for a reused bug kind (`[wording.BUG_ID]` of scaffold.toml, issue 16 item 4):
parsed strictly (unknown bug ids and keys refused with the one meant), and shown instead of the
catalog's text in the reveal, the dashboard's and the report's bug lists, for that scaffold only.
Fast: nothing trains."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO
from pitfalls.cli import render
from pitfalls.core.errors import ManifestError
from pitfalls.core.results import ProbeResult
from pitfalls.library.catalogs import bug_entry, bugs
from pitfalls.library.manifest import load_manifest
from pitfalls.library.scaffold import _dataset, _load, load_scaffold
from pitfalls.live.report import _bugs_html
from pitfalls.live.report_summary import bug_fixes
from pitfalls.service.api import Reveal, planted_entries

TEMPLATE = REPO / "scaffolds" / "_template"
BUG = "inverted_class_weights"
HEADER = f"[wording.{BUG}]"


def _toml(tmp_path: Path, replace: tuple[str, str] | None = None, add: str = "") -> Path:
    root = tmp_path / "lib" / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _load.cache_clear()
    _dataset.cache_clear()
    toml = root / "scaffold.toml"
    text = toml.read_text()
    if replace:
        assert text.count(replace[0]) == 1
        text = text.replace(*replace)
    toml.write_text(text.replace(HEADER + "\n", HEADER + "\n" + add, 1))
    return toml


def test_the_template_rewords_the_reused_bug_and_keeps_the_rest_of_the_catalog_entry():
    """tumor_triage planted inverted_class_weights first; the catalog's symptom speaks of its positives."""
    catalog = bugs()[BUG]
    assert "positives" in catalog["symptom"]
    wording = load_scaffold(TEMPLATE).manifest.wording
    assert set(wording) == {BUG} and set(wording[BUG]) == {"description", "symptom"}
    entry = bug_entry(BUG, wording)
    assert entry["symptom"].startswith("Cultivar 1 is rarely predicted") and "positives" not in entry["symptom"]
    assert entry["description"].startswith("train.py weights each cultivar")
    assert {k: entry[k] for k in ("id", "ref", "title", "why", "probe", "category")} == {
        "id": BUG, **{k: catalog[k] for k in ("ref", "title", "why", "probe", "category")}}
    assert bug_entry(BUG) == {"id": BUG, **catalog}  # without wording: the catalog's (tumor_triage's) text
    assert load_scaffold("tumor_triage").manifest.wording == {}


def test_the_reveal_shows_the_scaffold_s_words():
    scaffold = load_scaffold(TEMPLATE)
    found = {BUG: ProbeResult(BUG, "present", "class_weight={0: 0.9, 1: 0.1}")}
    planted, quirks = planted_entries(scaffold, found)
    assert planted[0]["description"] == scaffold.manifest.wording[BUG]["description"]
    text = render.reveal(Reveal(scaffold=scaffold.name, title="t", bugs=planted, quirks=quirks, diff=""))
    assert scaffold.manifest.wording[BUG]["description"] in text
    assert bugs()[BUG]["description"] not in text


def test_the_report_and_its_summary_use_the_scaffold_s_title(tmp_path):
    toml = _toml(tmp_path, add='title = "Cultivar weights inverted"\n')
    scaffold = load_scaffold(toml.parent)
    assert "Cultivar weights inverted" in _bugs_html(scaffold, [])
    assert bugs()[BUG]["title"] not in _bugs_html(scaffold, [])
    row = {"created_at": "2025-01-01T00:00:00+00:00"}
    [fix] = bug_fixes(scaffold.manifest.bugs, [], row, [], scaffold.manifest.wording)
    assert fix["title"] == "Cultivar weights inverted"
    assert bug_fixes(scaffold.manifest.bugs, [], row, [])[0]["title"] == bugs()[BUG]["title"]


@pytest.mark.parametrize(("replace", "add", "field", "says"), [
    ((HEADER, "[wording.inverted_class_weight]"), "", "wording.inverted_class_weight",
     "Got 'inverted_class_weight' instead. Did you mean 'inverted_class_weights'?"),
    ((HEADER, "[wording.softmax_before_loss]"), "", "wording.softmax_before_loss",
     "must be one of the keys of [wording] (the bug ids of scaffold.toml's `bugs`): ['inverted_class_weights']"),
    (None, 'symptm = "x"\n', f"wording.{BUG}.symptm", "Got 'symptm' instead. Did you mean 'symptom'?"),
    (None, 'ref = "P99"\n', f"wording.{BUG}.ref", "must be one of the keys of [wording.inverted_class_weights]"),
    (None, 'title = " "\n', f"wording.{BUG}.title", "must be a non-empty string"),
    (None, "why = 3\n", f"wording.{BUG}.why", "must be a string"),
])
def test_unknown_bug_ids_and_keys_are_refused_with_the_one_meant(tmp_path, replace, add, field, says):
    toml = _toml(tmp_path, replace, add)
    with pytest.raises(ManifestError) as info:
        load_manifest(toml)
    assert info.value.field == field, str(info.value)
    assert says in str(info.value), str(info.value)


def test_a_wording_that_is_not_a_table_is_refused(tmp_path):
    toml = _toml(tmp_path)
    toml.write_text('wording = { inverted_class_weights = "Class weights" }\n' +
                    toml.read_text().split(HEADER)[0] + "[task]" + toml.read_text().split("\n[task]", 1)[1])
    with pytest.raises(ManifestError, match=r"`wording.inverted_class_weights` must be a table"):
        load_manifest(toml)


def test_a_new_scaffold_keeping_the_template_s_wording_fails_template_text_left(tmp_path):
    """`pitfalls new` copies the template's [wording.inverted_class_weights]; kept, the candidate would read
    about wine cultivars in another task's reveal."""
    from pitfalls.checks.suite import run_checks
    from pitfalls.library.authoring import new_scaffold

    root = new_scaffold(name="churn_words", parent=tmp_path / "lib")

    def left() -> str:
        [result] = [r for r in run_checks(scaffold=root, quick=True, only=["template_text_left"]).results
                    if r.name == "template_text_left"]
        assert result.status == "failed", result  # the copied brief and guide fail it anyway
        return result.message

    assert "scaffold.toml wording still holding the template's 'train.py weights each cultivar" in left()
    toml = root / "scaffold.toml"
    text = toml.read_text()
    start = text.index("\ndescription = ", text.index(HEADER))
    end = text.index("\n\n", start)
    toml.write_text(text[:start] + '\nsymptom = "Churners are rarely flagged; recall on churners drops."'
                    + text[end:])
    _load.cache_clear()
    assert "scaffold.toml wording" not in left()

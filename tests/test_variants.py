"""Per-candidate variants (issue 16 item 2): scaffold.toml's [variants], what a variant id decides,
practice drawing one, and the variants_equally_hard check against a scaffold with an easy variant.

Fast tests build variants (file copies and rewrites, no training); the two check runs train.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from pitfalls.checks.suite import run_checks
from pitfalls.core.errors import ManifestError
from pitfalls.library.manifest import load_manifest
from pitfalls.library.scaffold import _dataset, _load, load_scaffold
from pitfalls.library.variant import choose, variant_scaffold
from pitfalls.library.variants import materialize
from pitfalls.service import api

TEMPLATE = REPO / "scaffolds" / "_template"
WINE = """
[variants]
columns = { alcohol = ["alcohol_pct", "abv"], proline = ["proline_mg", "proline_level"], od280_od315 = ["od_ratio", "od280_ratio"] }
shuffle_columns = true
"""
SECRET_A, SECRET_B = bytes(range(32)), bytes(range(1, 33))


def _copy(tmp_path: Path, source: Path = TEMPLATE, extra: str = WINE) -> Path:
    root = tmp_path / "lib" / source.name
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__"))
    text = (root / "scaffold.toml").read_text()
    if "\n[variants]" in text:  # a shipped scaffold's own table gives way to the test's
        start = text.index("\n[variants]")
        end = text.find("\n[", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    (root / "scaffold.toml").write_text(text.rstrip("\n") + "\n" + extra)
    _load.cache_clear()
    _dataset.cache_clear()
    return root


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".py", ".md") and "__pycache__" not in p.parts}


def _refused(tmp_path: Path, table: str) -> str:
    root = _copy(tmp_path, extra=table)
    with pytest.raises(ManifestError) as info:
        load_manifest(root / "scaffold.toml")
    return str(info.value)


# -- the manifest ---------------------------------------------------------------------------------
def test_variants_table_is_parsed_with_defaults_and_refused_when_wrong(tmp_path):
    spec = load_manifest(_copy(tmp_path / "ok") / "scaffold.toml").variants
    assert (spec.count, spec.size, spec.check_variants, spec.tolerance, spec.bug_pool, spec.plant) == (
        0, 99_999, 5, 0.25, (), 0)
    assert spec.columns["alcohol"] == ("alcohol_pct", "abv") and spec.shuffle_columns
    assert load_manifest(TEMPLATE / "scaffold.toml").variants is None
    message = _refused(tmp_path / "pool", '[variants]\nbug_pool = ["inverted_class_weight"]\n')
    assert "`variants.bug_pool` must be ids from bugs ['inverted_class_weights']. Got 'inverted_class_weight'" in message
    message = _refused(tmp_path / "plant", '[variants]\nbug_pool = ["inverted_class_weights"]\nplant = 2\n')
    assert "`variants.plant` must be 0 (all) or at most len(bug_pool) = 1. Got 2 instead." in message
    message = _refused(tmp_path / "clash", '[variants]\ncolumns = { ash = ["hue2"], hue = ["hue2"] }\n')
    assert "`variants.columns` must be pools of names no other column uses. Got 'hue2' instead." in message
    message = _refused(tmp_path / "few", "[variants]\ncheck_variants = 3\n")
    assert "`variants.check_variants` must be an integer >= 5. Got 3 instead." in message
    message = _refused(tmp_path / "typo", "[variants]\nshuffle_colums = true\n")
    assert "Did you mean 'shuffle_columns'?" in message


def test_a_constant_without_its_line_and_a_column_the_data_lacks_are_refused(tmp_path):
    root = _copy(tmp_path / "c", extra="[variants]\nconstants = { LEARNING_RATE = [0.1, 0.2] }\n")
    with pytest.raises(ManifestError, match=r"`variants\.constants\.LEARNING_RATE` must be a `LEARNING_RATE = <number>` "
                                            r"line in workspace/ or solution/\. Got no such line instead\."):
        variant_scaffold(load_scaffold(root), "v1")
    root = _copy(tmp_path / "d", extra='[variants]\ncolumns = { alcohol_level = ["abv"] }\n')
    with pytest.raises(ManifestError, match=r"`variants\.columns` must be feature columns of data/train\.csv, renamed "
                                            r"to names it does not use\. Got 'alcohol_level' \(no such column\)"):
        variant_scaffold(load_scaffold(root), "v1").dataset()


# -- what an id decides ---------------------------------------------------------------------------------
def test_an_id_decides_data_names_order_and_files_and_the_secret_is_part_of_it(tmp_path):
    base = load_scaffold(_copy(tmp_path))
    v1, again, v2 = variant_scaffold(base, "v1"), variant_scaffold(base, "v1"), variant_scaffold(base, "v2")
    assert v1.name.endswith("@v1") and v1.root == again.root and v1.root != base.root
    assert v1.dataset().train.equals(again.dataset().train)
    assert not v1.dataset().train.equals(v2.dataset().train)
    for v in (v1, v2):
        ds, renames = v.dataset(), v.variant.draw.renames
        assert set(renames) == {"alcohol", "proline", "od280_od315"}
        for old, new in renames.items():
            assert new in ds.train.columns and new in ds.heldout.columns and old not in ds.train.columns
        assert list(ds.train.columns) == list(ds.heldout.columns)  # one order for both
        assert list(ds.train.columns) != list(base.dataset().train.columns)
    assert v1.data_seed() != base.data_seed() != v2.data_seed()
    other = variant_scaffold(base.with_secret(SECRET_A), "v1")
    assert other.data_seed() != v1.data_seed() and other.root != v1.root
    draws = {s: [variant_scaffold(base.with_secret(s), f"v{i}").variant.draw.renames for i in range(1, 9)]
             for s in (SECRET_A, SECRET_B)}
    assert draws[SECRET_A] != draws[SECRET_B]  # the same ids rename differently on another installation


def test_renames_reach_code_mutants_probes_brief_and_hints_and_mutants_apply(tmp_path):
    root = _copy(tmp_path, REPO / "scaffolds" / "clinic_visits",
                 extra='[variants]\ncolumns = { patient_id = ["mrn"], bmi = ["body_mass_index"] }\n'
                       'constants = { N_FOLDS = [4] }\n')
    v = variant_scaffold(load_scaffold(root), "v3")
    assert v.variant.draw.renames == {"bmi": "body_mass_index", "patient_id": "mrn"}
    texts = {**_files(v.root / "workspace"), **_files(v.root / "solution"), "probes.py": (v.root / "probes.py").read_text(),
             "mutants.toml": (v.root / "mutants.toml").read_text(), "brief.md": (v.root / "brief.md").read_text(),
             "hints": "\n".join(v.manifest.hints)}
    for where, text in texts.items():
        assert "patient_id" not in text and '"bmi"' not in text, where
    assert '"mrn"' in texts["model.py"] and "N_FOLDS = 4\n" in texts["train.py"]
    assert "per mrn in data/train.csv" in texts["hints"]
    for bug in v.manifest.bugs:  # the recomputed mutants turn the rewritten reference into each bug
        built = materialize(scaffold=v, target=tmp_path / bug, reference=True, bug=bug)
        assert _files(built) != _files(materialize(scaffold=v, target=tmp_path / f"r{bug}", reference=True))


def test_a_bug_pool_plants_a_subset_and_reveal_names_only_those(tmp_path):
    root = _copy(tmp_path, REPO / "scaffolds" / "tumor_triage",
                 extra='[variants]\nbug_pool = ["inverted_class_weights", "leak_feature_used"]\nplant = 1\n')
    base = load_scaffold(root)
    planted = {}
    for i in range(1, 13):
        v = variant_scaffold(base, f"v{i}")
        planted[v.variant.draw.id] = v.manifest.bugs
        assert len(v.manifest.bugs) == 3 and {"label_misalignment", "scaler_not_saved"} <= set(v.manifest.bugs)
        assert set(json.loads((v.root / "variant.json").read_text())["planted"]) == set(v.manifest.bugs)
        left_out = ({"inverted_class_weights", "leak_feature_used"} - set(v.manifest.bugs)).pop()
        assert f"[[{left_out}]]" not in (v.root / "mutants.toml").read_text()
        assert all(q == () or set(q) <= set(v.manifest.bugs) for q in v.manifest.quirk_bugs.values())
    assert len(set(planted.values())) == 2  # both subsets occur over twelve ids


def test_bug_texts_of_a_variant_name_its_columns_in_reveal_dashboard_and_report(tmp_path):
    """The catalog's texts and the scaffold's [wording] texts are rewritten like the code: a candidate
    whose workspace has rentals_prev3_mean is never told about rentals_3d_avg."""
    from pitfalls.library.catalogs import bug_entry
    from pitfalls.library.variant import quirk_entry_of
    from pitfalls.live.report_summary import bug_fixes

    root = _copy(tmp_path, REPO / "scaffolds" / "bike_demand",
                 extra='[variants]\ncolumns = { rentals_3d_avg = ["rentals_prev3_mean"] }\n'
                       '[wording.stale_final_fit]\ntitle = "Refit missing; rentals_3d_avg kept"\n')
    base = load_scaffold(root)
    v = variant_scaffold(base, "v2")
    assert "rentals_3d_avg" in bug_entry("lookahead_feature_used", base.manifest.wording)["description"]
    texts = {b: bug_entry(b, v.manifest.wording) for b in v.manifest.bugs}
    assert "exported rentals_prev3_mean as it is" in texts["lookahead_feature_used"]["description"]
    assert texts["stale_final_fit"]["title"] == "Refit missing; rentals_prev3_mean kept"
    assert not any("rentals_3d_avg" in str(entry) for entry in texts.values()), texts
    report = bug_fixes(v.manifest.bugs, [], {}, [], wording=v.manifest.wording)
    assert report[-1]["title"] == "Refit missing; rentals_prev3_mean kept"
    assert quirk_entry_of(v, "temporal_leakage")["title"] == quirk_entry_of(base, "temporal_leakage")["title"]


def test_an_unplanted_pool_bug_leaves_its_fixed_code_without_the_references_explanations(tmp_path):
    """The fixed lines of a pool bug a variant leaves out are the reference's code, but not the
    reference's comments explaining the fix (which would tell a candidate what the shipped scaffold gets
    wrong there); the code is token for token the same."""
    import ast

    from pitfalls.library.variant import Rewrite

    root = _copy(tmp_path, REPO / "scaffolds" / "tumor_triage",
                 extra='[variants]\nbug_pool = ["inverted_class_weights", "leak_feature_used"]\nplant = 1\n')
    base = load_scaffold(root)
    explanation = "'balanced' weights each class by the inverse of its frequency"
    assert explanation in (root / "solution" / "train.py").read_text()
    seen = set()
    for i in range(1, 9):
        v = variant_scaffold(base, f"v{i}")
        planted = "inverted_class_weights" in v.manifest.bugs
        seen.add(planted)
        starter = (v.root / "workspace" / "train.py").read_text()
        if planted:
            continue
        assert 'class_weight="balanced"' in starter and explanation not in starter
        unstripped = Rewrite(v.variant.draw.renames, v.variant.draw.constants).tree(
            materialize(scaffold=base, target=tmp_path / f"raw{i}", reference=True, bugs=list(v.manifest.bugs),
                        starter_edits=True))["train.py"]
        assert explanation in unstripped and ast.dump(ast.parse(unstripped)) == ast.dump(ast.parse(starter))
    assert seen == {True, False}


# -- practice draws one --------------------------------------------------------------------------------
def test_practice_draws_a_variant_records_it_and_takes_variant(tmp_path, monkeypatch):
    monkeypatch.delenv("PITFALLS_VARIANT")
    root = _copy(tmp_path)
    one = api.start_practice(name=str(root), directory=tmp_path / "one")
    two = api.start_practice(name=str(root), directory=tmp_path / "two")
    assert re.fullmatch(r".*@v\d+", one["scaffold"]) and one["scaffold"] != two["scaffold"]
    marker = json.loads((tmp_path / "one" / ".pitfalls.json").read_text())
    assert marker["scaffold"] == one["scaffold"] and marker["source"] == str(root.resolve())
    assert (tmp_path / "one" / "data" / "train.csv").read_text() != (tmp_path / "two" / "data" / "train.csv").read_text()
    assert api.start_practice(name=str(root), directory=tmp_path / "one")["resumed"]
    fixed = api.start_practice(name=str(root), directory=tmp_path / "three", variant="v7")
    assert fixed["scaffold"].endswith("@v7")
    assert api.start_practice(name=str(root), directory=tmp_path / "four", variant="base")["scaffold"].endswith("_template")
    with pytest.raises(ManifestError, match=r"`--variant` must be an id v1 \.\. v99999\. Got 'v0' instead\."):
        api.start_practice(name=str(root), directory=tmp_path / "five", variant="v0")
    with pytest.raises(ManifestError, match=r"`variants` must be a \[variants\] table \(the scaffold declares no "
                                            r"variants\)\. Got --variant v2 instead\."):
        api.start_practice(name=str(TEMPLATE), directory=tmp_path / "six", variant="v2")
    session = api.Store().session(fixed["session_id"])
    assert session["scaffold"] == fixed["scaffold"]  # every later command loads the variant from it
    assert load_scaffold(session["scaffold"], source=session["scaffold_source"]).variant.id == "v7"


def test_the_cli_names_the_variant(tmp_path):
    root = _copy(tmp_path)
    out = run_cli("practice", str(root), "--dir", str(tmp_path / "ws"), "--no-jupyter", "--variant", "v12",
                  "--json", check=True)
    assert json.loads(out.stdout)["scaffold"].endswith("_template@v12"), out.stdout


@pytest.mark.slow
def test_session_start_measures_a_new_variants_scale_before_the_clock_runs_and_says_so(tmp_path):
    """A newly drawn variant's scale costs two training runs: ``session start`` spends them before the
    candidate's lab answers (the clock stays down), so neither the clock nor the first submission pays."""
    from pitfalls.core.clock import session_clock
    from pitfalls.live import sessions
    from pitfalls.scoring.anchors import cached_anchors

    root = _copy(tmp_path)
    store = api.Store()
    live = sessions._create(store, scaffold=str(root), candidate="c", duration_minutes=30, host="127.0.0.1",
                            port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=512, fill=False, variant="v3")
    assert live.scaffold.endswith("_template@v3")
    said: list[str] = []
    sessions.prepare_scale(live, said.append)
    assert said == ["measuring the scoring scale of variant v3 of lib/_template (once per variant, about two "
                    "training runs)..."], said
    assert cached_anchors(load_scaffold(live.scaffold, source=live.scaffold_source)) is not None
    assert not session_clock(store, live.session_id).up  # nothing counted against the candidate
    sessions.prepare_scale(live, said.append)
    assert len(said) == 1  # measured once per variant


# -- attacks: a candidate who read this repository -------------------------------------------------------
def test_a_candidate_who_read_the_repository_gets_neither_the_shipped_workspace_nor_a_repeatable_one(tmp_path, monkeypatch):
    """The shipped workspace and data are not what two draws give, the two draws differ from each
    other, and the id in the marker does not tell which pool bugs are planted (that depends on the
    installation's secret, which the candidate never sees)."""
    monkeypatch.delenv("PITFALLS_VARIANT")
    root = _copy(tmp_path, REPO / "scaffolds" / "clinic_visits",
                 extra='[variants]\ncolumns = { patient_id = ["patient_no", "mrn"], bmi = ["body_mass_index", "bmi_value"] }\n'
                       'shuffle_columns = true\n')
    shipped = _files(root / "workspace")
    draws = [api.start_practice(name=str(root), directory=tmp_path / f"ws{i}") for i in range(2)]
    spaces = [_files(tmp_path / f"ws{i}") for i in range(2)]
    datas = [(tmp_path / f"ws{i}" / "data" / "train.csv").read_text() for i in range(2)]
    assert draws[0]["scaffold"] != draws[1]["scaffold"] and datas[0] != datas[1]
    for space in spaces:
        assert {k: v for k, v in space.items() if k in shipped} != shipped
        assert "patient_id" not in space["model.py"]
    marker = (tmp_path / "ws0" / ".pitfalls.json").read_text()
    assert set(json.loads(marker)) == {"session_id", "scaffold", "source", "distribution"}
    assert not (tmp_path / "ws0" / "variant.json").exists() and not (tmp_path / "ws0" / "GUIDE.md").exists()
    pool = _copy(tmp_path / "pool", REPO / "scaffolds" / "tumor_triage",
                 extra='[variants]\nbug_pool = ["inverted_class_weights", "leak_feature_used"]\nplant = 1\n')
    base = load_scaffold(pool)
    by_secret = {s: [variant_scaffold(base.with_secret(s), f"v{i}").manifest.bugs for i in range(1, 11)]
                 for s in (SECRET_A, SECRET_B)}
    assert by_secret[SECRET_A] != by_secret[SECRET_B]  # the same id plants other bugs elsewhere


def test_pitfalls_variant_pins_what_choose_picks(tmp_path, monkeypatch):
    base = load_scaffold(_copy(tmp_path))
    assert choose(base) is base  # tests pin the shipped files (tests/conftest.py)
    monkeypatch.setenv("PITFALLS_VARIANT", "v4")
    assert choose(base).variant.id == "v4" and choose(base, "v5").variant.id == "v5"


def test_a_pinned_pitfalls_variant_leaves_scaffolds_without_variants_alone_and_is_named_when_wrong(tmp_path,
                                                                                                  monkeypatch):
    """One pinned id serves a run over every scaffold: those without [variants] ignore it, while an
    explicit --variant on them is still refused; a bad pinned id is blamed on the variable, not on --variant."""
    monkeypatch.setenv("PITFALLS_VARIANT", "v4")
    assert choose(load_scaffold("glyph_cnn")).name == "glyph_cnn"
    assert api.start_practice(name=str(TEMPLATE), directory=tmp_path / "plain")["scaffold"] == "_template"
    with pytest.raises(ManifestError, match=r"Got --variant v2 instead\."):
        api.start_practice(name=str(TEMPLATE), directory=tmp_path / "explicit", variant="v2")
    root = _copy(tmp_path)
    assert api.start_practice(name=str(root), directory=tmp_path / "pinned")["scaffold"].endswith("_template@v4")
    monkeypatch.setenv("PITFALLS_VARIANT", "v0")
    with pytest.raises(ManifestError) as info:
        api.start_practice(name=str(root), directory=tmp_path / "bad")
    assert "`$PITFALLS_VARIANT` must be an id v1 .. v99999. Got 'v0' instead." in str(info.value)
    assert "--variant" not in str(info.value)
    assert api.start_practice(name=str(root), directory=tmp_path / "given", variant="v5")["scaffold"].endswith("@v5")


# -- the check -----------------------------------------------------------------------------------------
EASY = """
[variants]
columns = { alcohol = ["alcohol_pct", "abv"] }
constants = { POWER = [-1] }
"""


def _easy_variant(tmp_path: Path) -> Path:
    """A constant that, at -1 (every variant's value), turns the planted frequency weights into balanced ones."""
    root = _copy(tmp_path, extra=EASY)
    for rel in ("workspace/train.py", "solution/train.py"):
        text = (root / rel).read_text()
        (root / rel).write_text(text.replace('ARTIFACT_PATH = "artifacts/model.skops"\n',
                                             'ARTIFACT_PATH = "artifacts/model.skops"\nPOWER = 1\n', 1))
    for rel in ("workspace/train.py", "mutants.toml"):
        text = (root / rel).read_text()
        assert text.count("n / len(y) for c") == 1
        (root / rel).write_text(text.replace("n / len(y) for c", "(n / len(y)) ** POWER for c"))
    return root


@pytest.mark.slow
def test_variants_equally_hard_passes_on_renamed_variants_and_fails_on_an_easy_one(tmp_path):
    report = run_checks(scaffold=_copy(tmp_path / "ok"), only=["variants_equally_hard"])
    result = {r.name: r for r in report.results}["variants_equally_hard"]
    assert result.status == "passed", result.message
    assert re.match(r"^5 variants: starters [-+]\d\.\d\d to [-+]\d\.\d\d, references \d\.\d\d to \d\.\d\d "
                    r"\(tolerance 0\.25\); 5 planted bugs bite in their variant \(sign test p <= 0\.0312\)$",
                    result.message), result.message
    report = run_checks(scaffold=_easy_variant(tmp_path / "easy"), only=["variants_equally_hard"])
    failed = [r for r in report.results if r.status != "passed"]
    assert [r.name for r in failed] == ["variants_equally_hard"], report.results
    assert re.match(r"^Every variant must be as hard as the shipped scaffold: its starter within 0\.25 of 0 and its "
                    r"reference within 0\.25 of 1 on the shipped scale of its data \(shipped starter 0, shipped "
                    r"reference 1\)\. Got v1 \(plants inverted_class_weights\) starter \+\d\.\d\d, reference "
                    r"\+\d\.\d\d instead\. Pool only bugs of like harm, narrow the constants' values, or raise "
                    r"\[variants\] tolerance\.$", failed[0].message), failed[0].message

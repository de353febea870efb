"""Scaffold packs (runner/core/packs.py): ids, resolution, collisions, $PITFALLS_SCAFFOLDS, --scaffolds,
entry points, a pack's own catalog entries and a session's recorded source. Real folders and a real
entry point (a .dist-info on sys.path), no mocks; nothing here trains."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pack_kit import clean  # noqa: F401 - autouse: a clean slate of packs for each test

from pitfalls.cli.main import cli
from pitfalls.core import packs
from pitfalls.core.errors import ScaffoldNotFound
from pitfalls.core.packs import PackError
from pitfalls.library import catalogs
from pitfalls.library.scaffold import _load, load_scaffold, scaffold_names

REPO = Path(__file__).resolve().parents[2]
TUMOR = REPO / "scaffolds" / "tumor_triage"
BUG = ('[{id}]\nref = "team"\ncategory = "leakage"\nframework = "sklearn"\ntitle = "t"\ndescription = "d"\n'
       'symptom = "s"\nwhy = "w"\nprobe = "p"\n')


def pack(root: Path, name: str, scaffolds: tuple[str, ...] = ("tumor_triage",)) -> Path:
    """A pack folder ``root/name`` holding copies of tumor_triage under ``scaffolds`` names."""
    folder = root / name
    for scaffold in scaffolds:
        shutil.copytree(TUMOR, folder / scaffold, ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
        toml = folder / scaffold / "scaffold.toml"
        toml.write_text(toml.read_text().replace('name = "tumor_triage"', f'name = "{scaffold}"', 1))
    return folder


def use(monkeypatch, *folders: Path) -> None:
    monkeypatch.setenv(packs.ENV, os.pathsep.join(str(f) for f in folders))


# -- ids and resolution ----------------------------------------------------------------------------
def test_a_pack_adds_namespaced_ids_and_the_built_in_names_stay_bare(tmp_path, monkeypatch):
    builtin = scaffold_names()
    use(monkeypatch, pack(tmp_path, "acme", ("churn", "tumor_triage")))
    assert scaffold_names() == builtin + ["acme/churn", "acme/tumor_triage"]
    assert load_scaffold("tumor_triage").root == TUMOR  # the built-in one, not the pack's copy
    copy = load_scaffold("acme/tumor_triage")
    assert copy.name == "acme/tumor_triage" and copy.manifest.name == "tumor_triage"
    assert copy.root == tmp_path / "acme" / "tumor_triage"


def test_the_path_list_takes_several_packs_and_skips_empty_parts(tmp_path, monkeypatch):
    a, b = pack(tmp_path, "a", ("churn",)), pack(tmp_path, "b", ("churn",))
    monkeypatch.setenv(packs.ENV, f"{os.pathsep}{a}{os.pathsep}{os.pathsep}{b}{os.pathsep}")
    assert packs.env_folders() == [a, b]
    one, two = load_scaffold("a/churn"), load_scaffold("b/churn")  # one scaffold name, two packs: no clash
    assert (one.root, two.root) == (a / "churn", b / "churn")


def test_scaffolds_option_adds_to_the_variable_for_child_processes(tmp_path, monkeypatch):
    a, b = pack(tmp_path, "a", ("churn",)), pack(tmp_path, "b", ("churn",))
    use(monkeypatch, a)
    packs.add_folders([b, a])  # what --scaffolds b --scaffolds a does: in front, each folder once
    assert os.environ[packs.ENV].split(os.pathsep) == [str(b), str(a)]


def test_the_built_in_folder_in_the_variable_is_no_pack(monkeypatch):
    use(monkeypatch, REPO / "scaffolds")
    assert packs.packs() == [] and "scaffolds/tumor_triage" not in scaffold_names()


def test_a_bare_name_only_in_a_pack_is_refused_with_its_full_id(tmp_path, monkeypatch):
    use(monkeypatch, pack(tmp_path, "acme", ("churn",)))
    with pytest.raises(ScaffoldNotFound) as err:
        load_scaffold("churn")
    assert "Got 'churn' instead. A pack's scaffold is named PACK/NAME: did you mean 'acme/churn'?" in str(err.value)


def test_an_unknown_pack_is_not_found_with_the_closest_id(tmp_path, monkeypatch):
    use(monkeypatch, pack(tmp_path, "acme", ("churn",)))
    with pytest.raises(ScaffoldNotFound, match=re.escape("Got 'acne/churn' instead. Did you mean 'acme/churn'?")):
        load_scaffold("acne/churn")


def test_a_template_like_name_of_a_pack_is_not_an_id(tmp_path, monkeypatch):
    folder = pack(tmp_path, "acme", ("churn",))
    shutil.copytree(folder / "churn", folder / "_draft")
    use(monkeypatch, folder)
    assert "acme/_draft" not in scaffold_names()
    with pytest.raises(ScaffoldNotFound):
        packs.locate("acme/_draft")
    assert packs.locate("_template")[1] == REPO / "scaffolds" / "_template"  # built-in: kept on purpose
    assert "_template" not in scaffold_names()


# -- collisions and bad packs ----------------------------------------------------------------------
def test_two_folders_with_one_pack_name_are_refused(tmp_path, monkeypatch):
    a, b = pack(tmp_path / "x", "acme", ("churn",)), pack(tmp_path / "y", "acme", ("ranker",))
    use(monkeypatch, a, b)
    with pytest.raises(PackError) as err:
        scaffold_names()
    assert (f"Pack names must be unique. Got 'acme' for both {a} ($PITFALLS_SCAFFOLDS) and {b} "
            "($PITFALLS_SCAFFOLDS) instead.") in str(err.value)


def test_one_folder_named_twice_is_one_pack(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", ("churn",))
    use(monkeypatch, a, tmp_path / "." / "acme")
    assert [p.folder for p in packs.packs()] == [a]


@pytest.mark.parametrize("case", ["scaffold_folder", "empty", "missing", "bad_name"])
def test_a_folder_that_is_no_pack_is_refused_with_the_fix(tmp_path, monkeypatch, case):
    a = pack(tmp_path, "acme", ("churn",))
    folder, says = {
        "scaffold_folder": (a / "churn", f"Got the scaffold folder {a / 'churn'} itself instead. Give its parent, {a}."),
        "empty": (tmp_path / "empty", f"must hold at least one scaffold (NAME/scaffold.toml). Got none in {tmp_path / 'empty'}"),
        "missing": (tmp_path / "nowhere", f"must be a folder of scaffolds. Got {tmp_path / 'nowhere'}, which is no folder"),
        "bad_name": (tmp_path / "my pack", "A pack's name must be letters, digits, '_', '.' or '-'"),
    }[case]
    if case == "empty":
        folder.mkdir()
    if case == "bad_name":
        shutil.copytree(a, folder)
    use(monkeypatch, folder)
    with pytest.raises(PackError) as err:
        scaffold_names()
    assert says in str(err.value)


def test_the_cli_option_refuses_a_scaffold_folder_as_a_pack(tmp_path):
    a = pack(tmp_path, "acme", ("churn",))
    result = CliRunner().invoke(cli, ["list", "--scaffolds", str(a / "churn")])
    assert isinstance(result.exception, PackError) and "Give its parent" in str(result.exception)


def test_list_with_the_option_shows_the_pack_s_scaffolds(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", ("churn",))
    monkeypatch.setenv(packs.ENV, "")  # the option writes to it: restored after the test
    result = CliRunner().invoke(cli, ["list", "--json", "--scaffolds", str(a)])
    assert result.exit_code == 0, result.output
    assert "acme/churn" in result.output and '"tumor_triage"' in result.output


# -- entry points (a real distribution on sys.path) ------------------------------------------------
def distribution(site: Path, value: str, name: str = "acme") -> Path:
    """An installed distribution ``acme-pitfalls`` registering ``name = value`` in pitfalls.scaffolds."""
    info = site / "acme_pitfalls-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pitfalls\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[pitfalls.scaffolds]\n{name} = {value}\n")
    package = pack(site, "acme_pitfalls", ("churn",))
    (package / "__init__.py").write_text("")
    return package


def test_an_entry_point_names_the_pack_and_its_package_folder_holds_it(tmp_path, monkeypatch):
    package = distribution(tmp_path / "site", "acme_pitfalls", name="team")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    scaffold = load_scaffold("team/churn")
    assert scaffold.root == package / "churn" and scaffold.distribution == "acme-pitfalls 1.0"
    assert package in packs.pack_folders()  # hidden from every sandbox (runner/sandbox/libraries.py)


def test_an_entry_point_to_an_attribute_is_refused(tmp_path, monkeypatch):
    distribution(tmp_path / "site", "acme_pitfalls:SCAFFOLDS")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(PackError, match=re.escape("must name an importable package whose folder holds the "
                                                  "scaffolds (acme = \"acme_pitfalls\"). Got 'acme_pitfalls:SCAFFOLDS'")):
        scaffold_names()


def test_an_entry_point_and_a_folder_with_one_name_collide(tmp_path, monkeypatch):
    distribution(tmp_path / "site", "acme_pitfalls")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    use(monkeypatch, pack(tmp_path, "acme", ("churn",)))
    with pytest.raises(PackError, match="Pack names must be unique. Got 'acme' for both"):
        scaffold_names()


# -- what a sandbox hides ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["bad_variable", "underscored_only", "twin", "broken_other"])
def test_a_sandbox_hides_an_entry_point_pack_whose_discovery_fails(tmp_path, monkeypatch, case):
    """The attack: make discovery raise (a bad $PITFALLS_SCAFFOLDS, a pack with only `_` scaffolds, two
    packs with one name, another distribution's bad entry point), then read the installed pack."""
    from pitfalls.sandbox.libraries import Host, secrets_inside

    site = tmp_path / "site"
    package = distribution(site, "acme_pitfalls")
    monkeypatch.syspath_prepend(str(site))
    if case == "bad_variable":
        monkeypatch.setenv(packs.ENV, str(tmp_path / "nonexistent"))
    elif case == "underscored_only":
        (package / "churn").rename(package / "_churn")
    elif case == "twin":
        use(monkeypatch, pack(tmp_path, "acme", ("churn",)))
    else:
        other = site / "other-1.0.dist-info"
        other.mkdir()
        (other / "METADATA").write_text("Metadata-Version: 2.1\nName: other\nVersion: 1.0\n")
        (other / "entry_points.txt").write_text("[pitfalls.scaffolds]\nother = no_such_module_here\n")
    with pytest.raises(PackError):
        packs.packs()
    hidden = secrets_inside(str(site), Host.current())
    assert str(package) in hidden and str(site / "acme_pitfalls-1.0.dist-info") in hidden, hidden


def test_a_pack_folder_nobody_registered_is_hidden_by_its_content(tmp_path):
    """No registry at all (another interpreter's packs, a copy): a folder holding */scaffold.toml."""
    from pitfalls.sandbox.libraries import Host, secrets_inside

    site = tmp_path / "lib" / "site-packages"
    folder = pack(site, "acme_pitfalls", ("churn",))
    shutil.rmtree(folder / "churn" / "solution")  # its manifest alone names the planted bugs
    (site / "numpy").mkdir()
    assert secrets_inside(str(tmp_path), Host(checkout=None)) == [str(folder)]


# -- a pack's catalog entries ----------------------------------------------------------------------
def test_a_pack_s_bug_kinds_join_the_catalog(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", ("churn",))
    (a / "bugs").mkdir()
    (a / "bugs" / "churn.toml").write_text(BUG.format(id="acme_leak"))
    assert "acme_leak" not in catalogs.bugs()
    use(monkeypatch, a)
    assert catalogs.bug_entry("acme_leak")["title"] == "t"


def test_a_pack_cannot_override_a_shipped_entry(tmp_path, monkeypatch):
    """Changed on purpose: the clash does not fail the whole catalog; the bare id stays the shipped
    entry, the pack's entry is refused (listed nowhere; `check` and `pitfalls bugs` report it:
    tests/unit/test_pack_catalogs.py), and clashes() names both files."""
    a = pack(tmp_path, "acme", ("churn",))
    (a / "bugs").mkdir()
    (a / "bugs" / "mine.toml").write_text(BUG.format(id="lookahead_feature_used"))
    use(monkeypatch, a)
    assert catalogs.bugs()["lookahead_feature_used"]["title"] != "t"  # the shipped entry, not the pack's
    assert "acme/lookahead_feature_used" not in catalogs.catalog("bugs")
    shipped = REPO / "bugs" / "catalog" / "bike_demand.toml"
    (why,) = catalogs.clashes("bugs", "acme")
    assert f"'lookahead_feature_used' in both {shipped} and {a / 'bugs' / 'mine.toml'}" in why


def test_two_packs_defining_one_id_fail_only_for_themselves(tmp_path, monkeypatch):
    """Changed on purpose (was: every catalog read raised): teamA and teamB both define churn_leak;
    the built-in catalog and listing still work, each pack's entry is listed as PACK/churn_leak, the
    bare id is nobody's without a scaffold, and each pack's scaffolds get their own entry
    (`bug_entry(id, scaffold=...)`, tests/unit/test_pack_catalogs.py): no clash to report."""
    folders = [pack(tmp_path, n, ("churn",)) for n in ("teamA", "teamB")]
    for folder in folders:
        (folder / "bugs").mkdir()
        (folder / "bugs" / "q.toml").write_text(BUG.format(id="churn_leak"))
    use(monkeypatch, *folders)
    listed = catalogs.catalog("bugs", planted=True)
    assert {"teamA/churn_leak", "teamB/churn_leak", "lookahead_feature_used"} <= set(listed)
    assert "churn_leak" not in catalogs.bugs() and "churn_leak" not in listed
    assert "teamA/churn" in listed["leak_feature_used"]["scaffolds"]  # a pack's built-in ids still resolve
    result = CliRunner().invoke(cli, ["bugs", "--json"])
    assert result.exit_code == 0 and "teamB/churn_leak" in result.output, result.output
    assert catalogs.clashes("bugs", "teamA") == catalogs.clashes("bugs", "teamB") == []


def test_a_pack_s_own_id_is_listed_with_its_pack_and_its_scaffolds(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", ("churn",))
    (a / "bugs").mkdir()
    (a / "bugs" / "churn.toml").write_text(BUG.format(id="acme_leak"))
    toml = a / "churn" / "scaffold.toml"
    toml.write_text(toml.read_text().replace('bugs = [', 'bugs = ["acme_leak", ', 1))
    use(monkeypatch, a)
    listed = catalogs.catalog("bugs", planted=True)
    assert listed["acme/acme_leak"]["scaffolds"] == ["acme/churn"] and "acme_leak" not in listed


# -- a session's recorded source -------------------------------------------------------------------
def test_a_recorded_source_finds_the_scaffold_without_the_variable(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", ("churn",))
    (a / "bugs").mkdir()
    (a / "bugs" / "churn.toml").write_text(BUG.format(id="acme_leak"))
    with pytest.raises(ScaffoldNotFound):
        load_scaffold("acme/churn")
    scaffold = load_scaffold("acme/churn", source=a / "churn")  # what sessions.scaffold_source holds
    assert scaffold.root == a / "churn" and scaffold.name == "acme/churn"
    assert "acme_leak" in catalogs.bugs()  # loaded with its scaffold


def test_a_recorded_source_that_is_gone_says_where_it_was(tmp_path):
    with pytest.raises(ScaffoldNotFound) as err:
        load_scaffold("acme/churn", source=tmp_path / "gone" / "churn")
    assert f"It was recorded from {tmp_path / 'gone' / 'churn'}, which no longer holds it" in str(err.value)


def test_a_recorded_source_under_a_registered_pack_s_name_is_refused(tmp_path, monkeypatch):
    old, new = pack(tmp_path / "old", "acme", ("churn",)), pack(tmp_path / "new", "acme", ("churn",))
    use(monkeypatch, new)
    with pytest.raises(PackError, match=re.escape(f"Got 'acme' for both {new} ($PITFALLS_SCAFFOLDS) and {old}")):
        load_scaffold("acme/churn", source=old / "churn")


def test_a_scaffold_folder_outside_every_pack_gets_its_parent_as_pack(tmp_path):
    a = pack(tmp_path, "drafts", ("churn",))
    assert load_scaffold(a / "churn").name == "drafts/churn"
    assert load_scaffold(TUMOR).name == "tumor_triage"  # a built-in folder by path keeps its bare id


def test_a_practice_workspace_of_a_folder_pack_works_from_anywhere_without_the_variable(tmp_path, monkeypatch):
    """The issue's failure: `hint` outside the scaffold's parent said "Scaffold must be one of [...]"."""
    from pitfalls.service import api

    a = pack(tmp_path, "acme", ("churn",))
    toml = a / "churn" / "scaffold.toml"
    toml.write_text(toml.read_text().replace('hints = [\n', 'hints = [\n    "ACME first rung.",\n', 1))
    use(monkeypatch, a)
    info = api.start_practice(name="acme/churn", directory=tmp_path / "ws")
    assert info["scaffold"].startswith("acme/churn")  # (a variant's id, acme/churn@vN, if one was drawn)
    monkeypatch.delenv(packs.ENV)
    packs._adopted.clear()  # as in a new process: no pack known
    _load.cache_clear()
    assert "acme/churn" not in scaffold_names()
    monkeypatch.chdir(tmp_path / "ws" / "data")
    assert api.hint(directory=tmp_path / "ws").text == "ACME first rung."  # the pack's ladder

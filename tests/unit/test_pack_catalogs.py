"""A pack's own catalog entries (bugs/*.toml, quirks/*.toml beside its scaffolds): one reusing a
built-in id is refused by `pitfalls check` and `pitfalls bugs/quirks`, naming both files; two packs'
entries with one bare id stay apart when the scaffold is known (`bug_entry(..., scaffold=)`). Real
pack folders (copies of tumor_triage), no mocks; nothing here trains."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pack_kit import clean  # noqa: F401 - autouse: a clean slate of packs for each test

from pitfalls.checks.suite import run_checks
from pitfalls.cli.main import cli
from pitfalls.core import packs
from pitfalls.library import catalogs
from pitfalls.live.report_summary import bug_fixes

REPO = Path(__file__).resolve().parents[2]
TUMOR = REPO / "scaffolds" / "tumor_triage"
BUG = ('[{id}]\nref = "team"\ncategory = "leakage"\nframework = "sklearn"\ntitle = "{title}"\ndescription = "d"\n'
       'symptom = "s"\nwhy = "w"\nprobe = "p"\n')
QUIRK = '[{id}]\nref = "team"\ntitle = "{title}"\ndescription = "d"\ndetect = "x"\nhandle = "h"\n'


def pack(root: Path, name: str, kind: str = "", text: str = "") -> Path:
    """A pack ``root/name`` holding a copy of tumor_triage as ``churn``, and ``text`` as its ``kind``
    catalog file (``bugs`` or ``quirks``) if given."""
    folder = root / name
    shutil.copytree(TUMOR, folder / "churn", ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    toml = folder / "churn" / "scaffold.toml"
    toml.write_text(toml.read_text().replace('name = "tumor_triage"', 'name = "churn"', 1))
    if kind:
        (folder / kind).mkdir()
        (folder / kind / "mine.toml").write_text(text)
    return folder


def use(monkeypatch, *folders: Path) -> None:
    monkeypatch.setenv(packs.ENV, os.pathsep.join(str(f) for f in folders))


def only_result(root: Path, name: str):
    (result,) = [r for r in run_checks(scaffold=root, quick=True, only=[name]).results if r.name == name]
    return result


# -- an entry reusing a built-in id ------------------------------------------------------------------
def test_check_refuses_a_pack_bug_entry_reusing_a_built_in_id(tmp_path, monkeypatch):
    """Was: bug_ids_known passed and the scaffold silently got the built-in entry's texts."""
    a = pack(tmp_path, "acme", "bugs", BUG.format(id="inverted_class_weights", title="ours"))
    use(monkeypatch, a)
    result = only_result(a / "churn", "bug_ids_known")
    shipped = REPO / "bugs" / "catalog" / "core.toml"
    assert result.status == "failed", result
    assert result.message == (
        f"Bug ids of pack 'acme' must be new, not a built-in kind's. Got 'inverted_class_weights' in both "
        f"{shipped} and {a / 'bugs' / 'mine.toml'} instead. Rename the pack's entry to an id of its own (and "
        "plant that id), or delete it and reword the built-in kind for a scaffold with "
        "[wording.inverted_class_weights] in its scaffold.toml.")
    assert "acme/inverted_class_weights" not in catalogs.catalog("bugs")  # refused: it joins no catalog
    assert catalogs.bug_entry("inverted_class_weights", scaffold="acme/churn")["title"] != "ours"


def test_check_refuses_it_even_when_the_scaffold_does_not_plant_that_id(tmp_path, monkeypatch):
    """The entry itself is refused: any scaffold of the pack fails until it is renamed."""
    a = pack(tmp_path, "acme", "bugs", BUG.format(id="lookahead_feature_used", title="ours"))
    use(monkeypatch, a)
    result = only_result(a / "churn", "bug_ids_known")
    assert result.status == "failed" and "'lookahead_feature_used' in both" in result.message, result


def test_check_refuses_a_pack_quirk_entry_reusing_a_built_in_id(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", "quirks", QUIRK.format(id="class_imbalance", title="ours"))
    use(monkeypatch, a)
    result = only_result(a / "churn", "quirk_ids_known")
    shipped = REPO / "datasets" / "catalog" / "core.toml"
    assert result.status == "failed", result
    assert result.message == (
        f"Quirk ids of pack 'acme' must be new, not a built-in kind's. Got 'class_imbalance' in both {shipped} "
        f"and {a / 'quirks' / 'mine.toml'} instead. Rename the pack's entry to an id of its own (and plant that "
        "id), or delete it to plant the built-in kind.")


def test_a_pack_with_new_ids_passes_both_checks(tmp_path, monkeypatch):
    a = pack(tmp_path, "acme", "bugs", BUG.format(id="acme_leak", title="ours"))
    toml = a / "churn" / "scaffold.toml"
    toml.write_text(toml.read_text().replace('bugs = [', 'bugs = ["acme_leak", ', 1))
    use(monkeypatch, a)
    assert only_result(a / "churn", "bug_ids_known").status == "passed"
    assert only_result(a / "churn", "quirk_ids_known").status == "passed"


@pytest.mark.parametrize("kind", ["bugs", "quirks"])
def test_the_listing_commands_report_the_refused_entry(tmp_path, monkeypatch, kind):
    text = (BUG.format(id="inverted_class_weights", title="ours") if kind == "bugs"
            else QUIRK.format(id="class_imbalance", title="ours"))
    a = pack(tmp_path, "acme", kind, text)
    result = CliRunner().invoke(cli, [kind, "--scaffolds", str(a)])
    assert result.exit_code == 1, result.output
    assert re.search(rf"ids of pack 'acme' must be new, not a built-in kind's\. Got '\w+' in both \S+core\.toml "
                     rf"and {re.escape(str(a / kind / 'mine.toml'))} instead\. Rename", result.output), result.output
    assert "acme/" not in result.output.split("Error:")[0]  # the listing does not show the refused entry
    monkeypatch.delenv(packs.ENV)  # --scaffolds added it for the process (child processes)
    clean_pack = pack(tmp_path / "ok", "acme", kind, text.replace("inverted_class_weights", "acme_leak")
                      .replace("class_imbalance", "acme_skew"))
    ok = CliRunner().invoke(cli, [kind, "--scaffolds", str(clean_pack)])
    assert ok.exit_code == 0 and "acme/acme_" in ok.output, ok.output


def test_practice_and_live_sessions_refuse_a_pack_reusing_a_built_in_id(tmp_path, monkeypatch):
    """Was: practice and session start went ahead, and the reveal and report showed the built-in texts."""
    from pitfalls.core.errors import PitfallsError
    from pitfalls.core.store import Store
    from pitfalls.live import sessions
    from pitfalls.service.api import start_practice
    from pitfalls.service.builds import start_build_workspace

    a = pack(tmp_path, "acme", "bugs", BUG.format(id="inverted_class_weights", title="ours"))
    use(monkeypatch, a)
    why = r"^Bug ids of pack 'acme' must be new, not a built-in kind's\. Got 'inverted_class_weights' in both "
    with pytest.raises(PitfallsError, match=why):
        start_practice(name="acme/churn", directory=tmp_path / "ws", variant="base")
    with pytest.raises(PitfallsError, match=why):  # `pitfalls workspace NAME --with-bug` makes a practice session too
        start_build_workspace(name="acme/churn", directory=tmp_path / "ws", bugs=[])
    with pytest.raises(PitfallsError, match=why):
        sessions.open_session(Store(), scaffold=str(a / "churn"), candidate="Ada", duration_minutes=30,
                              session_id=None, disk_mb=0)
    assert Store().db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert not (tmp_path / "ws").exists()


def test_a_hub_user_s_first_session_refuses_a_pack_reusing_a_built_in_id(tmp_path, monkeypatch):
    """The hub's pre_spawn_hook and scorer make each user's session through prepare_user: the same refusal,
    before any session row or workspace exists."""
    from pitfalls.core.errors import PitfallsError
    from pitfalls.core.store import Store
    from pitfalls.live.hub import HubSettings, prepare_user

    a = pack(tmp_path, "acme", "bugs", BUG.format(id="inverted_class_weights", title="ours"))
    use(monkeypatch, a)
    settings = HubSettings(scaffold="acme/churn", users=tmp_path / "users")
    with pytest.raises(PitfallsError, match=r"^Bug ids of pack 'acme' must be new, not a built-in kind's\."):
        prepare_user("ada", settings)
    assert Store().db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert not [p for p in (tmp_path / "users").iterdir() if p.is_dir()]  # no workspace (the lock file only)


# -- two packs, one bare id ---------------------------------------------------------------------------
def test_two_packs_entries_with_one_bare_id_stay_apart_by_scaffold(tmp_path, monkeypatch):
    """Was: `bug_entry("churn_leak")` could not tell teamA's from teamB's (the bare id was nobody's) and
    both packs' scaffolds planting it failed bug_ids_known as 'unknown'."""
    a = pack(tmp_path, "teamA", "bugs", BUG.format(id="churn_leak", title="A's leak"))
    b = pack(tmp_path, "teamB", "bugs", BUG.format(id="churn_leak", title="B's leak"))
    for folder in (a, b):
        toml = folder / "churn" / "scaffold.toml"
        toml.write_text(toml.read_text().replace('bugs = [', 'bugs = ["churn_leak", ', 1))
    use(monkeypatch, a, b)
    assert catalogs.bug_entry("churn_leak", scaffold="teamA/churn")["title"] == "A's leak"
    assert catalogs.bug_entry("churn_leak", scaffold="teamB/churn@v2")["title"] == "B's leak"  # a variant's id
    assert "title" not in catalogs.bug_entry("churn_leak")  # no scaffold: nobody's
    assert catalogs.bug_entry("inverted_class_weights", scaffold="teamA/churn")["ref"] != "team"  # built-in ids stay
    assert catalogs.clashes("bugs", "teamA") == []  # no built-in id reused
    for folder in (a, b):
        assert only_result(folder / "churn", "bug_ids_known").status == "passed"
    (fix,) = bug_fixes(["churn_leak"], [], {"scaffold": "teamB/churn"}, [])  # the report's bug table
    assert fix["title"] == "B's leak"


def test_a_variant_s_reveal_texts_follow_its_own_pack(tmp_path, monkeypatch):
    """The variant's [wording] (what reveal, dashboard and report read) is built from its pack's entry."""
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.variant import _wording
    from pitfalls.library.variant_spec import Draw

    a = pack(tmp_path, "teamA", "bugs", BUG.format(id="churn_leak", title="A's leak"))
    b = pack(tmp_path, "teamB", "bugs", BUG.format(id="churn_leak", title="B's leak"))
    for folder in (a, b):
        toml = folder / "churn" / "scaffold.toml"
        toml.write_text(toml.read_text().replace('bugs = [', 'bugs = ["churn_leak", ', 1))
    use(monkeypatch, a, b)
    base = load_scaffold("teamB/churn")
    draw = Draw(id="v1", planted=("churn_leak",), renames={}, order_seed=None, constants={})
    assert _wording(base, draw)["churn_leak"]["title"] == "B's leak"

"""Authors' quick loops (issue 16 item 4), through the real CLI function: `pitfalls workspace NAME DIR
--with-bug ID`, `pitfalls probe NAME --on` refusing what the scaffold does not build, and `pitfalls
quirks` naming each kind's planter. Fast: nothing trains (tests/test_cli_probe.py runs a probe)."""

from __future__ import annotations

import filecmp
import importlib
import inspect
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pitfalls.cli.authoring import probe_text
from pitfalls.cli.main import cli, main
from pitfalls.core.store import Store
from pitfalls.datasets import REGISTRY
from pitfalls.library.builds import expected_status
from pitfalls.library.catalogs import quirks
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.library.workspace import read_marker

NAME = "tumor_triage"
CODE = ("train.py", "model.py")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """The console entry point: a PitfallsError is one `error:` line and exit status 1."""
    monkeypatch.setattr(sys, "argv", ["pitfalls", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def _same_code(a: Path, b: Path) -> bool:
    return all(filecmp.cmp(a / f, b / f, shallow=False) for f in CODE)


# -- pitfalls workspace NAME DIR --with-bug ID -------------------------------------------------------
def test_workspace_with_two_bugs_is_the_reference_with_both_put_back_and_can_be_submitted(tmp_path):
    """The code is solution/ with both mutants applied (as materialize builds it), not the starter and
    not one bug only; data, brief and the session marker are there, and the session is stored."""
    scaffold = load_scaffold(NAME)
    target = tmp_path / "ws"
    info = json.loads(_invoke("workspace", NAME, str(target), "--with-bug", "scaler_not_saved",
                              "--with-bug", "leak_feature_used", "--json"))
    assert info["bugs"] == ["scaler_not_saved", "leak_feature_used"]  # the manifest's order
    both = materialize(scaffold=scaffold, target=tmp_path / "both", reference=True,
                       bugs=["leak_feature_used", "scaler_not_saved"])
    assert _same_code(target, both)
    for other in (materialize(scaffold=scaffold, target=tmp_path / "one", reference=True, bug="scaler_not_saved"),
                  materialize(scaffold=scaffold, target=tmp_path / "starter", reference=False)):
        assert not _same_code(target, other)
    assert (target / "data" / "train.csv").is_file() and (target / "BRIEF.md").is_file()
    marker = read_marker(target)
    assert marker["scaffold"] == NAME and marker["session_id"] == info["session_id"]
    session = Store().session(info["session_id"])
    assert session is not None and session["mode"] == "practice" and Path(session["workspace"]) == target.resolve()
    assert Path(session["scaffold_source"]) == scaffold.root  # hint, submit, reveal work from any folder


def test_workspace_without_a_bug_is_the_reference(tmp_path):
    out = _invoke("workspace", NAME, str(tmp_path / "ws"))
    assert "with no bug put back" in out
    assert _same_code(tmp_path / "ws", materialize(scaffold=load_scaffold(NAME), target=tmp_path / "ref",
                                                   reference=True))


def test_workspace_refuses_an_unknown_bug_with_the_list_and_the_id_meant(monkeypatch, capsys, tmp_path):
    """Refused before anything is written: no folder, no session."""
    code, err = _main(monkeypatch, capsys, "workspace", NAME, str(tmp_path / "ws"), "--with-bug", "leak_featur_used")
    assert code == 1
    assert "error: --with-bug must be one of ['label_misalignment', 'scaler_not_saved'" in err
    assert "Got 'leak_featur_used' instead. Did you mean 'leak_feature_used'?" in err
    assert not (tmp_path / "ws").exists()
    assert Store().db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_workspace_refuses_a_folder_with_files(monkeypatch, capsys, tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "mine.py").write_text("x = 1\n")
    code, err = _main(monkeypatch, capsys, "workspace", NAME, str(tmp_path / "ws"), "--with-bug", "scaler_not_saved")
    assert code == 1 and "must be new or empty" in err
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == ["mine.py"]
    assert Store().db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


# -- pitfalls probe NAME --on BUILD ------------------------------------------------------------------
@pytest.mark.parametrize(("on", "says"), [
    ("scaler_saved", "Did you mean 'scaler_not_saved'?"),
    ("Reference", "Did you mean 'reference'?"),
    ("softmax_before_loss", "Got 'softmax_before_loss' instead."),  # another scaffold's bug
])
def test_probe_refuses_a_build_the_scaffold_does_not_have(monkeypatch, capsys, on, says):
    """Refused before anything trains (the unit tests' guard would fail a sandbox)."""
    code, err = _main(monkeypatch, capsys, "probe", NAME, "--on", on)
    assert code == 1, err
    assert ("error: --on must be one of ['starter', 'reference', 'label_misalignment', 'scaler_not_saved', "
            "'inverted_class_weights', 'leak_feature_used'] for tumor_triage.") in err
    assert says in err


def test_probe_expects_present_where_planted_and_fixed_elsewhere():
    assert expected_status("starter", "a") == "present"
    assert expected_status("reference", "a") == "fixed"
    assert expected_status("a", "a") == "present" and expected_status("a", "b") == "fixed"


def test_probe_text_marks_a_probe_that_disagrees_with_its_build():
    row = {"bug": "leak_feature_used", "status": "fixed", "expected": "present", "agrees": False,
           "evidence": "predictions moved 0.0 when shuffled " + "x" * 200, "tampering": ["tampering suspected: z"]}
    ok = {**row, "bug": "scaler_not_saved", "status": "fixed", "expected": "fixed", "agrees": True, "tampering": []}
    text = probe_text({"scaffold": NAME, "on": "leak_feature_used", "probes": [ok, row]})
    lines = text.splitlines()
    assert lines[0] == "tumor_triage: probes on the reference with leak_feature_used put back"
    assert lines[1].split() == ["probe", "verdict", "expected", "evidence"]
    wrong = next(line for line in lines if line.startswith("WRONG"))
    assert wrong.split()[:4] == ["WRONG", "leak_feature_used", "fixed", "present"] and wrong.endswith("...")
    assert next(line for line in lines if "scaler_not_saved" in line).startswith("ok ")
    assert "WARNING tampering suspected: z" in lines
    assert lines[-1].startswith("FAILED: leak_feature_used disagrees with this build")
    all_ok = probe_text({"scaffold": NAME, "on": "reference", "probes": [ok]})
    assert all_ok.splitlines()[-1] == "OK: every probe says what this build holds."


# -- pitfalls quirks: planters -----------------------------------------------------------------------
def test_quirks_json_names_each_planter_and_its_parameters_as_the_function_declares_them():
    data = json.loads(_invoke("quirks", "--json"))
    assert set(data) == set(quirks())
    for kind, entry in data.items():
        module, function = entry["planter"].split(":")
        fn = getattr(importlib.import_module(module), function)
        assert fn is REGISTRY[kind].plant, kind
        declared = inspect.signature(fn).parameters
        assert [p["name"] for p in entry["parameters"]] == list(declared), kind
        for p in entry["parameters"]:
            assert p["required"] == (declared[p["name"]].default is inspect.Parameter.empty), (kind, p)
        assert entry["title"] == quirks()[kind]["title"] and entry["description"] == quirks()[kind]["description"]
    leak = {p["name"]: p for p in data["target_leakage"]["parameters"]}
    assert data["target_leakage"]["planter"] == "pitfalls.datasets.planters:add_leak_feature"
    assert leak["codes"] == {"name": "codes", "kind": "keyword", "annotation": "int", "required": False, "default": 10}
    assert leak["df"]["kind"] == "positional" and leak["rng"]["required"]


def test_quirks_table_has_a_planter_column():
    lines = _invoke("quirks").splitlines()
    assert lines[0].split() == ["id", "ref", "title", "planter", "planted", "in"]
    row = next(line for line in lines if line.startswith("duplicates "))
    assert "pitfalls.datasets.duplication:duplicate_rows" in row

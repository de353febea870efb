"""The CLI's wiring (pitfalls.cli.main), in-process through click's CliRunner: every command is
registered, outputs come from the service layer, and a PitfallsError becomes one `error:` line with
exit code 1. Nothing here scores a submission (tests/test_cli_e2e.py runs the real CLI end to end)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from pitfalls.cli.main import cli, main
from pitfalls.library.scaffold import scaffold_names
from pitfalls.service import api

COMMANDS = ("bugs", "calibrate", "check", "final", "history", "hint", "list", "new", "practice", "preflight", "probe",
            "quirks", "reveal", "server", "session", "submit", "workspace")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_names_every_command():
    out = _invoke("--help")
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)
    for command in COMMANDS:
        assert "Usage:" in _invoke(command, "--help")


def test_version():
    assert "version 0.1.0" in _invoke("--version")


def test_list_shows_what_the_service_lists():
    """`list --json` is the service's ScaffoldInfo list; the text table names every scaffold."""
    assert json.loads(_invoke("list", "--json")) == json.loads(json.dumps([asdict(i) for i in api.list_scaffolds()],
                                                                        default=str))
    text = _invoke("list")
    assert all(name in text for name in scaffold_names())
    assert text.splitlines()[0].split() == ["name", "title", "difficulty", "framework", "metric", "budgets"]


def test_planted_catalogs_name_their_scaffolds():
    bugs = json.loads(_invoke("bugs", "--planted", "--json"))
    planted = {name for entry in bugs.values() for name in entry.get("scaffolds", [])}
    assert planted and planted <= set(scaffold_names())


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["pitfalls", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def test_a_pitfalls_error_is_one_line_with_exit_code_1(monkeypatch, capsys, tmp_path):
    """An unknown scaffold: `error: ...` with the choices and a did-you-mean, no traceback."""
    code, err = _main(monkeypatch, capsys, "practice", "tumor_triag", "--dir", str(tmp_path / "ws"), "--no-jupyter")
    assert code == 1
    assert err.startswith("error: Scaffold must be one of") and "Did you mean 'tumor_triage'?" in err
    assert "Traceback" not in err and not (tmp_path / "ws").exists()


@pytest.mark.parametrize("command", ["history", "hint", "reveal", "submit"])
def test_workspace_commands_outside_a_workspace_say_how_to_make_one(monkeypatch, capsys, tmp_path, command):
    code, err = _main(monkeypatch, capsys, command, "--dir", str(tmp_path))
    assert code == 1
    assert "must be a pitfalls workspace" in err and "pitfalls practice NAME --dir" in err

"""A live session opened with a scaffold given by folder path works exactly like `--scaffolds DIR` plus
the id: same id, the store records the folder, the same open session resumes by either, and a fresh
process without the variable finds it (the report). The record half only (`open_session`): no Docker,
nothing trains."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pitfalls.core import packs
from pitfalls.core.store import Store
from pitfalls.library.scaffold import _load
from pitfalls.live import sessions

TUMOR = Path(__file__).resolve().parents[1] / "scaffolds" / "tumor_triage"


@pytest.fixture(autouse=True)
def no_packs(monkeypatch):
    monkeypatch.delenv(packs.ENV, raising=False)
    packs._adopted.clear()
    _load.cache_clear()
    yield
    packs._adopted.clear()
    _load.cache_clear()


def scaffold_folder(root: Path, name: str) -> Path:
    folder = root / "lib" / name
    shutil.copytree(TUMOR, folder, ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    toml = folder / "scaffold.toml"
    toml.write_text(toml.read_text().replace('name = "tumor_triage"', f'name = "{name}"', 1))
    return folder


def open_(scaffold: str, candidate: str = "Ada") -> tuple[sessions.LiveSession, bool]:
    return sessions.open_session(Store(), scaffold=scaffold, candidate=candidate, duration_minutes=30,
                                 session_id=None, disk_mb=0)


@pytest.mark.parametrize("name", ["churn", "_draft"])
def test_a_folder_path_opens_a_session_recording_its_folder(pitfalls_home, tmp_path, name):
    """Was: the path became the id `lib/_draft`, which `_create` then looked up again: ScaffoldNotFound."""
    folder = scaffold_folder(tmp_path, name)
    live, resumed = open_(str(folder))
    assert not resumed and live.scaffold == f"lib/{name}" and live.scaffold_source == str(folder.resolve())
    row = Store().session(live.session_id)
    assert (row["scaffold"], row["scaffold_source"]) == (f"lib/{name}", str(folder.resolve()))
    again, resumed = open_(str(folder))  # the same folder again: the open session resumes
    assert resumed and again.session_id == live.session_id


def test_a_folder_path_and_the_pack_id_are_one_scaffold(pitfalls_home, tmp_path, monkeypatch):
    folder = scaffold_folder(tmp_path, "churn")
    by_path, _ = open_(str(folder))
    packs._adopted.clear()
    monkeypatch.setenv(packs.ENV, str(folder.parent))  # what `--scaffolds DIR` does
    by_id, resumed = open_("lib/churn")
    assert resumed and by_id.session_id == by_path.session_id
    fresh, resumed = open_("lib/churn", candidate="Bo")
    assert not resumed and (fresh.scaffold, fresh.scaffold_source) == (by_path.scaffold, by_path.scaffold_source)


def test_a_fresh_process_without_the_variable_renders_its_report(pitfalls_home, tmp_path):
    folder = scaffold_folder(tmp_path, "churn")
    live, _ = open_(str(folder))
    env = {k: v for k, v in os.environ.items() if k != packs.ENV}
    code = ("import sys; from pitfalls.live.report import render_report; "
            "html = render_report(session_id=sys.argv[1]); print('lib/churn' in html)")
    elsewhere = tmp_path / "elsewhere"  # not tmp_path: `lib/churn` would be found as a relative path
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-c", code, live.session_id], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]

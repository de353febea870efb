"""Shared fixtures. Every test gets its own PITFALLS_HOME; workspaces live under tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from no_training import refuse_processes
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.service import api

REPO = Path(__file__).resolve().parent.parent
TEST_DATA_SECRET = "5ec7e7" * 10 + "5ec7"
UNIT = Path(__file__).resolve().parent / "unit"
# No conftest.py in tests/unit/: test files do `from conftest import run_cli`, and a second module
# named conftest would shadow this one depending on collection order. Unit-only fixtures go here.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true",
                     help="make test-fast: every test fails if it trains, starts a sandbox, a container or a "
                          "pitfalls process (tests/unit/ is always run so)")


@pytest.fixture(autouse=True)
def _fast_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/unit/ (and every test under --fast) may not train or start sandboxes or containers."""
    if request.config.getoption("--fast") or UNIT in Path(request.path).resolve().parents:
        refuse_processes(monkeypatch, "A fast test" if request.config.getoption("--fast") else "A unit test")


@pytest.fixture(scope="session")
def shared_anchors(tmp_path_factory) -> Path:
    """One anchors cache for the whole test run (runner/scoring/anchors.py): each test has its own state
    folder, but measuring a scaffold's starter and reference once per run is enough (the cache key
    holds the secret and the scaffold's content, so a test that changes either measures anew)."""
    return tmp_path_factory.mktemp("shared-anchors")


HOST_SCHED_DIR = os.environ.get("PITFALLS_SCHED_DIR", "")


@pytest.fixture(scope="session")
def sched_folder(tmp_path_factory) -> Path:
    """The scoring scheduler's folder for the whole test run (runner/sched/): one per run, so a
    live session or another test run on the host neither queues these tests nor sees their
    deliberately full queues. Set PITFALLS_SCHED_DIR to share one (several CI runs on one host,
    each then measured on its reserved cores)."""
    return Path(HOST_SCHED_DIR) if HOST_SCHED_DIR else tmp_path_factory.mktemp("sched") / "folder"


@pytest.fixture(autouse=True)
def pitfalls_home(tmp_path_factory, monkeypatch, shared_anchors, sched_folder) -> Path:
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(sched_folder))
    home = tmp_path_factory.mktemp("pitfalls-home")
    (home / "anchors").symlink_to(shared_anchors, target_is_directory=True)
    monkeypatch.setenv("PITFALLS_HOME", str(home))
    # One pinned data secret, so every test sees the same data (runner/core/secret.py: tests and CI only;
    # tests of the per-installation secret file unset it).
    monkeypatch.setenv("PITFALLS_DATA_SECRET", TEST_DATA_SECRET)
    # The shipped files of a scaffold that declares [variants] (runner/library/variant.py): tests that
    # build its reference with materialize() expect them; tests of variants unset it or pass --variant.
    monkeypatch.setenv("PITFALLS_VARIANT", "base")
    return home


@pytest.fixture
def workspace(tmp_path):
    """Factory: a practice workspace of ``name``; ``reference=True`` overlays the solution,
    ``bug`` re-introduces one planted bug, ``files`` overwrites files afterwards."""

    def make(name: str, *, reference: bool = False, bug: str | None = None,
             files: dict[str, str] | None = None, sub: str = "ws") -> Path:
        directory = tmp_path / sub
        api.start_practice(name=name, directory=directory)
        if reference or bug:
            materialize(scaffold=load_scaffold(name), target=directory, reference=True, bug=bug)
        for rel, text in (files or {}).items():
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_text(text)
        return directory

    return make


def run_cli(*args: str, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `pitfalls` CLI in a subprocess (same interpreter, same PITFALLS_HOME)."""
    proc = subprocess.run([sys.executable, "-m", "pitfalls", *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())
    if check and proc.returncode != 0:
        raise AssertionError(f"pitfalls {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def submit_json(directory: Path, *extra: str) -> dict:
    """`pitfalls submit --json` on ``directory``; returns the parsed object."""
    proc = run_cli("submit", "--dir", str(directory), "--json", *extra)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)

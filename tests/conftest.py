"""Shared fixtures. Every test gets its own PITFALLS_HOME; workspaces live under tmp_path."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import parallel
from no_training import refuse_processes
from pitfalls.core import blas
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.service import api

blas.single_threaded()  # tests make data and score in threads beside forks (runner/core/blas.py)
if sys.__stdin__ is None:  # started with standard input closed (fd 0): IPython's import reads its encoding,
    sys.__stdin__ = sys.stdin = open(os.devnull)  # noqa: SIM115 - and the new fd 0 is what children inherit
pytest_plugins = ["overrun"]  # a thread timer behind pytest-timeout's: a blocked teardown cannot hang the run
REPO = Path(__file__).resolve().parent.parent
TEST_DATA_SECRET = "5ec7e7" * 10 + "5ec7"
# The shipped files of scaffolds that declare [variants], for the whole run: module- and session-scoped
# fixtures (a live session started once per file) run before the function-scoped pin below.
os.environ.setdefault("PITFALLS_VARIANT", "base")
# No warm containers (runner/live/pool.py) from the host servers tests start: each would start a
# JupyterLab container beside the test's own work. tests/test_warm_pool.py asks for them.
os.environ.setdefault("PITFALLS_WARM", "0")
UNIT = Path(__file__).resolve().parent / "unit"
# SIGUSR1 writes every thread's stack to $PYTEST_STACKS_DIR/PID.txt (scripts/test.sh sends it to a phase
# that runs too long and prints the files; a file, as pytest captures a worker's stderr): a test stuck
# past its timeout leaves its traceback in CI's log instead of a silent, killed run.
if os.environ.get("PYTEST_STACKS_DIR"):
    _STACKS = open(Path(os.environ["PYTEST_STACKS_DIR"]) / f"{os.getpid()}.txt", "a")  # noqa: SIM115 (lives with the process)
    faulthandler.register(signal.SIGUSR1, file=_STACKS, all_threads=True)
# No conftest.py in tests/unit/: test files do `from conftest import run_cli`, and a second module
# named conftest would shadow this one depending on collection order. Unit-only fixtures go here.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true",
                     help="make test-fast: every test fails if it trains, starts a sandbox, a container or a "
                          "pitfalls process (tests/unit/ is always run so)")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of tests/parallel.py's SERIAL `serial` and, in an xdist worker, put the longest
    files first (every worker sorts alike, as xdist requires; the controller hands them out so)."""
    parallel.check_serial_list()
    for item in items:
        if parallel.is_serial(item):
            item.add_marker(pytest.mark.serial)
    if parallel.WORKER:
        items.sort(key=parallel.heavy_rank)  # stable: collection order within a rank


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile`, except that tests/test_library.py is one unit per scaffold (tests/parallel.py)."""
    return parallel.file_scheduler(config, log) if config.getvalue("dist") == "loadfile" else None


HOST_SERVER = os.environ.get("PITFALLS_TEST_HOST_SERVER") == "1"
"""By hand only, never in `make test`: every state folder the ``home`` (tests/test_sessions.py, imported by
tests/test_attacks_session.py) and ``pitfalls_home`` fixtures give gets a host server (`pitfalls server
--detach --warm 1`, runner/live/host/), so each `session start` of the run is served by it and claims
its warm container when one is ready (issue 18)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest):
    """PITFALLS_TEST_HOST_SERVER=1: start a host server for the state folder a ``home`` or ``pitfalls_home``
    fixture just gave, stopped when that fixture ends."""
    outcome = yield
    if not HOST_SERVER or fixturedef.argname not in ("home", "pitfalls_home") or outcome.excinfo is not None:
        return
    env = {**os.environ, "PITFALLS_HOME": str(outcome.get_result())}
    server = [sys.executable, "-m", "pitfalls", "server"]
    subprocess.run([*server, "--detach", "--warm", "1"], env=env, check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 120  # its warm container ready: the fixture's first start claims it
    while time.monotonic() < deadline:
        status = subprocess.run([*server, "--status", "--json"], env=env, capture_output=True, text=True, timeout=60)
        if json.loads(status.stdout or "{}").get("warm_ready"):
            break
        time.sleep(0.5)
    fixturedef.addfinalizer(lambda: subprocess.run([*server, "--stop"], env=env, capture_output=True, timeout=300))


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
    if parallel.WORKER:  # one cache for all xdist workers: a measurement is locked per scaffold
        shared = parallel.run_root(tmp_path_factory.getbasetemp()) / "shared-anchors"
        shared.mkdir(exist_ok=True)
        return shared
    return tmp_path_factory.mktemp("shared-anchors")


HOST_SCHED_DIR = os.environ.get("PITFALLS_SCHED_DIR", "")


@pytest.fixture(scope="session")
def sched_folder(tmp_path_factory) -> Path:
    """The scoring scheduler's folder for the whole test run (runner/sched/): one per run, so a
    live session or another test run on the host neither queues these tests nor sees their
    deliberately full queues. Set PITFALLS_SCHED_DIR to share one (several CI runs on one host,
    each then measured on its reserved cores). Under xdist, one per CPU: see sched_cpus."""
    if HOST_SCHED_DIR:
        return Path(HOST_SCHED_DIR)
    if (cpu := parallel.worker_cpu()) is not None:
        shared = parallel.run_root(tmp_path_factory.getbasetemp()) / f"sched-cpu{cpu}"
        shared.mkdir(exist_ok=True)
        return shared / "folder"
    return tmp_path_factory.mktemp("sched") / "folder"


@pytest.fixture(scope="session")
def sched_cpus() -> str:
    """PITFALLS_SCHED_CPUS for the run's scheduler: empty (every allowed CPU) in a plain run; one CPU
    per xdist worker (tests/parallel.py), so two workers never queue behind each other's jobs."""
    cpu = parallel.worker_cpu()
    return "" if HOST_SCHED_DIR or cpu is None else str(cpu)


@pytest.fixture(autouse=True)
def pitfalls_home(tmp_path_factory, monkeypatch, shared_anchors, sched_folder, sched_cpus) -> Path:
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(sched_folder))
    if sched_cpus:
        monkeypatch.setenv("PITFALLS_SCHED_CPUS", sched_cpus)
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

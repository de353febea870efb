"""How the suite runs on several pytest-xdist workers (`make test`: scripts/test.sh).

Phase 1 runs every test not marked ``serial`` on ``PYTEST_WORKERS`` workers (``-n 2 --dist loadfile``);
phase 2 runs the ``serial`` tests alone, in one process. This module decides:

- which tests are serial (:data:`SERIAL`): they measure time (a training's seconds, a kill's lateness,
  a wall-clock bound a second worker's load would break) or look at the whole host (every bwrap
  process), so another worker running beside them would make them flaky, not wrong;
- how phase 1 groups tests onto workers (:func:`scope_of`): a whole file stays on one worker (its
  module-scoped fixtures, e.g. a candidate container, are built once), except tests/test_library.py,
  whose per-scaffold `pitfalls check` runs are independent: one group per scaffold;
- the order groups are handed out (:data:`HEAVY_FIRST`): the longest files first, so no worker is
  left alone with a 10-minute file at the end;
- what workers share (:func:`run_root`, :func:`worker_cpu`): the anchors cache (locked per scaffold
  by runner/scoring/anchors.py) and one scoring scheduler per CPU: worker ``gwN`` scores on CPU
  ``N mod cpus`` only, so a worker's submission never queues behind the other worker's
  `pitfalls check` batch (which holds every slot of its scheduler), and its training has that core.

Without xdist (``PYTEST_WORKERS=0``, ``make test-fast``, a plain ``pytest``) nothing here changes a test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
"""``gw0``, ``gw1``, ... inside an xdist worker; empty in a plain run (and in xdist's controller)."""

TESTS = Path(__file__).resolve().parent

SERIAL: dict[str, str] = {
    "tests/test_fair_verdicts.py": "training seconds with and without six submissions in flight (a 1.3x ratio) "
                                   "on a private scheduler over every CPU",
    "tests/test_sched_processes.py": "a private scheduler pinned on CPUs 0 and 1; CPU seconds and waits under 2 s",
    "tests/test_warm_predictor.py": "predict_seconds and warm-up waits against fixed wall-clock bounds",
    "tests/test_check_headroom.py": "a reference's training seconds against half its budget",
    "tests/test_practice_jupyter.py": "JupyterLab must stop within 60 s of Ctrl-C (flaked under parallel load)",
    "tests/test_store.py::test_killed_runner_loses_nothing": "counts every bwrap process on the host",
    "tests/test_probes_background.py::test_a_probe_worker_killed_mid_probe_leaves_an_interrupted_row_and_no_sandbox":
        "waits up to 60 s for dead pids to leave /proc: with pid_max 32768 (2 cores) and another worker "
        "spawning sandboxes, a pid is reused (failed so under -n 2, 2026-12-05)",
    "tests/test_public_score.py::test_interval_contains_the_score_is_deterministic_and_fast": "a 1 s bound",
    "tests/test_bad_input.py::test_endless_training_is_stopped_at_the_time_budget":
        "the kill comes within 5 s of the budget and the submission within 25 s",
    "tests/test_bad_input.py::test_fork_bomb_is_contained": "the same bounds, with a fork bomb on the CPUs",
    "tests/test_bad_input.py::test_memory_bomb_is_killed_at_the_memory_budget": "a 30 s training bound",
    "tests/test_bad_input.py::test_daemonized_child_does_not_survive_the_submission": "a 60 s bound",
}
"""Node ids (a file, or a file's test with every parametrization) run alone in phase 2, with why."""

HEAVY_FIRST = (
    "tests/test_library.py",  # one unit per scaffold; each trains every planted bug on 5 seeds
    "tests/test_attacks.py", "tests/test_probe_tamper.py", "tests/test_check.py", "tests/test_secrecy.py",
    "tests/test_bad_input.py", "tests/test_pack_wheel.py", "tests/test_variants.py", "tests/test_anchors.py",
    "tests/test_data_secrecy.py",
    # then the candidate containers: by now scripts/test.sh's background build of the image is done
    "tests/test_attacks_session.py", "tests/test_session_api.py", "tests/test_sessions.py", "tests/test_faults.py",
    "tests/test_hub_service.py", "tests/test_containers.py",
    "tests/test_hub_e2e.py",  # a real hub: ~4 min (two containers of the single-user image, two scorings)
)
"""Files handed out first in phase 1, longest first by estimate (training, then containers), except that
the Docker files wait until the candidate image has had time to build: two workers blocked on one
build would idle for its 10-15 minutes."""


def check_serial_list() -> None:
    """Every entry of :data:`SERIAL` must name an existing file (and test function): a renamed one
    would otherwise run in the parallel phase unnoticed."""
    missing = []
    for entry in SERIAL:
        path, _, name = entry.partition("::")
        file = TESTS.parent / path
        if not file.is_file() or (name and f"def {name}(" not in file.read_text()):
            missing.append(entry)
    if missing:
        raise pytest.UsageError(f"tests/parallel.py's SERIAL must name existing tests. Got {missing} instead. "
                                "Update SERIAL to their new names.")


def is_serial(item: pytest.Item) -> bool:
    """Whether ``item`` is listed in :data:`SERIAL` (its file, or its test function)."""
    rel = Path(item.path).resolve().relative_to(TESTS.parent).as_posix()
    name = getattr(item, "originalname", item.name)
    return rel in SERIAL or f"{rel}::{name}" in SERIAL


def scope_of(nodeid: str) -> str:
    """The unit a worker takes whole: the file, or ``tests/test_library.py:SCAFFOLD`` (ids ``SCAFFOLD-CHECK``),
    whose `pitfalls check` runs once per scaffold and process (its module cache)."""
    path, _, rest = nodeid.partition("::")
    if path == "tests/test_library.py" and "[" in rest:
        return f"{path}:{rest.split('[', 1)[1].split('-', 1)[0]}"
    return path


def file_scheduler(config: pytest.Config, log):
    """xdist's LoadFileScheduling with :func:`scope_of` as its unit (xdist's own ``loadgroup`` cannot
    be used: with pytest 9 its group suffix never reaches the node ids, so every test is its own unit)."""
    from xdist.scheduler import LoadFileScheduling

    class ScaffoldFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return ScaffoldFileScheduling(config, log)


def heavy_rank(item: pytest.Item) -> int:
    """Sort key: the files of :data:`HEAVY_FIRST` in that order, then the rest in collection order."""
    rel = Path(item.path).resolve().relative_to(TESTS.parent).as_posix()
    return HEAVY_FIRST.index(rel) if rel in HEAVY_FIRST else len(HEAVY_FIRST)


def run_root(basetemp: Path) -> Path:
    """The folder every worker of this run shares (the parent of its own basetemp), else ``basetemp``."""
    return basetemp.parent if WORKER else basetemp


def worker_cpu() -> int | None:
    """The one CPU this xdist worker scores on (``gwN`` -> the N-th CPU of ``$PITFALLS_SCHED_CPUS`` or
    else of this process's allowed ones, wrapping), or None outside xdist."""
    if not WORKER:
        return None
    from pitfalls.sched.config import parse_cpus

    given = os.environ.get("PITFALLS_SCHED_CPUS", "").strip()
    cpus = parse_cpus(given) if given else tuple(sorted(os.sched_getaffinity(0)))
    return cpus[int(WORKER.removeprefix("gw") or 0) % len(cpus)]

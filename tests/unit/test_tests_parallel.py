"""tests/parallel.py: how `make test` splits the suite (scripts/test.sh). No process is started."""

from __future__ import annotations

import pytest

import parallel


def test_every_serial_entry_names_an_existing_test_and_a_renamed_one_is_refused(monkeypatch):
    """A SERIAL entry whose test was renamed must stop the run, not silently go parallel."""
    parallel.check_serial_list()
    monkeypatch.setitem(parallel.SERIAL, "tests/test_bad_input.py::test_renamed_away", "a bound")
    with pytest.raises(pytest.UsageError, match=r"test_renamed_away"):
        parallel.check_serial_list()
    monkeypatch.delitem(parallel.SERIAL, "tests/test_bad_input.py::test_renamed_away")
    monkeypatch.setitem(parallel.SERIAL, "tests/test_gone.py", "a bound")
    with pytest.raises(pytest.UsageError, match=r"tests/test_gone.py"):
        parallel.check_serial_list()


def test_a_worker_takes_a_whole_file_but_test_library_by_scaffold():
    """Module fixtures stay on one worker; the library's per-scaffold `pitfalls check` runs spread."""
    lib = "tests/test_library.py::test_library_scaffold_passes_check"
    assert parallel.scope_of(f"{lib}[bike_demand-bug_bites:leak-1]") == "tests/test_library.py:bike_demand"
    assert parallel.scope_of(f"{lib}[glyph_cnn-brief]") == "tests/test_library.py:glyph_cnn"
    assert parallel.scope_of("tests/test_sessions.py::test_x[a-b]") == "tests/test_sessions.py"
    assert parallel.scope_of("tests/unit/test_core_store.py::TestX::test_y") == "tests/unit/test_core_store.py"


def test_each_worker_scores_on_one_cpu_and_a_plain_run_on_all(monkeypatch):
    """gwN gets the N-th allowed CPU (wrapping), so two workers never share a scheduler on 2 cores."""
    cpus = sorted(__import__("os").sched_getaffinity(0))
    monkeypatch.delenv("PITFALLS_SCHED_CPUS", raising=False)
    monkeypatch.setattr(parallel, "WORKER", "")
    assert parallel.worker_cpu() is None
    for n in range(3):
        monkeypatch.setattr(parallel, "WORKER", f"gw{n}")
        assert parallel.worker_cpu() == cpus[n % len(cpus)]
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", "3,5")  # a host that gives scoring part of its CPUs
    for worker, cpu in (("gw0", 3), ("gw1", 5), ("gw2", 3)):
        monkeypatch.setattr(parallel, "WORKER", worker)
        assert parallel.worker_cpu() == cpu

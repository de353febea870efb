"""Verdicts that do not depend on the host's load (issue 13): every scoring job waits for a CPU slot
of the host-wide scheduler (runner/sched/), its budgets count from the grant on the slot's CPUs,
and its sandboxes get the slot's thread settings.

Each test uses its own scheduler folder (PITFALLS_SCHED_DIR), so the slots it fills are its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.scoring.pipeline import evaluate

HOLDER = r"""
import sys, time
from pitfalls import sched
with sched.slot(job="hog", session_id="someone-else", width=int(sys.argv[2])):
    print("HELD", flush=True)
    time.sleep(float(sys.argv[1]))
"""

REPORT = '''import json as _j, os as _o
print("SANDBOX-ENV " + _j.dumps({"omp": _o.environ.get("OMP_NUM_THREADS"), "mkl": _o.environ.get("MKL_NUM_THREADS"),
      "openblas": _o.environ.get("OPENBLAS_NUM_THREADS"), "cpus": sorted(_o.sched_getaffinity(0))}), flush=True)
'''


@pytest.fixture
def private_sched(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "sched"
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(folder))
    return folder


def _with_train_seconds(scaffold: Scaffold, seconds: int) -> Scaffold:
    m = scaffold.manifest
    return dataclasses.replace(scaffold, manifest=dataclasses.replace(
        m, budgets=dataclasses.replace(m.budgets, train_seconds=seconds)))


def _reference(scaffold: Scaffold, target: Path, *, report: bool = False) -> Path:
    src = materialize(scaffold=scaffold, target=target, reference=True)
    if report:
        train = src / "train.py"
        train.write_text(REPORT + train.read_text())
        model = src / "model.py"
        head, sep, rest = model.read_text().partition("def predict(model, features):\n")
        assert sep, "the reference's model.py must define predict(model, features)"
        model.write_text(head + sep + "    import os as _o\n"
                         "    print('PREDICT-CPUS', sorted(_o.sched_getaffinity(0)), flush=True)\n" + rest)
    return src


def _hold_every_slot(seconds: float) -> subprocess.Popen:
    """Another process holding all the host's slots for ``seconds``; returns once it holds them."""
    width = len(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds), str(width)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "HELD", f"the holder must hold every slot. Got {line!r} {proc.stderr.read()}"
    return proc


def test_the_training_clock_starts_at_the_grant_and_the_sandbox_gets_the_slots_threads(private_sched, tmp_path):
    """Queued longer than the whole training budget, the reference is still scored: the wait is
    recorded apart (queued_seconds), and training ran on one reserved CPU with one thread per pool."""
    scaffold = _with_train_seconds(load_scaffold("tumor_triage"), 8)
    src = _reference(scaffold, tmp_path / "w", report=True)
    scaffold.dataset()  # built now, so the job's preparation takes little of the hold below
    hold = 10.0
    holder = _hold_every_slot(hold)
    waits = []
    try:
        ev = evaluate(scaffold=scaffold, source=src, session_id="me", on_wait=waits.append)
    finally:
        holder.kill()
        holder.wait()
    assert ev.status == "scored", ev.message
    assert ev.timings["queued_seconds"] >= hold - 1, ev.timings  # longer than the budget: not on its clock
    assert ev.timings["train_seconds"] <= 8 and ev.timings["train_limit_seconds"] == 8
    assert waits and waits[0].place == 1
    line = next(ln for ln in ev.log_tail.splitlines() if ln.startswith("SANDBOX-ENV "))
    seen = json.loads(line.removeprefix("SANDBOX-ENV "))
    assert len(seen["cpus"]) == 1 and seen["cpus"][0] in os.sched_getaffinity(0), seen
    assert seen["omp"] == seen["mkl"] == seen["openblas"] == "1", seen
    # the warm predictor imports on any idle CPU, but the candidate's predict() runs on the slot
    predicted = next(ln for ln in ev.log_tail.splitlines() if ln.startswith("PREDICT-CPUS "))
    assert predicted.split(" ", 1)[1] == str(seen["cpus"]), (predicted, seen)


def test_an_explicit_thread_setting_of_the_caller_wins_over_the_slots(private_sched, tmp_path):
    """The batch sandbox asks for one thread per child whatever its slots (bwrap: env over held.env)."""
    from pitfalls import sched
    from pitfalls.sandbox.bwrap import Limits, run_sandboxed, sandbox_uid

    code = "import os; print(os.environ['OMP_NUM_THREADS'], len(os.sched_getaffinity(0)))"
    width = len(os.sched_getaffinity(0))
    with sched.slot(job="t", session_id="me", width=width) as held:
        run = run_sandboxed(argv=[sys.executable, "-c", code], mounts=[], limits=Limits(30, 512, 64, 64),
                            env={"OMP_NUM_THREADS": "1"}, cwd="/tmp", log_path=tmp_path / "log", uid=sandbox_uid(),
                            held=held)
        plain = run_sandboxed(argv=[sys.executable, "-c", code], mounts=[], limits=Limits(30, 512, 64, 64),
                              env={}, cwd="/tmp", log_path=tmp_path / "log2", uid=sandbox_uid(), held=held)
    assert run.log_tail.split() == ["1", str(width)]
    assert plain.log_tail.split() == [str(width), str(width)]


WORKER = r"""
from pitfalls.sched.priority import lower_client_priority
lower_client_priority()  # as `pitfalls submit` does before its imports (root only)
import json, sys, tempfile
from pathlib import Path
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.scoring.pipeline import evaluate
scaffold = load_scaffold(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    src = materialize(scaffold=scaffold, target=Path(tmp) / "w", reference=True)
    ev = evaluate(scaffold=scaffold, source=src, session_id=sys.argv[2])
print(json.dumps({"status": ev.status, "message": ev.message, "timings": ev.timings}), flush=True)
"""


@pytest.mark.slow
def test_the_same_verdict_and_training_time_with_six_other_submissions_in_flight(private_sched, tmp_path):
    """digits_budget's reference alone, then while six submissions of other sessions are in flight:
    every one is scored and trains within 1.3x of the lone time (issue 13, item 3). The lone time is
    the mean of a run before and a run after the six: one lone run alone varied by 18% between two
    quiet runs (3.8 s, 4.5 s), enough to fail a 1.3x bound (5.12 s against 3.78 s, 2026-12-05)."""
    scaffold = load_scaffold("digits_budget")
    lone = evaluate(scaffold=scaffold, source=_reference(scaffold, tmp_path / "lone"), session_id="lone")
    assert lone.status == "scored", lone.message
    others = [subprocess.Popen([sys.executable, "-c", WORKER, "digits_budget", f"other-{i}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    time.sleep(3)  # they are copying, queued or training when the measured one queues
    mine = evaluate(scaffold=scaffold, source=_reference(scaffold, tmp_path / "mine"), session_id="mine")
    results = [mine.__dict__]
    for proc in others:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    after = evaluate(scaffold=scaffold, source=_reference(scaffold, tmp_path / "after"), session_id="lone")
    assert after.status == "scored", after.message
    base = (lone.timings["train_seconds"] + after.timings["train_seconds"]) / 2
    times = [r["timings"].get("train_seconds") for r in results]
    print(f"lone {lone.timings['train_seconds']:.1f} and {after.timings['train_seconds']:.1f} s; in flight {times}; "
          f"queued {[r['timings'].get('queued_seconds') for r in results]}")
    assert all(r["status"] == "scored" for r in results), [r["message"] for r in results]
    assert max(times) <= 1.3 * base, f"training must take at most 1.3x its lone {base:.1f} s. Got {times} instead."


NICE = ("import os\ntry:\n    os.nice(-1)\n    lowered = 'lowered'\nexcept OSError:\n    lowered = 'refused'\n"
        "print('NICE', os.getpriority(os.PRIO_PROCESS, 0), lowered, flush=True)")


@pytest.mark.skipif(os.geteuid() != 0, reason="the runner lowers its own priority only as root")
def test_the_runners_own_work_is_niced_and_its_sandboxes_are_not(private_sched, tmp_path):
    """Inside evaluate the runner's thread runs at nice 19, so its imports and counting take ~1% of
    another job's reserved CPU; the sandbox it starts is back at nice 0 (its cgroup weight decides)
    and the candidate's code cannot raise its own priority above that."""
    from pitfalls import sched
    from pitfalls.sandbox.bwrap import Limits, run_sandboxed, sandbox_uid
    from pitfalls.sched.priority import CLIENT_NICE, client_priority

    before = os.getpriority(os.PRIO_PROCESS, 0)
    with client_priority():
        with sched.slot(job="t", session_id="me"):  # the holder enforces time limits: not behind other work
            holding = os.getpriority(os.PRIO_PROCESS, 0)
        inside = os.getpriority(os.PRIO_PROCESS, 0)
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                               capture_output=True, text=True, check=True).stdout.strip()
        run = run_sandboxed(argv=[sys.executable, "-c", NICE], mounts=[], limits=Limits(30, 512, 64, 64),
                            env={}, cwd="/tmp", log_path=tmp_path / "log", uid=sandbox_uid())
    assert (holding, inside, child) == (0, CLIENT_NICE, str(CLIENT_NICE))
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
    line = next(ln for ln in run.log_tail.splitlines() if ln.startswith("NICE"))
    assert line.split()[1:] == ["0", "refused"], run.log_tail


AFFINITY_BEFORE_AND_AFTER_GO = ("import os, sys; print('before', sorted(os.sched_getaffinity(0)), flush=True); "
                                "sys.stdin.readline(); print('after', sorted(os.sched_getaffinity(0)), flush=True)")


def _affinity_before_and_after_go(held, log: Path, *, warm: bool) -> dict[str, str]:
    """A gated sandbox on ``held`` that prints its CPUs while it prepares and again after go()."""
    from pitfalls.sandbox.bwrap import Limits, sandbox_uid, start_sandboxed

    box = start_sandboxed(argv=[sys.executable, "-c", AFFINITY_BEFORE_AND_AFTER_GO], mounts=[],
                          limits=Limits(30, 512, 64, 64), env={}, cwd="/tmp", log_path=log,
                          uid=sandbox_uid(), gated=True, held=held, warm=warm)
    deadline = time.monotonic() + 20
    while "before" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    box.go()
    run = box.wait()
    return dict(line.split(" ", 1) for line in run.log_tail.splitlines() if line.startswith(("before", "after")))


@pytest.mark.parametrize("warm", [False, True])
def test_a_gated_sandbox_runs_on_its_slot_from_the_start_unless_it_is_a_warm_up(private_sched, tmp_path, warm):
    """The probe sandbox is gated only to read its nonce: the candidate's code in it must be on the slot
    from its first instruction. Only the warm predictor (trusted imports before go) prepares off the
    slot, and it is on the slot when go() lets candidate code run."""
    from pitfalls import sched

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to tell the slot from the host")
    with sched.slot(job="t", session_id="me") as held:
        lines = _affinity_before_and_after_go(held, tmp_path / "log", warm=warm)
        slot = str(sorted(held.cpus))
    assert lines["after"] == slot, lines
    if warm:
        assert lines["before"] != slot, lines  # the warm-up used the idle CPUs
    else:
        assert lines["before"] == slot, lines


def test_a_warm_up_stays_on_the_schedulers_cpus(private_sched, tmp_path, monkeypatch):
    """PITFALLS_SCHED_CPUS gives the scoring host part of the machine: a warm-up prepares on those
    CPUs only (before, it took any CPU of the machine)."""
    from pitfalls import sched

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs to leave one outside the scheduler")
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", str(cpus[-1]))
    with sched.slot(job="t", session_id="me") as held:
        lines = _affinity_before_and_after_go(held, tmp_path / "log", warm=True)
    assert lines == {"before": str([cpus[-1]]), "after": str([cpus[-1]])}, lines

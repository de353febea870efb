"""The host-wide scheduler across real processes (runner/sched/): kernel-released slots survive
SIGKILL, fair order across sessions, a full queue says when to retry, holders get disjoint CPUs
that candidate code cannot widen (with a cgroup), and matching thread settings.

Each test has its own scheduler folder (PITFALLS_SCHED_DIR), so nothing here touches a real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitfalls import sched
from pitfalls.sched.config import Config
from pitfalls.sched.cpuset import CGROUP_ROOT

WORKER = r"""
import json, os, subprocess, sys, time
from pathlib import Path
from pitfalls import sched

session, job, kind, log, until = sys.argv[1:6]
try:
    held = sched.slot(job=job, session_id=session, kind=kind, timeout=30)
except sched.SchedulerBusy as exc:
    print("BUSY", exc, flush=True)
    sys.exit(3)
with held:
    child = None
    if os.environ.get("WORKER_CHILD"):  # a stand-in for the sandbox: runs on the slot's CPUs
        child = subprocess.Popen([sys.executable, "-c", os.environ["WORKER_CHILD"]], preexec_fn=held.pin,
                                 env={**os.environ, **held.env}, stdout=subprocess.PIPE, text=True)
    record = {"session": session, "job": job, "cpus": list(held.cpus), "child": child.pid if child else None,
              "cgroup": str(held.cgroup_path) if held.cgroup_path else None}
    if child and os.environ.get("WORKER_CHILD_WAIT"):
        record["child_out"] = json.loads(child.communicate()[0])
    with open(log, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    print("HELD", json.dumps(record), flush=True)
    while not Path(until).exists():
        time.sleep(0.01)
"""

REPORT_AFFINITY = r"""
import json, os
mine = sorted(os.sched_getaffinity(0))
try:
    os.sched_setaffinity(0, range(os.cpu_count()))  # candidate code trying to widen its CPUs
except OSError:
    pass
print(json.dumps({"given": mine, "after_widening": sorted(os.sched_getaffinity(0)),
                  "omp": os.environ.get("OMP_NUM_THREADS")}))
"""

CGROUPS = os.geteuid() == 0 and (CGROUP_ROOT / "cpuset" / "cpuset.cpus").exists()


@pytest.fixture
def sched_env(tmp_path, monkeypatch):
    """A private scheduler on one CPU (one slot) unless a test changes it."""
    folder = tmp_path / "sched"
    monkeypatch.setenv("PITFALLS_SCHED_DIR", str(folder))
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", "0")
    monkeypatch.setenv("PITFALLS_SCHED_MAX_QUEUE", "32")
    yield tmp_path
    for proc in STARTED:  # a failed test leaves no worker waiting forever
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    STARTED.clear()


STARTED: list[subprocess.Popen] = []


def _start(tmp: Path, session: str, job: str, *, kind: str = "submit", until: str = "go",
           env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WORKER, session, job, kind, str(tmp / "log"), str(tmp / until)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    STARTED.append(proc)
    return proc


def _held(proc: subprocess.Popen) -> dict:
    """Wait for a worker to hold its slot; its record."""
    line = proc.stdout.readline()
    assert line.startswith("HELD "), f"worker must hold a slot. Got {line!r} {proc.stderr.read() if proc.poll() else ''}"
    return json.loads(line[5:])


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _queued() -> int:
    return len(sched.status().queue)


def _dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"
    except (FileNotFoundError, IndexError):
        return True


def test_a_sigkilled_holder_never_leaks_its_slot(sched_env):
    holder = _start(sched_env, "s1", "train", until="never", env={"WORKER_CHILD": "import time; time.sleep(60)"})
    record = _held(holder)
    assert sched.status().slots[0].busy and sched.status().slots[0].session == "s1"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    t0 = time.monotonic()
    with sched.slot(job="next", session_id="s2", timeout=5) as held:
        assert time.monotonic() - t0 < 2
        assert held.cpus == (0,)
        if CGROUPS:  # the dead holder's job, still running on the slot's CPU, is killed at the next grant
            _wait_for(lambda: _dead(record["child"]), 5)
    assert not sched.status().slots[0].busy


def test_a_sigkilled_waiter_leaves_the_queue(sched_env):
    holder = _start(sched_env, "h", "train", until="release")
    _held(holder)
    a = _start(sched_env, "a", "train")
    _wait_for(lambda: _queued() == 1)
    b = _start(sched_env, "b", "train")
    _wait_for(lambda: _queued() == 2)
    a.send_signal(signal.SIGKILL)
    a.wait()
    assert [(e.place, e.session) for e in sched.status().queue] == [(1, "b")]
    (sched_env / "go").touch()
    (sched_env / "release").touch()
    assert _held(b)["session"] == "b"
    assert b.wait(10) == 0 and holder.wait(10) == 0


def test_bursts_of_three_sessions_are_served_round_robin(sched_env):
    holder = _start(sched_env, "h", "first", until="release")
    _held(holder)
    (sched_env / "go").touch()  # each waiter frees the slot as soon as it has logged
    burst = [("A", "a1"), ("A", "a2"), ("A", "a3"), ("A", "a4"), ("B", "b1"), ("B", "b2"), ("C", "c1"), ("C", "c2")]
    procs = []
    for n, (session, job) in enumerate(burst, start=1):
        procs.append(_start(sched_env, session, job))
        _wait_for(lambda n=n: _queued() == n)
    assert [e.job for e in sched.status().queue] == ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "a4"]
    assert [e.place for e in sched.status().queue] == list(range(1, 9))
    (sched_env / "release").touch()
    assert all(p.wait(20) == 0 for p in procs)
    order = [json.loads(line)["job"] for line in (sched_env / "log").read_text().splitlines()]
    assert order == ["first", "a1", "b1", "c1", "a2", "b2", "c2", "a3", "a4"]


def test_a_full_queue_says_busy_and_loses_nothing_it_acknowledged(sched_env, monkeypatch):
    monkeypatch.setenv("PITFALLS_SCHED_MAX_QUEUE", "2")
    holder = _start(sched_env, "h", "first", until="release")
    _held(holder)
    (sched_env / "go").touch()
    waiters = []
    for n, session in enumerate(("a", "b"), start=1):
        waiters.append(_start(sched_env, session, "train"))
        _wait_for(lambda n=n: _queued() == n)
    refused = _start(sched_env, "c", "train")
    assert refused.wait(10) == 3
    out = refused.stdout.read()
    assert "The scoring queue holds at most 2 submit jobs. Got 2 waiting instead. Retry in about" in out
    with pytest.raises(sched.SchedulerBusy) as busy:
        sched.enqueue(job="train", session_id="d")
    assert busy.value.retry_seconds >= 5 and busy.value.limit == 2
    probe = sched.enqueue(job="probe", session_id="d", kind="probe")  # probes have their own lane
    probe.withdraw()
    (sched_env / "release").touch()
    assert [w.wait(10) for w in waiters] == [0, 0]
    served = [json.loads(line)["session"] for line in (sched_env / "log").read_text().splitlines()]
    assert served == ["h", "a", "b"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
@pytest.mark.parametrize("cgroups", [True, False])
def test_two_holders_get_disjoint_cpus_that_code_can_widen_only_without_a_cgroup(sched_env, monkeypatch, cgroups):
    if cgroups and not CGROUPS:
        pytest.skip("needs root and a cpuset cgroup")
    cpus = sorted(os.sched_getaffinity(0))[:2]
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", f"{cpus[0]},{cpus[1]}")
    monkeypatch.setenv("PITFALLS_SCHED_CGROUPS", "1" if cgroups else "0")
    env = {"WORKER_CHILD": REPORT_AFFINITY, "WORKER_CHILD_WAIT": "1"}
    first, second = (_start(sched_env, s, "train", until="release", env=env) for s in ("a", "b"))
    records = [_held(first), _held(second)]
    (sched_env / "release").touch()
    assert first.wait(10) == 0 and second.wait(10) == 0
    assert sorted(r["cpus"][0] for r in records) == cpus and all(len(r["cpus"]) == 1 for r in records)
    for r in records:
        assert r["child_out"]["given"] == r["cpus"]
        assert r["child_out"]["omp"] == "1"
        if cgroups:
            assert r["cgroup"] and r["child_out"]["after_widening"] == r["cpus"]  # the kernel holds the line
        else:
            assert r["cgroup"] is None and r["child_out"]["after_widening"] == cpus  # nothing stops it


@pytest.mark.skipif(not CGROUPS, reason="needs root and a cpuset cgroup")
def test_nothing_outlives_its_slot_and_cpu_seconds_are_counted(sched_env):
    with sched.slot(job="train", session_id="s") as held:
        spin = subprocess.Popen([sys.executable, "-c", "import time\nwhile time.process_time() < 0.4: pass\n"
                                 "time.sleep(60)"], preexec_fn=held.pin)
        _wait_for(lambda: (held.cpu_seconds() or 0) > 0.35, 10)
        cgroup = held.cgroup_path
    spin.wait(5)  # killed by the release
    assert spin.returncode == -signal.SIGKILL
    assert not cgroup.exists()


def test_torch_threads_follow_the_slot(sched_env):
    pytest.importorskip("torch")
    with sched.slot(job="train", session_id="s") as held:
        out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                             env={**os.environ, "OMP_NUM_THREADS": "8", **held.env}, preexec_fn=held.pin,
                             capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "1", out.stderr


def test_two_threads_of_one_process_hold_different_slots(sched_env, monkeypatch):
    import threading

    monkeypatch.setenv("PITFALLS_SCHED_CPUS", "0,1" if len(os.sched_getaffinity(0)) > 1 else "0")
    n = len(Config.from_env().slots)
    inside, peak, clashes, lock = [], [0], [], threading.Lock()

    def job(i: int) -> None:
        with sched.slot(job=f"j{i}", session_id=f"s{i}", timeout=20) as held:
            with lock:
                inside.append(held.index)
                peak[0] = max(peak[0], len(inside))
                if len(set(inside)) != len(inside):  # two jobs on one slot
                    clashes.append(list(inside))
            time.sleep(0.1)
            with lock:
                inside.remove(held.index)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == n and clashes == []


def test_waiting_reports_place_and_a_timeout_withdraws(sched_env):
    seen = []
    with sched.slot(job="hold", session_id="h"):
        with pytest.raises(sched.SchedulerTimeout, match="must get a CPU slot within 0.3 s. Got place 1 of 1"):
            sched.slot(job="train", session_id="s", on_wait=seen.append, timeout=0.3)
        assert sched.status().queue == ()
    assert seen and seen[0].place == 1 and seen[-1].queued_seconds > 0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_wide_job_holds_every_slot_it_asked_for(sched_env, monkeypatch):
    cpus = sorted(os.sched_getaffinity(0))[:2]
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", f"{cpus[0]},{cpus[1]}")
    with sched.slot(job="batch", session_id="check", kind="check", width=2) as held:
        assert held.cpus == tuple(cpus) and held.env["OMP_NUM_THREADS"] == "2"
        assert all(s.busy and s.job == "batch" for s in sched.status().slots)
        with pytest.raises(sched.SchedulerTimeout):
            sched.slot(job="train", session_id="s", timeout=0.2)
    with pytest.raises(sched.SchedulerError, match="width must be between 1 and the host's 2 slots. Got 3"):
        sched.enqueue(job="x", session_id="s", width=3)


def test_a_caller_that_queues_again_before_waiting_does_not_deadlock(sched_env):
    # api.submit acknowledges a submission with a ticket, then may measure anchors (two more
    # evaluations of the same session) before it waits: on one slot that must not deadlock.
    with sched.enqueue(job="submission", session_id="s") as outer:
        with sched.slot(job="anchor", session_id="s", timeout=2) as held:
            assert held.cpus == (0,)
        assert outer.place() == 1
        with outer.wait(timeout=2) as held:
            assert held.job == "submission"


@pytest.mark.skipif(not CGROUPS or len(os.sched_getaffinity(0)) < 2, reason="needs root, a cpuset cgroup, two CPUs")
def test_code_in_the_real_sandbox_cannot_leave_its_cpus(sched_env, monkeypatch):
    import shutil

    from pitfalls.sandbox.bwrap import build_command, sandbox_uid

    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    cpus = sorted(os.sched_getaffinity(0))[:2]
    monkeypatch.setenv("PITFALLS_SCHED_CPUS", f"{cpus[0]},{cpus[1]}")
    attack = REPORT_AFFINITY.replace('print(json.dumps({', 'print(json.dumps({"cgroup_fs": os.path.exists('
                                     '"/sys/fs/cgroup/cpuset"), "uid": os.getuid(), ')
    with sched.slot(job="train", session_id="s") as held:
        cmd = build_command(argv=[sys.executable, "-c", attack], mounts=[], env=held.env, cwd="/tmp",
                            uid=sandbox_uid(), tmp_mb=64)
        out = subprocess.run(cmd, preexec_fn=held.pin, capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout)
    assert report["given"] == list(held.cpus) and report["after_widening"] == list(held.cpus), out.stderr
    assert report["omp"] == "1" and report["uid"] != 0 and not report["cgroup_fs"]

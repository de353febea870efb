"""Warm candidate containers (runner/live/pool.py, issue 18 item 2): the host server keeps a JupyterLab
container running, `session start` claims it instead of starting one, and the claimed container is a
session like any other (its own token, the starting files, the limits, scoring, resume, stop).

The claim's rules are tested without Docker in tests/unit/test_live_pool.py; here, a real engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from pitfalls.live import containers, pool, sessions
from pitfalls.live.host import process as host
from pitfalls.live.host import state as host_state
from pitfalls.sandbox import quota
from pitfalls.service import api


def test_server_warm_option_is_checked(pitfalls_home):
    proc = run_cli("server", "--status", "--warm", "2")
    assert proc.returncode == 2 and "--warm must come with --detach or alone. Got it with --status" in proc.stderr
    proc = run_cli("server", "--detach", "--warm", "99")
    assert proc.returncode == 2 and "99 is not in the range 0<=x<=16" in proc.stderr


# --- on a real engine --------------------------------------------------------------------------------


@pytest.fixture
def engine() -> None:
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    containers.ensure_image()


def _ready(count: int = 1, timeout: float = 180) -> list[tuple[Path, pool.WarmEntry]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(found := pool.ready_entries()) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{count} warm container(s) must be ready within {timeout:g} s. Got "
                         f"{len(pool.ready_entries())}: {host.log_tail(5)}")


def _warm_containers() -> set[str]:
    """This home's warm containers, running or not (other homes on the host may have theirs)."""
    return containers.container_names(label=f"{pool.LABEL}={pool.home_label()}", running=False)


def _container_id(name: str) -> str:
    return subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True,
                          timeout=60).stdout.strip()


def _lab(live: sessions.LiveSession, token: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{live.port}/candidate/api/contents",
                                 headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def warm_host(pitfalls_home, engine) -> Iterator[subprocess.Popen]:
    api.calibrate(name="tumor_triage")  # the scale, cached for the run: no training in the starts
    proc = host.start_detached(warm=1)
    try:
        yield proc
    finally:
        for folder in (pitfalls_home / "sessions").glob("*/session.json"):
            sessions.stop_session(session_id=folder.parent.name)
        host.stop()


@pytest.mark.docker
def test_a_start_claims_the_warm_container_and_it_is_a_session_like_any_other(warm_host, pitfalls_home):
    [(_, entry)] = _ready()
    warm_id = _container_id(entry.container)
    info = sessions.start_session(scaffold="tumor_triage", candidate="Ada", duration_minutes=30)
    live = sessions.load_session(info.session_id)
    # The very container, renamed after the session; its lab answers the token it was started with.
    assert live.container == info.container == f"pitfalls-session-{live.session_id}"
    assert _container_id(live.container) == warm_id and live.candidate_token == entry.token
    assert (live.memory_mb, live.cpus, live.disk_mb) == (4096, 2.0, 2048)
    assert _lab(live, live.candidate_token) == 200 and _lab(live, "x" * 32) == 403
    assert quota.is_mounted(live.workspace) == (live.dir / "workspace.img").is_file() == quota.available()
    assert {"train.py", "model.py", "BRIEF.md"} <= {p.name for p in live.workspace.iterdir()}
    assert all(p.stat().st_uid == containers.CANDIDATE_UID for p in live.workspace.rglob("*"))
    assert live.run_dir.stat().st_mode & 0o777 == 0o755 and live.run_dir.stat().st_uid == os.geteuid()  # sealed
    inspect = json.loads(subprocess.run(["docker", "inspect", live.container], capture_output=True, text=True,
                                        timeout=60).stdout)[0]  # as locked down as a cold start's
    assert inspect["HostConfig"]["NetworkMode"] == "none" and inspect["HostConfig"]["CapDrop"] == ["ALL"]
    assert inspect["HostConfig"]["Memory"] == 4096 * 2**20 and inspect["HostConfig"]["ReadonlyRootfs"]
    seen = subprocess.run(["docker", "exec", live.container, "ls", "/home/candidate/work"], capture_output=True,
                          text=True, timeout=60).stdout.split()
    assert "train.py" in seen
    # A new warm container takes its place, and the claimed one scores like any session's.
    [(_, refill)] = _ready()
    assert refill.container != entry.container and refill.token != entry.token
    answer = subprocess.run(["docker", "exec", live.container, "pitfalls-submit", "--json", "warm"],
                            capture_output=True, text=True, timeout=600)
    assert json.loads(answer.stdout)["status"] == "scored", answer.stdout + answer.stderr
    # Killed, it comes back on the same workspace and token (a cold start, the warm one left alone).
    subprocess.run(["docker", "rm", "-f", live.container], capture_output=True, timeout=60, check=True)
    again = sessions.start_session(scaffold="tumor_triage", candidate="Ada")
    assert again.resumed and again.submissions == 1 and _lab(live, live.candidate_token) == 200
    assert pool.ready_entries()[0][1] == refill
    stopped = sessions.stop_session(session_id=live.session_id)
    assert stopped.container_state == "absent" and not quota.is_mounted(live.workspace)
    assert (live.workspace / "train.py").is_file()


@pytest.mark.docker
def test_other_limits_start_cold_and_leave_the_warm_container(warm_host):
    [(_, entry)] = _ready()
    info = sessions.start_session(scaffold="tumor_triage", candidate="Bo", duration_minutes=30, memory_mb=2048)
    live = sessions.load_session(info.session_id)
    assert _container_id(live.container) != _container_id(entry.container) and live.candidate_token != entry.token
    assert _lab(live, live.candidate_token) == 200
    assert [e for _, e in pool.ready_entries()] == [entry]


@pytest.mark.docker
def test_a_killed_host_server_leaves_its_warm_container_to_the_next_and_a_stop_removes_it(pitfalls_home, engine):
    proc = host.start_detached(warm=1)
    try:
        [(folder, entry)] = _ready()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        logged = (host_state.host_dir() / host_state.LOG_FILE).read_text()
        again = host.start_detached(warm=1)
        deadline = time.monotonic() + 120  # its keeper's first look at the folder and the containers
        while "warm containers: first check" not in (
                log := (host_state.host_dir() / host_state.LOG_FILE).read_text()[len(logged):]):
            assert time.monotonic() < deadline, log[-2000:]
            time.sleep(0.2)
        assert "first check: 1 kept from before, 0 made" in log
        assert [e for _, e in _ready()] == [entry] and _warm_containers() == {entry.container}
        assert json.loads(run_cli("server", "--status", "--json", check=True).stdout)["warm_ready"] == 1
    finally:
        host.stop()
    assert again.wait(timeout=60) is not None
    assert not any(pool.warm_dir().iterdir()) and _warm_containers() == set()
    assert not quota.is_mounted(folder / "workspace")


@pytest.mark.docker
def test_a_start_killed_between_its_claim_and_its_record_leaves_nothing_behind(pitfalls_home, engine):
    proc = host.start_detached(warm=1)
    try:
        [(_, entry)] = _ready()
        target = sessions.sessions_dir() / "0rphan00"
        assert pool.claim(target, image=entry.image, limits=entry.limits) == entry  # then killed: no session.json
        [(_, refill)] = _ready()
        pool.sweep_orphans()  # the keeper's refill swept it already (each of its looks does), or this does
        assert _warm_containers() == {refill.container} and not target.exists()
        assert not (pitfalls_home / "sessions" / "0rphan00").exists()
    finally:
        host.stop()
    assert proc.wait(timeout=60) is not None and _warm_containers() == set()

"""The guard of the fast tests (tests/no_training.py) holds in tests/unit/: a sandbox, docker or a
pitfalls process raises at once, and ordinary in-process work and harmless processes still run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from no_training import Refused, forbidden
from pitfalls.live import containers
from pitfalls.sandbox.bwrap import Limits, run_sandboxed, sandbox_uid

LIMITS = Limits(wall_seconds=5, memory_mb=256, max_processes=8, max_file_mb=1)


def test_a_sandbox_is_refused(tmp_path):
    with pytest.raises(Refused, match="must not train, start a sandbox"):
        run_sandboxed(argv=[sys.executable, "-c", "pass"], mounts=[], limits=LIMITS, env={}, cwd="/tmp",
                      log_path=tmp_path / "log", uid=sandbox_uid())


def test_docker_is_refused_even_through_the_runner():
    """containers asks `docker info`; under the guard that call raises rather than starting docker."""
    with pytest.raises(Refused, match="it starts docker"):
        subprocess.run(["docker", "info"], capture_output=True, check=False)
    with pytest.raises(Refused):
        containers.engine_ready()
    with pytest.raises(Refused):
        subprocess.run("docker ps", shell=True, check=False)


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "pitfalls", "submit"], [sys.executable, "-I", "-m", "pitfalls.live.server"],
    "/usr/bin/bwrap --die-with-parent true", ["/work/.venv/bin/pitfalls", "list"], ["python", "train.py"],
    [sys.executable, "-m", "jupyter", "lab"], [sys.executable, "-c", "from pitfalls.service import api"],
])
def test_forbidden_programs(argv):
    assert forbidden(argv)


def test_harmless_processes_still_run():
    assert forbidden(["git", "status"]) is None and forbidden([sys.executable, "-c", "print(1)"]) is None
    assert forbidden([sys.executable, "-c", "from pitfalls.sandbox import quota"]) is None
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"

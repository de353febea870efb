"""tests/overrun.py: a test whose teardown blocks past its timeout ends its worker, with its stack printed,
and the run goes on (a real pytest-xdist run in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

STUCK = '''
import time
import pytest

@pytest.fixture
def stuck():
    yield
    time.sleep(120)  # a teardown that blocks: pytest-timeout has already fired

@pytest.mark.timeout(1)
def test_teardown_blocks(stuck):
    time.sleep(3)

def test_after():
    pass
'''


def test_a_blocked_teardown_ends_its_worker_with_its_stack_and_the_run_goes_on(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["overrun"]\n')
    (tmp_path / "test_stuck.py").write_text(STUCK)
    env = {**os.environ, "PYTHONPATH": str(TESTS), "PYTEST_OVERRUN_GRACE": "2"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "1", "-o", "timeout=600",
                           "--rootdir", str(tmp_path), str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout + proc.stderr
    assert "test_stuck.py::test_teardown_blocks is still running 3 s after it started" in out, out[-3000:]
    assert 'test_stuck.py", line 8 in stuck' in out, out[-3000:]  # where it blocked
    assert "worker 'gw0' crashed while running 'test_stuck.py::test_teardown_blocks'" in out, out[-3000:]
    assert "1 passed" in out and proc.returncode == 1, out[-3000:]  # test_after ran on a new worker

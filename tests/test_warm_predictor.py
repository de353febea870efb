"""The prediction clock starts once the warm predictor's own imports are done (runner/scoring/predictor.py).

The predictor is started beside training at a minimal CPU weight; on a busy machine its imports
(scikit-learn, skops, pandas: about 3 s of CPU) were not done when training ended, and the rest of
them counted against the candidate's predict_seconds: an honest tumor_triage prediction took 16 s
of its 30 s under load, and timed out with an empty log under more. A stand-in harness that takes
``WARMUP`` seconds to "import" shows whether those seconds are counted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pitfalls.fs.jobfiles import prepare_dir
from pitfalls.sandbox.bwrap import Limits, Mount, Sandboxed, sandbox_uid, start_sandboxed
from pitfalls.scoring.predictor import WARM_MARKER, go_when_warm

WARMUP = 3.0
HARNESS = f'''
import sys, time
time.sleep({WARMUP})  # the imports
if sys.argv[1] == "marker":
    open("/out/{WARM_MARKER}", "w").close()
if sys.stdin.readline().strip() != "go":
    sys.exit(5)
print("predicted", flush=True)
'''

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="the sandbox needs bubblewrap")


def _start(tmp_path: Path, mode: str) -> tuple[Sandboxed, Path]:
    harness, out = tmp_path / "harness", tmp_path / "out"
    harness.mkdir()
    (harness / "fake_predict.py").write_text(HARNESS)
    uid = sandbox_uid()
    prepare_dir(out, uid)
    limits = Limits(wall_seconds=30, memory_mb=1024, max_processes=64, max_file_mb=16)
    handle = start_sandboxed(argv=["python3", "-I", "/harness/fake_predict.py", mode],
                             mounts=[Mount(harness, "/harness"), Mount(out, "/out", writable=True)],
                             limits=limits, env={}, cwd="/out", log_path=tmp_path / "predict.log", uid=uid,
                             gated=True)
    return handle, out


def test_warm_up_imports_are_not_counted_in_predict_seconds(tmp_path):
    handle, out = _start(tmp_path, "marker")
    go_when_warm(handle, out)  # right away, as when training ends before the imports do
    run = handle.wait()
    assert run.returncode == 0 and "predicted" in run.log_tail, run
    assert run.wall_seconds < WARMUP / 2, f"the warm-up was counted: {run.wall_seconds:.2f} s"
    assert not (out / WARM_MARKER).exists()  # the marker is not left among the predictions


def test_plain_go_counts_the_warm_up(tmp_path):
    """Positive control: without waiting for the marker, the clock counts the warm-up."""
    handle, _ = _start(tmp_path, "marker")
    handle.go()
    run = handle.wait()
    assert run.returncode == 0 and run.wall_seconds >= WARMUP * 0.9, run


def test_the_wait_for_the_warm_up_is_bounded(tmp_path):
    """A harness that never says it is warm gets ``go`` after ``wait_seconds``: then the clock runs."""
    handle, out = _start(tmp_path, "silent")
    go_when_warm(handle, out, wait_seconds=0.5)
    run = handle.wait()
    assert run.returncode == 0 and run.wall_seconds >= WARMUP * 0.5, run

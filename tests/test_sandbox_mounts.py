"""A real sandbox, started by a Python whose venv holds a copy of pitfalls, cannot see that copy.

The rules are unit-tested as path logic (tests/unit/test_sandbox_libraries.py); this proves them in
bubblewrap. A fresh venv gets a folder that looks like a pitfalls checkout in ``<venv>/src/`` (where
``pip install -e git+...`` puts one): a ``.git`` and a scaffold's ``solution``. The checkout is not
the one pitfalls runs from, so only the content check finds it. A driver run by that venv's Python
(pitfalls importable through the dev venv's site-packages) starts a sandbox whose process lists
what it can see and prints it: the venv is there (positive control), the copy is an empty folder,
and nothing of the real checkout is visible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig

from conftest import REPO

DEV_SITES = sorted({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})

DRIVER = """
import json, site, sys
from pathlib import Path
for folder in json.loads(sys.argv[2]):
    site.addsitedir(folder)  # runs the dev venv's editable finder: `import pitfalls` finds the checkout
from pitfalls.sandbox.bwrap import Limits, run_sandboxed, sandbox_uid

LOOK = '''
import json, os, sys
def look(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else ("file" if os.path.exists(path) else "absent")
print("SEEN=" + json.dumps({p: look(p) for p in sys.argv[1:]}))
'''
paths = json.loads(sys.argv[3])
result = run_sandboxed(argv=[sys.executable, "-I", "-c", LOOK, *paths], mounts=[],
                       limits=Limits(wall_seconds=60, memory_mb=512, max_processes=16, max_file_mb=8),
                       env={}, cwd="/tmp", log_path=Path(sys.argv[1]) / "sandbox.log", uid=sandbox_uid())
print(json.dumps({"returncode": result.returncode, "log": result.log_tail}))
"""


def test_a_copy_of_pitfalls_inside_the_venv_is_hidden_from_the_sandbox(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    copy = venv / "src" / "pitfalls"
    (copy / ".git" / "objects").mkdir(parents=True)
    (copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (copy / "scaffolds" / "x" / "solution").mkdir(parents=True)
    (copy / "scaffolds" / "x" / "solution" / "train.py").write_text("ANSWER = 42\n")
    (copy / "tests").mkdir()
    looks = [str(venv / "bin"), str(venv / "src"), str(copy), str(copy / ".git"),
             str(copy / "scaffolds" / "x" / "solution"), str(REPO / ".git"), str(REPO / "scaffolds"), str(REPO)]
    proc = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", DRIVER, str(tmp_path), json.dumps(DEV_SITES),
                           json.dumps(looks)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [line for line in outcome["log"].splitlines() if line.startswith("SEEN=")]
    assert outcome["returncode"] == 0 and lines, outcome
    seen = json.loads(lines[-1][len("SEEN="):])
    assert "python" in seen[str(venv / "bin")], seen  # the venv is mounted: the probe can see
    assert seen[str(venv / "src")] == ["pitfalls"], seen
    assert seen[str(copy)] == [], seen  # the copy is an empty folder: no .git, no scaffolds, no tests
    for hidden in (copy / ".git", copy / "scaffolds" / "x" / "solution", REPO / ".git", REPO / "scaffolds"):
        assert seen[str(hidden)] == "absent", (hidden, seen)
    assert seen[str(REPO)] in ("absent", [".venv"]), seen  # at most the path to the dev venv, nothing of the checkout

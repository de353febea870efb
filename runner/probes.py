"""Run a scaffold's bug probes against a workspace, in a sandbox, and collect the verdicts.

Probe output goes to the interviewer's record and the end-of-practice reveal only; the
candidate's submit output never includes it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from . import quota
from .pipeline import copy_workspace, job_folder, limits_for, prepare_dir
from .predictor import HARNESS_DIR
from .results import ProbeResult
from .sandbox import Mount, run_sandboxed, sandbox_uid
from .scaffold import Scaffold
from .workspace import write_training_data

PROBEKIT_DIR = Path(__file__).resolve().parent.parent / "bugs" / "probekit"
STATUSES = ("present", "fixed", "unknown")


def run_probes(*, scaffold: Scaffold, source: Path) -> list[ProbeResult]:
    """Probe ``source`` (a workspace or extracted snapshot) for every bug in the manifest.

    A bug without a probe, or whose probe cannot decide, is reported as ``unknown``.
    """
    bugs = scaffold.manifest.bugs
    if not scaffold.probes_file.exists():
        return [ProbeResult(b, "unknown", "this scaffold has no probes.py") for b in bugs]
    with job_folder(scaffold=scaffold, source=source, prefix=quota.PROBE_PREFIX) as job:
        uid = sandbox_uid()
        work, kit, out = job / "work", job / "probes", job / "out"
        copy_workspace(source, work)
        (work / "artifacts").mkdir(exist_ok=True)
        write_training_data(scaffold=scaffold, directory=work)
        shutil.copytree(PROBEKIT_DIR, kit / "probekit", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(scaffold.probes_file, kit / "probes.py")
        prepare_dir(work, uid)
        prepare_dir(out, uid)
        os.chmod(kit, 0o755)
        seconds = scaffold.manifest.budgets.train_seconds
        run = run_sandboxed(argv=[sys.executable, "-I", "/harness/probe.py", str(seconds)],
                            mounts=[Mount(work, "/workspace", writable=True), Mount(kit, "/probes"),
                                    Mount(HARNESS_DIR, "/harness"), Mount(out, "/out", writable=True)],
                            limits=limits_for(scaffold, seconds * 3 + 30), env={"SEED": "0", "OMP_NUM_THREADS": "1"},
                            cwd="/workspace", log_path=job / "probe.log", uid=uid)
        raw = _read(out / "probes.json")
    why = "the probe run timed out" if run.timed_out else f"the probe run failed: {run.log_tail[-200:]}"
    results = []
    for bug in bugs:
        item = raw.get(bug) if isinstance(raw.get(bug), dict) else None
        status = item.get("status") if item else None
        if status not in STATUSES:
            results.append(ProbeResult(bug, "unknown", "no verdict" if raw else why))
        else:
            results.append(ProbeResult(bug, status, str(item.get("evidence", ""))[:500]))
    return results


def _read(path: Path) -> dict:
    if not path.is_file() or path.stat().st_size > 1 << 20:
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

"""Shared by bench/submit_overhead.py and bench/load.py: a private installation, reference
workspaces, and the `pitfalls submit` process a user runs, timed from outside.

Import this module before anything of pitfalls: :func:`setup_installation` sets PITFALLS_HOME (and
PITFALLS_SCHED_DIR unless it is set already) for this process and every `pitfalls` it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def setup_installation(prefix: str) -> tuple[Path, Path]:
    """A fresh PITFALLS_HOME, and a scheduler folder: $PITFALLS_SCHED_DIR if set (to share a
    host's real scheduler on purpose), else a private one, so only this bench's jobs take its slots.
    Pins the shipped variant ($PITFALLS_VARIANT=base unless set): the bench copies each scaffold's
    reference, whose column names are the shipped ones, into its workspaces.
    Returns ``(home, sched_dir)``."""
    home = Path(tempfile.mkdtemp(prefix=f"pitfalls-bench-{prefix}-"))
    os.environ["PITFALLS_HOME"] = str(home)
    os.environ.setdefault("PITFALLS_VARIANT", "base")
    if not os.environ.get("PITFALLS_SCHED_DIR"):
        os.environ["PITFALLS_SCHED_DIR"] = str(home / "sched")
    return home, Path(os.environ["PITFALLS_SCHED_DIR"])


def reference_workspace(name: str, directory: Path) -> Path:
    """A practice workspace of ``name`` (its own session) with the reference solution copied over
    the starter, as the tests make one. The first one per installation measures the anchors."""
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.variants import materialize
    from pitfalls.service import api

    api.start_practice(name=name, directory=directory)
    materialize(scaffold=load_scaffold(name), target=directory, reference=True)
    return directory


def pitfalls_argv() -> list[str]:
    """The `pitfalls` console script of this venv (what users run), else ``python -m pitfalls``."""
    script = Path(sys.executable).with_name("pitfalls")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pitfalls"]


@dataclass
class Submitted:
    """One `pitfalls submit --json` process, timed from outside."""

    wall: float
    """Seconds from starting the process to its exit (what the user waits)."""
    status: str
    score: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def verdict(self) -> tuple[str, float | None]:
        """What must not depend on load: the status and the public score."""
        return self.status, self.score


def submit(directory: Path, *extra: str, timeout: float = 1800) -> Submitted:
    """Run `pitfalls submit --dir DIRECTORY --json [EXTRA]` and time it.

    A process that exits without JSON (busy queue, crash) is reported with status ``exit N``."""
    argv = [*pitfalls_argv(), "submit", "--dir", str(directory), "--json", *extra]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    wall = time.perf_counter() - start
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-300:]
        return Submitted(wall=wall, status=f"exit {proc.returncode}", message=tail)
    return Submitted(wall=wall, status=str(data.get("status")), score=data.get("score"),
                     timings=dict(data.get("timings") or {}), message=str(data.get("message", "")))


def wait_probes(directory: Path, seconds: float = 1800) -> float:
    """Wait for the background probes of ``directory``'s session; returns the seconds waited."""
    from pitfalls.service import api

    start = time.perf_counter()
    api.probe_status(directory=directory, wait_seconds=seconds)
    return time.perf_counter() - start


def loadavg() -> float:
    """The host's 1-minute load average."""
    return os.getloadavg()[0]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A README-ready Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def command_line() -> str:
    """How this bench was started, for the line above its table in the README."""
    return " ".join([".venv/bin/python", *[a if a and " " not in a else repr(a) for a in sys.argv]])

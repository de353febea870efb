"""Reserve a slot's CPUs for a job: a cpuset cgroup (root) or ``sched_setaffinity``, and thread
settings that match.

What candidate code can and cannot change (tests/test_sched_processes.py proves each):

- With a cgroup (the runner is root): the trusted parent creates the job's cpuset cgroup and the
  child joins it before exec. The kernel then intersects every ``sched_setaffinity`` call with the
  cgroup's CPUs, so code inside cannot widen its CPUs; it cannot leave the cgroup either (the
  sandbox mounts no /sys and runs as an unprivileged uid).
- Without one (not root): only ``sched_setaffinity`` on the child, which the child itself may widen
  again. Jobs then stay apart only as long as the code keeps the affinity it was given.
- Thread counts (``OMP_NUM_THREADS`` ...) are read by the libraries from the environment, which
  the code can rewrite before importing them. More threads than CPUs then slow only that job:
  the cpuset keeps them on its own CPUs.

torch has no ``TORCH_NUM_THREADS``: its intra-op pool follows ``OMP_NUM_THREADS`` (and
``MKL_NUM_THREADS``), and ``OMP_THREAD_LIMIT`` caps a later ``torch.set_num_threads``. Its inter-op
pool (``torch.jit.fork`` only) has no variable.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pitfalls.sched.config import format_cpus

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "pitfalls"
"""The cgroup under each hierarchy that holds the jobs' cgroups (``sched-<pid>-<slot>-<ns>``)."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS")
SANDBOX_CONTROLLERS = ("memory", "pids", "cpu")
"""Controllers the sandbox (runner/sandbox/bwrap.py) puts each run in: a hierarchy shared with one
of them is left alone, since a process is in one cgroup per hierarchy."""


def thread_env(n_cpus: int) -> dict[str, str]:
    """Environment for a job on ``n_cpus`` CPUs: every thread pool sized to them."""
    return dict.fromkeys(THREAD_VARIABLES, str(n_cpus))


def _hierarchies() -> dict[str, int]:
    """cgroup v1 controller -> hierarchy id (``/proc/cgroups``); empty when unreadable."""
    try:
        lines = Path("/proc/cgroups").read_text().splitlines()[1:]
    except OSError:
        return {}
    return {p[0]: int(p[1]) for p in (line.split() for line in lines) if len(p) >= 4 and p[3] == "1"}


def _usable_v1(controller: str) -> Path | None:
    """The v1 mount of ``controller`` when it is on its own hierarchy (not the sandbox's)."""
    ids = _hierarchies()
    mine = ids.get(controller, 0)
    if mine == 0 or any(ids.get(c) == mine for c in SANDBOX_CONTROLLERS if c != controller):
        return None
    base = CGROUP_ROOT / controller
    return base if (base / "cgroup.procs").exists() else None


def _v2_root() -> Path | None:
    """The cgroup v2 root, when cpuset is a v2 controller there (pure v2 hosts)."""
    controllers = CGROUP_ROOT / "cgroup.controllers"
    try:
        return CGROUP_ROOT if "cpuset" in controllers.read_text().split() else None
    except OSError:
        return None


class Reservation:
    """A job's CPUs: its cgroups (when it may create them) and how the child joins them."""

    def __init__(self, cpus: tuple[int, ...], *, name: str, use_cgroups: bool = True) -> None:
        self.cpus = cpus
        self.dirs: list[Path] = []
        if use_cgroups and os.geteuid() == 0:
            remove_stale()
            self.dirs = _create(name, cpus)

    @property
    def cgroup_path(self) -> Path | None:
        """The job's cpuset cgroup, or None when pinning falls back to ``sched_setaffinity``."""
        return next((d for d in self.dirs if (d / "cpuset.cpus").exists()), None)

    def pin(self) -> None:
        """Run in the child between fork and exec (``preexec_fn``): join the job's cgroups and
        pin to its CPUs. Everything the child starts inherits both."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))
        os.sched_setaffinity(0, self.cpus)

    def adopt(self, pids: list[int]) -> None:
        """Move running processes (every thread of each) onto the reservation, from the trusted
        parent: into the job's cgroups, and pinned to its CPUs. Processes that ended are skipped."""
        for pid in pids:
            for d in self.dirs:
                try:
                    (d / "cgroup.procs").write_text(str(pid))
                except (ProcessLookupError, OSError):
                    pass
            try:
                tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                continue
            for tid in tids:
                try:
                    os.sched_setaffinity(tid, self.cpus)
                except OSError:
                    pass

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by every process that joined (None without an accounting cgroup)."""
        for d in self.dirs:
            if (d / "cpuacct.usage").exists():
                return int((d / "cpuacct.usage").read_text()) / 1e9
            if (d / "cpu.stat").exists():
                usage = [ln.split()[1] for ln in (d / "cpu.stat").read_text().splitlines()
                         if ln.startswith("usage_usec ")]
                return int(usage[0]) / 1e6 if usage else None
        return None

    def close(self) -> None:
        """Kill whatever still runs on the reservation (nothing may outlive its slot), remove it."""
        for d in self.dirs:
            _kill_all(d)
        for d in self.dirs:
            for _ in range(40):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    _kill_all(d)
                    time.sleep(0.05)


def _create(name: str, cpus: tuple[int, ...]) -> list[Path]:
    """The job's cgroups: cpuset (v1, or v2 with cpu accounting) and cpuacct (v1); [] when none."""
    made: list[Path] = []
    v1 = _usable_v1("cpuset")
    v2 = None if v1 else _v2_root()
    try:
        if v1 is not None:
            parent = _v1_parent(v1)
            made.append(_mkdir(parent / name, {"cpuset.mems": (parent / "cpuset.mems").read_text().strip(),
                                               "cpuset.cpus": format_cpus(cpus)}))
            acct = _usable_v1("cpuacct")
            if acct is not None:
                made.append(_mkdir(acct / PARENT / name, {}))
        elif v2 is not None:
            parent = v2 / PARENT
            _enable_v2(v2, parent)
            made.append(_mkdir(parent / name, {"cpuset.cpus": format_cpus(cpus)}))
    except OSError:
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass
        return []
    return made


def _v1_parent(base: Path) -> Path:
    """``cpuset/pitfalls`` with every CPU and memory node of the root (v1 children start empty)."""
    parent = base / PARENT
    parent.mkdir(exist_ok=True)
    for fname in ("cpuset.cpus", "cpuset.mems"):
        if not (parent / fname).read_text().strip():
            (parent / fname).write_text((base / fname).read_text().strip())
    return parent


def _enable_v2(root: Path, parent: Path) -> None:
    parent.mkdir(exist_ok=True)
    for d in (root, parent):
        if "cpuset" not in (d / "cgroup.subtree_control").read_text().split():
            (d / "cgroup.subtree_control").write_text("+cpuset")
        try:  # cpu.stat's usage_usec (CPU seconds); the cpuset works without it
            (d / "cgroup.subtree_control").write_text("+cpu")
        except OSError:
            pass


def _mkdir(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for fname, value in files.items():
        (d / fname).write_text(value)
    return d


def _kill_all(d: Path) -> None:
    try:
        pids = (d / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def remove_stale() -> None:
    """Kill what still runs in job cgroups whose holder died (their name carries the holder's pid),
    then remove them: a killed holder's job must not keep running on CPUs its slot no longer holds.
    (bwrap's ``--die-with-parent`` usually ends it first.)"""
    bases = [b / PARENT for b in (_usable_v1("cpuset"), _usable_v1("cpuacct"), _v2_root()) if b is not None]
    for base in bases:
        for d in base.glob("sched-*-*-*"):
            pid = d.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _kill_all(d)
                try:
                    d.rmdir()
                except OSError:
                    pass  # its processes are still exiting: the next grant removes it

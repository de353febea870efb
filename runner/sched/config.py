"""The scheduler's settings and its host-wide folder.

Every process that runs candidate code on a host (practice CLI, session servers, the hub service,
probes, ``pitfalls check``) must agree on one folder and one layout, whatever its
``PITFALLS_HOME``: the folder is host-wide (``/run/pitfalls-sched`` as root, else
``/tmp/pitfalls-sched-<uid>``), or ``$PITFALLS_SCHED_DIR``. Settings come from the environment:

- ``PITFALLS_SCHED_DIR``: the folder (created 0700; it must be owned by this user).
- ``PITFALLS_SCHED_CPUS``: the CPUs jobs may use, as a list ("0-3,6"); default: this process's
  allowed CPUs.
- ``PITFALLS_SCHED_CORES``: use only the first N of those (the host's cores for scoring).
- ``PITFALLS_SCHED_CORES_PER_JOB``: CPUs reserved per job (default 1): slots = cores // this.
- ``PITFALLS_SCHED_MAX_QUEUE``: waiting jobs per lane before "busy" (default 32).
- ``PITFALLS_SCHED_MAX_PER_SESSION``: waiting jobs per session and lane (default 4).
- ``PITFALLS_SCHED_CGROUPS``: "0" pins with ``sched_setaffinity`` only, never a cgroup.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pitfalls.sched.errors import SchedulerError

ENV_PREFIX = "PITFALLS_SCHED_"
LAYOUT_FILE = "layout.json"


def parse_cpus(text: str) -> tuple[int, ...]:
    """``"0-3,6"`` -> ``(0, 1, 2, 3, 6)`` (the kernel's cpu list format)."""
    cpus: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        cpus = set()
    if not cpus or min(cpus) < 0:
        raise SchedulerError(f"PITFALLS_SCHED_CPUS must be a CPU list like 0-3,6. Got {text!r} instead.")
    return tuple(sorted(cpus))


def format_cpus(cpus: tuple[int, ...] | list[int]) -> str:
    """``(0, 1, 2, 6)`` -> ``"0,1,2,6"`` (what cgroup ``cpuset.cpus`` files accept)."""
    return ",".join(str(c) for c in sorted(cpus))


def online_cpus() -> tuple[int, ...]:
    """The host's online CPUs (empty when the kernel does not say)."""
    try:
        return parse_cpus(Path("/sys/devices/system/cpu/online").read_text().strip())
    except (OSError, SchedulerError):
        return ()


def default_folder() -> Path:
    """Host-wide, whatever ``PITFALLS_HOME`` is: ``/run/pitfalls-sched`` as root, else
    ``/tmp/pitfalls-sched-<uid>`` (one scheduler per user: users cannot share a 0700 folder)."""
    if os.geteuid() == 0:
        return Path("/run/pitfalls-sched")
    return Path(f"/tmp/pitfalls-sched-{os.geteuid()}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(ENV_PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SchedulerError(f"{ENV_PREFIX}{name} must be a whole number >= {minimum}. Got {raw!r} instead.")
    return value


@dataclass(frozen=True)
class Config:
    """Where the scheduler keeps its state and how it splits the host's CPUs into slots."""

    folder: Path
    cpus: tuple[int, ...]
    cores_per_job: int = 1
    max_queue: int = 32
    max_per_session: int = 4
    use_cgroups: bool = True
    poll_seconds: float = 0.05
    slots: tuple[tuple[int, ...], ...] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.cpus) // self.cores_per_job
        if n < 1:
            raise SchedulerError(f"PITFALLS_SCHED_CORES_PER_JOB must be at most the number of CPUs "
                                 f"({len(self.cpus)}: {format_cpus(self.cpus)}). Got {self.cores_per_job} "
                                 "instead. Lower it or give the scheduler more CPUs (PITFALLS_SCHED_CPUS).")
        k = self.cores_per_job
        object.__setattr__(self, "slots", tuple(tuple(self.cpus[i * k:(i + 1) * k]) for i in range(n)))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """The settings of ``env`` (default ``os.environ``); SchedulerError for a bad value."""
        env = os.environ if env is None else env
        raw_cpus = env.get(ENV_PREFIX + "CPUS", "").strip()
        cpus = parse_cpus(raw_cpus) if raw_cpus else tuple(sorted(os.sched_getaffinity(0)))
        online = online_cpus()
        if online and not set(cpus) <= set(online):
            raise SchedulerError(f"PITFALLS_SCHED_CPUS must name online CPUs ({format_cpus(online)}). Got "
                                 f"{raw_cpus!r} instead. Name CPUs from that list.")
        cores = _int(env, "CORES", len(cpus), 1)
        folder = env.get(ENV_PREFIX + "DIR", "").strip()
        return cls(folder=Path(folder) if folder else default_folder(), cpus=cpus[:cores],
                   cores_per_job=_int(env, "CORES_PER_JOB", 1, 1), max_queue=_int(env, "MAX_QUEUE", 32, 1),
                   max_per_session=_int(env, "MAX_PER_SESSION", 4, 1),
                   use_cgroups=env.get(ENV_PREFIX + "CGROUPS", "1").strip() != "0")


def prepare_folder(config: Config) -> Path:
    """Create (0700) or check the scheduler's folder and its layout; return the folder.

    Raises:
        SchedulerError: the folder is a link, belongs to another user, is open to others, or
            holds a different layout (other processes split the CPUs differently).
    """
    folder = config.folder
    for sub in (folder, folder / "slots", folder / "tickets"):
        try:
            os.mkdir(sub, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise SchedulerError(f"The scheduler folder {sub} must be creatable. Got {exc} instead. "
                                 "Set PITFALLS_SCHED_DIR to a writable folder.") from exc
        st = os.lstat(sub)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise SchedulerError(
                f"The scheduler folder {sub} must be a directory owned by uid {os.geteuid()} with mode 0700. "
                f"Got {'a link' if stat.S_ISLNK(st.st_mode) else 'uid ' + str(st.st_uid)}, mode "
                f"{stat.S_IMODE(st.st_mode):o} instead. Remove it (no scoring job may run) or set "
                "PITFALLS_SCHED_DIR to another folder.")
    _check_layout(config)
    return folder


def _check_layout(config: Config) -> None:
    """The first process writes the layout; every later one must use the same one."""
    path = config.folder / LAYOUT_FILE
    want = {"slots": [list(s) for s in config.slots]}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        fd = None
    if fd is not None:
        with os.fdopen(fd, "w") as fh:
            json.dump(want, fh)
        return
    try:
        got = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # being written by the process that created it
    if got != want:
        raise SchedulerError(
            f"The CPU slots must be the same in every process using {config.folder}. Got {got.get('slots') if isinstance(got, dict) else got} "
            f"there and {want['slots']} here instead. Use the same PITFALLS_SCHED_CPUS, _CORES and "
            f"_CORES_PER_JOB everywhere, or delete {path} while no scoring job runs.")

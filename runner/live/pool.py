"""Warm candidate containers: `session start` claims a JupyterLab already running instead of starting one.

The host server (runner/live/host/) keeps ``--warm N`` entries ready (default 1, ``$PITFALLS_WARM``).
An entry is ``$PITFALLS_HOME/warm/<id>/`` (mode 0700, root's), laid out as a session folder is:

- ``workspace/``: empty, already on its size-limited file system (``workspace.img``);
- ``run/``: mounted at /run/pitfalls, sealed, with the lab's ``jupyter.sock`` and cookie secret;
- ``warm.json`` (mode 0600): the container's name, the lab's token, the limits and the image.

The container is started exactly as a session's (runner/live/containers.py: no network, no
capabilities, read-only image, the limits) with a token of its own that nobody has seen: no
candidate ever used it. A claim renames the whole entry into ``sessions/<id>/`` (one atomic
rename: two starts never get one entry; the bind mounts and the workspace's mount follow the
folder, not its name), the session adopts the token, the container is renamed after the session
and the starting files are written. Only a start whose limits and image equal the entry's claims
it; any other starts cold, as before. Entries being made are ``warm/_<id>`` (never claimed);
one being discarded is first renamed to ``warm/_<id>.dead``, so a claim and a discard never
both get it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pitfalls.core.store import home
from pitfalls.fs.removal import remove_tree
from pitfalls.live import containers
from pitfalls.live.record import CANDIDATE_PREFIX, port_lock, sessions_dir
from pitfalls.live.worker import HostWorker
from pitfalls.sandbox import quota

WARM_ENV = "PITFALLS_WARM"
DEFAULT_WARM = 1
RECORD = "warm.json"
NAME_PREFIX = "pitfalls-warm-"
LABEL = "pitfalls.warm"
"""Every warm container's label; its value names the home (:func:`home_label`)."""
POLL_SECONDS = 1.0
CHECK_SECONDS = 60.0
RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    """What a session's container is started with; an entry serves only a start asking for exactly these."""

    memory_mb: int = 4096
    cpus: float = 2.0
    disk_mb: int = 2048


@dataclass(frozen=True)
class WarmEntry:
    """What ``warm.json`` holds."""

    container: str
    token: str
    memory_mb: int
    cpus: float
    disk_mb: int
    image: str
    created_at: str

    @property
    def limits(self) -> Limits:
        return Limits(memory_mb=self.memory_mb, cpus=self.cpus, disk_mb=self.disk_mb)


def home_label() -> str:
    """The value of a warm container's :data:`LABEL`: the home whose host server made it."""
    return str(home().resolve())


def warm_dir() -> Path:
    """``$PITFALLS_HOME/warm`` (mode 0700), on the sessions' file system (a claim is a rename)."""
    path = home() / "warm"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def wanted() -> int:
    """How many entries a host server keeps: ``$PITFALLS_WARM``, else :data:`DEFAULT_WARM`.

    Raises:
        ValueError: the variable is not a whole number from 0 to 16.
    """
    raw = os.environ.get(WARM_ENV, "").strip()
    if not raw:
        return DEFAULT_WARM
    if not raw.isdigit() or int(raw) > 16:
        raise ValueError(f"${WARM_ENV} must be a whole number from 0 to 16 (warm containers kept). "
                         f"Got {raw!r} instead. Fix: export {WARM_ENV}=1, or 0 for none.")
    return int(raw)


def read_entry(folder: Path) -> WarmEntry | None:
    """The entry in ``folder``, or None when it has no complete record."""
    try:
        return WarmEntry(**json.loads((folder / RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def ready_entries() -> list[tuple[Path, WarmEntry]]:
    """The entries ready to claim, oldest first."""
    found = [(p, e) for p in sorted(warm_dir().iterdir()) if not p.name.startswith("_")
             and (e := read_entry(p)) is not None]
    return sorted(found, key=lambda pe: pe[1].created_at)


def make_entry(*, image: str, limits: Limits = Limits()) -> Path:
    """Start one warm container and return its entry's folder once its lab answers.

    Raises:
        ContainerError, QuotaError: the container or its workspace could not be made (nothing is left).
    """
    entry_id = secrets.token_hex(4)
    making = warm_dir() / f"_{entry_id}"
    making.mkdir(mode=0o700)
    name = f"{NAME_PREFIX}{entry_id}"
    try:
        (making / "workspace").mkdir()
        if limits.disk_mb and quota.available():
            quota.bound(making / "workspace", making / "workspace.img", size_mb=limits.disk_mb,
                        owner=containers.CANDIDATE_UID)
        token = secrets.token_urlsafe(24)
        containers.run_candidate_container(
            name=name, workspace=making / "workspace", socket_dir=making / "run", token=token, image=image,
            memory_mb=limits.memory_mb, cpus=limits.cpus, base_url=CANDIDATE_PREFIX, labels={LABEL: home_label()})
        containers.wait_for_jupyter(container=name, socket_dir=making / "run", token=token, base_url=CANDIDATE_PREFIX)
        entry = WarmEntry(container=name, token=token, image=image, created_at=_now(), **asdict(limits))
        fd = os.open(making / RECORD, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(entry), f)
            f.flush()
            os.fsync(f.fileno())  # a folder without its record after a power loss would be nobody's
        final = warm_dir() / entry_id
        making.rename(final)
        return final
    except BaseException:
        _remove(making, name)
        raise


def claim(target: Path, *, image: str, limits: Limits) -> WarmEntry | None:
    """Move a ready entry of ``image`` and ``limits`` to ``target`` (a session's folder, not existing
    yet) and return it; None when there is none (the caller then starts a container itself)."""
    for folder, entry in ready_entries():
        if entry.image != image or entry.limits != limits:
            continue
        try:
            folder.rename(target)
        except FileNotFoundError:
            continue  # another start (or a discard) got it first
        except OSError:
            return None  # another file system, say: start cold
        (target / RECORD).unlink(missing_ok=True)
        return entry
    return None


def discard(folder: Path) -> bool:
    """Remove an entry and its container; False when a claim took it first."""
    entry = read_entry(folder)
    dead = folder.with_name(f"_{folder.name}.dead")
    try:
        folder.rename(dead)
    except FileNotFoundError:
        return False
    _remove(dead, entry.container if entry else f"{NAME_PREFIX}{folder.name}")
    return True


def _remove(folder: Path, container: str) -> None:
    if container:
        containers.remove_container(name_or_id=container)
    quota.unmount(folder / "workspace")
    remove_tree(folder, ignore_errors=True)


def sweep_unfinished() -> int:
    """Remove what a killed host server left half made or half discarded (``warm/_*``), and entries
    without a readable record. Only the host server calls it, under its lock, so none is in use."""
    swept = 0
    for folder in warm_dir().iterdir():
        entry = read_entry(folder)
        if folder.name.startswith("_") or entry is None:
            entry_id = folder.name.lstrip("_").removesuffix(".dead")
            _remove(folder, entry.container if entry else f"{NAME_PREFIX}{entry_id}")
            swept += 1
    return swept


def sweep_orphans() -> int:
    """Remove this home's warm containers that no entry and no session records (a start killed
    between its claim and its record, a removal the engine refused), and the session folders such
    a start left: no ``session.json``, nothing in the workspace. Under the sessions' port lock, which
    a claim holds until its session is recorded. Returns how many containers it removed."""
    with port_lock(sessions_dir()):
        known = {e.container for _, e in ready_entries()}
        known |= {f"{NAME_PREFIX}{p.name.lstrip('_').removesuffix('.dead')}" for p in warm_dir().glob("_*")}
        for record in sessions_dir().glob("*/session.json"):
            try:
                known.add(json.loads(record.read_text())["container"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        orphans = containers.container_names(label=f"{LABEL}={home_label()}", running=False) - known
        for name in orphans:
            containers.remove_container(name_or_id=name)
        for folder in sessions_dir().iterdir():
            if (folder.is_dir() and not folder.name.startswith(".") and not (folder / "session.json").exists()
                    and (folder / "run").is_dir() and (folder / "workspace").is_dir()
                    and not any((folder / "workspace").iterdir())):
                _remove(folder, "")
    return len(orphans)


def top_up(count: int, *, image: str, limits: Limits = Limits()) -> int:
    """Discard entries whose container no longer runs or whose image is not ``image``; make new
    ones until ``count`` are ready. Returns how many it made."""
    sweep_orphans()
    running = containers.container_names(label=f"{LABEL}={home_label()}")
    kept = 0
    for folder, entry in ready_entries():
        if entry.image != image or entry.limits != limits or entry.container not in running or kept >= count:
            discard(folder)
        else:
            kept += 1
    for _ in range(count - kept):
        make_entry(image=image, limits=limits)
    return max(0, count - kept)


def drain() -> int:
    """Remove every entry (a host server stopping); returns how many."""
    return sum(discard(folder) for folder, _ in ready_entries()) + sweep_unfinished()


class Keeper(HostWorker):
    """A thread of the host server keeping ``count`` entries ready while the engine and the image are
    there (it never builds the image: `session start` does, reporting it). It looks at the folder
    every second (no Docker call) and checks the containers themselves every :data:`CHECK_SECONDS`;
    errors are logged once each."""

    name, what, join_seconds = "warm-keeper", "warm containers", 120.0

    def __init__(self, count: int, log: logging.Logger, *, image: Callable[[], str | None] | None = None) -> None:
        super().__init__(log)
        self.count = count
        self._image = image or current_image
        self._checked, self._retry = -CHECK_SECONDS, 0.0

    def wanted(self) -> bool:
        """Nothing to keep when the count is 0."""
        return self.count > 0

    def _due(self) -> bool:
        """Whether to look at the containers now: one is missing (retried every :data:`RETRY_SECONDS`
        after a failure or without the image), or the last look is :data:`CHECK_SECONDS` old."""
        since = time.monotonic() - self._checked
        return since > CHECK_SECONDS or (len(ready_entries()) < self.count and since > self._retry)

    def _run(self) -> None:
        self._guarded(sweep_unfinished)
        first = True
        while not self._stop.is_set():
            if self._guarded(self._due):
                self._checked = time.monotonic()
                image = self._guarded(self._image)
                made = self._guarded(functools.partial(top_up, self.count, image=str(image))) if image else None
                self._retry = 0.0 if made is not None else RETRY_SECONDS
                if first and made is not None:  # what a killed host server left running is used, not doubled
                    self.log.info("warm containers: first check: %d kept from before, %s made", self.count - made, made)
                    first = False
                elif made:
                    self.log.info("warm containers: made %s; %d kept ready", made, self.count)
            self._stop.wait(POLL_SECONDS)

    def _guarded(self, call: Callable[[], object]) -> object:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the keeper must outlive any one failure; logged once
            self._say_once(f"{type(exc).__name__}: {exc} (trying again)")
            return None


def current_image() -> str | None:
    """The candidate image's tag when the engine has it, else None (the keeper waits for a build)."""
    if not containers.engine_ready():
        return None
    tag = containers.image_tag()
    return tag if containers.image_exists(tag=tag) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")

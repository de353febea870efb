"""Size-limited folders, so that what a candidate writes cannot fill the host's disk.

A bounded folder is an ext4 file system in a sparse image file, loop-mounted on the folder.
Writes past its size fail with "No space left on device" inside the candidate's run (training,
prediction, the live container's workspace), and nothing else on the host notices. The image
only takes the disk space that was written, up to its size.

Mounting needs root, as do the sandbox's cgroups and the Docker engine. Without root
(:func:`available` is False), folders are plain and only RLIMIT_FSIZE bounds each file.

Transient folders (a scoring job) come from :func:`bounded_folder`, named after the runner's
pid; :func:`sweep_stale` unmounts and removes those of runners that were killed. A live
session's workspace is :func:`bound` at start and :func:`release` at stop, which copies the
files back into a plain folder so nothing depends on the mount afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.fs.removal import remove_tree
from pitfalls.fs.safecopy import copy_tree

JOB_PREFIX, PROBE_PREFIX, SNAP_PREFIX = "pitfalls-job-", "pitfalls-probe-", "pitfalls-snap-"
_TOOLS = ("mkfs.ext4", "mount", "umount")


class QuotaError(PitfallsError):
    """A size-limited folder could not be made, mounted or released."""


def available() -> bool:
    """Whether bounded folders can be made here (root, loop devices and the ext4 tools)."""
    return (os.geteuid() == 0 and Path("/dev/loop-control").exists()
            and all(_tool(t) for t in _TOOLS))


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/sbin")
                                       if os.access(f"{d}/{name}", os.X_OK)), None)


def _run(*argv: str) -> None:
    cmd = [_tool(argv[0]) or argv[0], *argv[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout).split())[-300:].rstrip(".")
        fix = {"mkfs.ext4": "install e2fsprogs and check that the folder's disk has room",
               "mount": "run as root on a host with loop devices (/dev/loop-control)",
               "umount": "stop what still uses the folder (`fuser -vm FOLDER`)",
               }.get(argv[0], "see the message")
        raise QuotaError(f"`{' '.join(argv)}` must succeed to bound the candidate's disk use. Got exit "
                         f"{proc.returncode}: {said}. Fix: {fix}.")


def is_mounted(path: Path) -> bool:
    """Whether a file system is mounted exactly on ``path``."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])  # \040: space
            if point == target:
                return True
    return False


def make_image(image: Path, *, size_mb: int, owner: int = 0, journal: bool = True) -> None:
    """Create a sparse ext4 image of ``size_mb`` whose root folder belongs to uid/gid ``owner``."""
    with open(image, "wb") as f:
        f.truncate(size_mb * 2**20)
    features = [] if journal else ["-O", "^has_journal"]
    _run("mkfs.ext4", "-q", "-F", "-m", "0", *features, "-E", f"root_owner={owner}:{owner}", str(image))


def mount_image(image: Path, path: Path) -> None:
    """Loop-mount ``image`` on ``path`` (nosuid, nodev), unless something is mounted there already."""
    path.mkdir(parents=True, exist_ok=True)
    if not is_mounted(path):
        _run("mount", "-o", "loop,nosuid,nodev", str(image), str(path))


def unmount(path: Path) -> None:
    """Unmount ``path`` if mounted; a busy mount is detached lazily (it goes when its last user does)."""
    if is_mounted(path):
        try:
            _run("umount", str(path))
        except QuotaError:
            _run("umount", "-l", str(path))


@contextmanager
def bounded_folder(*, size_mb: int, prefix: str = JOB_PREFIX) -> Iterator[Path]:
    """A fresh private folder in the temp folder holding at most ``size_mb``, removed on exit.

    Without :func:`available` it is a plain temporary folder.
    """
    top = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    try:
        os.chmod(top, 0o700)
        folder = top / "fs"
        if available():
            make_image(top / "disk.img", size_mb=size_mb, journal=False)
            mount_image(top / "disk.img", folder)
            os.chmod(folder, 0o700)
            (folder / "lost+found").rmdir()
        else:
            folder.mkdir(mode=0o700)
        yield folder
    finally:
        _remove(top)


def _remove(top: Path) -> None:
    if (top / "fs").exists():
        unmount(top / "fs")
    remove_tree(top, ignore_errors=True)


def _ours(top: Path) -> bool:
    """Whether ``top`` is a folder this runner's user made (mkdtemp: a real folder, 0700, ours) whose
    ``fs`` is no link: anyone may create a look-alike in /tmp to have root unmount something else."""
    try:
        st, fs = os.lstat(top), top / "fs"
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o700
            and not fs.is_symlink())


def sweep_stale(prefixes: tuple[str, ...] = (JOB_PREFIX, PROBE_PREFIX, SNAP_PREFIX)) -> int:
    """Unmount and remove the temporary folders (bounded or not) of runners that were killed; return how many."""
    swept = 0
    tops = [(p, t) for p in prefixes for t in Path(tempfile.gettempdir()).glob(f"{p}*-*")]
    for prefix, top in tops:
        pid = top.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and _ours(top):
            try:
                _remove(top)
            except (OSError, QuotaError):
                continue
            swept += 1
    return swept


def bound(path: Path, image: Path, *, size_mb: int, owner: int) -> None:
    """Mount ``image`` on ``path``, first making it (``size_mb``, root owned by ``owner``) from the
    files already in ``path``.

    The image is the commit point: files are copied into a scratch image that is renamed to
    ``image`` only when complete, so an interruption at any step loses nothing and repeating the
    call finishes the job. Plain files left beside a complete image are older copies of its own.
    """
    if not image.exists():
        scratch, staging = image.with_name(image.name + ".new"), image.with_name(f".{image.stem}.staging")
        unmount(staging)  # what an interrupted earlier call left: its staging mount and scratch image
        scratch.unlink(missing_ok=True)
        make_image(scratch, size_mb=size_mb, owner=owner)
        mount_image(scratch, staging)
        try:
            (staging / "lost+found").rmdir()
            if path.is_dir():
                _copy(path, staging, root_attrs=False)
        finally:
            unmount(staging)
            staging.rmdir()
        scratch.rename(image)
    if is_mounted(path):
        return
    if path.is_dir() and any(path.iterdir()):
        old = path.with_name(f".{path.name}.plain")
        remove_tree(old, ignore_errors=True)
        path.rename(old)
        remove_tree(old)
    mount_image(image, path)


def release(path: Path, image: Path) -> None:
    """Turn the bounded folder ``path`` back into a plain folder with the same files; drop ``image``.

    The image is removed only once ``path`` holds the copy, so an interruption at any step (or a
    reboot, which unmounts it) loses nothing and repeating the call finishes the job.
    """
    if not image.exists():
        return
    if not is_mounted(path):
        if path.is_dir() and any(path.iterdir()):
            image.unlink()  # an earlier call got as far as putting the copy in place
            return
        mount_image(image, path)  # unmounted (a reboot, or an interrupted call): the image holds the files
    staged = path.with_name(f".{path.name}.released")
    remove_tree(staged, ignore_errors=True)
    staged.mkdir(mode=0o700)
    _copy(path, staged, root_attrs=True)  # owners, modes, times and links kept
    unmount(path)
    path.rmdir()
    staged.rename(path)
    image.unlink()


def _copy(src: Path, dst: Path, *, root_attrs: bool) -> None:
    """Copy the candidate's tree ``src`` into ``dst`` exactly (owners, modes, times, links as links,
    hard links, holes) without following a link, opening a FIFO, or recursing (runner/fs/safecopy.py).

    Raises:
        QuotaError: the copy failed (the destination's disk is full, or ``src`` changed under it).
    """
    try:
        copy_tree(src, dst, exact=True, root_attrs=root_attrs)
    except OSError as exc:
        raise QuotaError(f"Copying {src} to {dst} must succeed to move the workspace between its bounded "
                         f"and plain folders. Got {type(exc).__name__}: {exc}. Fix: check that {dst.parent} "
                         "has room for the workspace, then repeat the command (nothing is lost).") from exc

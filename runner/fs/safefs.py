"""Reading, copying and removing candidate trees as a trusted process, race-free and bounded.

A candidate controls every name in their workspace and can swap a folder for a link between
any two system calls of ours (timed by inotify). So nothing here resolves a path twice: every
folder is opened relative to its parent's descriptor with ``O_NOFOLLOW|O_DIRECTORY`` and every
file with ``O_NOFOLLOW|O_NONBLOCK``, and its type is taken from ``fstat`` of the descriptor
actually opened (regular files only: never a FIFO, device or socket). A swap can only make us
read the candidate's own bytes, or skip an entry.

Walks are iterative (no recursion, whatever the depth), hold a bounded number of descriptors
(an ancestor closed to save descriptors is reopened through ``..`` and checked by device and
inode), and stop at :class:`Bounds` (entries listed, depth, time), recording why in
:attr:`Walk.truncated` instead of failing. Reads stop at their byte limit while reading, so a
file that grows is cut there, never read past it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 16
MAX_OPEN_DIRS = 48
"""Folder descriptors a walk keeps open at once; deeper walks reopen ancestors through ``..``."""


class TreeChanged(OSError):
    """A folder being walked was moved away meanwhile (its ``..`` is no longer the folder we came from)."""


@dataclass(frozen=True)
class Bounds:
    """How much of a tree a walk may look at before it stops and reports truncation."""

    max_entries: int = 20_000
    max_depth: int = 32
    max_seconds: float = 5.0


UNBOUNDED = Bounds(max_entries=2**62, max_depth=2**31, max_seconds=float("inf"))
"""For trees that are already bounded by a size-limited file system (quota copies, removal)."""


@dataclass
class Item:
    """One entry met by :class:`Walk`.

    ``kind`` is ``"file"``, ``"link"``, ``"other"`` (FIFO, socket, device), ``"dir"`` (a folder just
    entered: ``fd`` is its open descriptor) or ``"leave"`` (a folder whose entries are all done, ``fd``
    still open; also for the root, with ``rel == ()``). ``parent_fd`` and ``fd`` are valid only until
    the walk moves on. ``st`` is the ``lstat`` of the listing for files, links and others (a hint:
    :func:`open_file` re-checks), and the ``fstat`` of the opened folder for ``dir`` and ``leave``.
    """

    kind: str
    parent_fd: int
    name: str
    rel: tuple[str, ...]
    st: os.stat_result
    fd: int = -1

    @property
    def path(self) -> str:
        """The entry's path relative to the root, with ``/``."""
        return "/".join(self.rel)


def _kind(mode: int) -> str:
    return ("dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode)
            else "link" if stat.S_ISLNK(mode) else "other")


class _Frame:
    __slots__ = ("fd", "rel", "dev", "ino", "entries", "st")

    def __init__(self, fd: int, rel: tuple[str, ...], st: os.stat_result, entries: Iterator[tuple[str, os.stat_result]]):
        self.fd, self.rel, self.st, self.entries = fd, rel, st, entries
        self.dev, self.ino = st.st_dev, st.st_ino


class Walk:
    """An iterative, link-free walk of the folder ``root`` (a path, opened with ``O_NOFOLLOW``).

    ``prune(rel)`` returning True skips an entry (a folder's whole subtree). Iterate once; use it as
    a context manager, or consume it fully, so its descriptors are closed.
    """

    def __init__(self, root: Path | str, *, bounds: Bounds = Bounds(),
                 prune: Callable[[tuple[str, ...]], bool] | None = None) -> None:
        self.root, self.bounds, self.prune = root, bounds, prune
        self.truncated: str | None = None
        self.entries = 0
        self._stack: list[_Frame] = []
        self._deadline = 0.0

    def __enter__(self) -> Walk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every descriptor the walk still holds."""
        while self._stack:
            fd = self._stack.pop().fd
            if fd >= 0:
                os.close(fd)

    def _stop(self, why: str) -> None:
        self.truncated = self.truncated or why

    def _list(self, fd: int) -> Iterator[tuple[str, os.stat_result]]:
        """The folder's entries (sorted by name, lstat), at most the walk's remaining entry budget."""
        found = []
        with os.scandir(fd) as it:
            for entry in it:
                if self.entries >= self.bounds.max_entries:
                    self._stop(f"more than {self.bounds.max_entries} entries")
                    break
                self.entries += 1
                try:
                    found.append((entry.name, entry.stat(follow_symlinks=False)))
                except OSError:  # removed meanwhile
                    continue
        return iter(sorted(found))

    def _push(self, fd: int, rel: tuple[str, ...]) -> _Frame:
        frame = _Frame(fd, rel, os.fstat(fd), iter(()))
        self._stack.append(frame)
        open_frames = [f for f in self._stack if f.fd >= 0]
        if len(open_frames) > MAX_OPEN_DIRS:
            os.close(open_frames[0].fd)
            open_frames[0].fd = -1
        frame.entries = self._list(fd)
        return frame

    def _pop(self) -> None:
        child = self._stack.pop()
        try:
            if self._stack and self._stack[-1].fd < 0:
                parent = self._stack[-1]
                fd = os.open("..", DIR_FLAGS, dir_fd=child.fd)
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != (parent.dev, parent.ino):
                    os.close(fd)
                    raise TreeChanged(f"{'/'.join(child.rel)} was moved during the walk")
                parent.fd = fd
        finally:
            os.close(child.fd)

    def __iter__(self) -> Iterator[Item]:
        start = time.monotonic()
        try:
            root = self._push(os.open(self.root, DIR_FLAGS), ())
            while self._stack:
                frame = self._stack[-1]
                if time.monotonic() - start > self.bounds.max_seconds:
                    self._stop(f"more than {self.bounds.max_seconds:g} s")
                    break
                nxt = next(frame.entries, None)
                if nxt is None:
                    yield Item("leave", -1, frame.rel[-1] if frame.rel else "", frame.rel, frame.st, frame.fd)
                    if frame is root:
                        break
                    self._pop()
                    continue
                name, st = nxt
                rel, kind = (*frame.rel, name), _kind(st.st_mode)
                if self.prune is not None and self.prune(rel):
                    continue
                if kind != "dir":
                    yield Item(kind, frame.fd, name, rel, st)
                elif len(rel) > self.bounds.max_depth:
                    self._stop(f"folders more than {self.bounds.max_depth} levels deep")
                else:
                    try:
                        fd = os.open(name, DIR_FLAGS, dir_fd=frame.fd)
                    except OSError:  # swapped for a link or a file, or removed: not followed
                        continue
                    child = self._push(fd, rel)
                    yield Item("dir", frame.fd if frame.fd >= 0 else -1, name, rel, child.st, fd)
        finally:
            self.close()


def open_file(dir_fd: int, name: str) -> tuple[int, os.stat_result] | None:
    """``name`` in the folder ``dir_fd`` opened for reading if it is a regular file (no link followed,
    never blocking on a FIFO), with its ``fstat``; None otherwise. The caller closes the descriptor."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def read_fd(fd: int, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes from ``fd``; and whether there was more (the rest is never read)."""
    parts, got = [], 0
    while got < limit:
        chunk = os.read(fd, min(CHUNK, limit - got))
        if not chunk:
            return b"".join(parts), False
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts), bool(os.read(fd, 1))


def open_rel(root: Path | str, rel: str) -> tuple[int, os.stat_result] | None:
    """The regular file ``root/rel`` opened without following any link on the way, or None."""
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") for p in parts):
        return None
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return open_file(fd, parts[-1])
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    finally:
        os.close(fd)


def read_rel(root: Path | str, rel: str, limit: int) -> tuple[bytes, bool] | None:
    """At most ``limit`` bytes of the regular file ``root/rel`` (no link followed) and whether it was cut;
    None when it is not a regular file reached through regular folders."""
    opened = open_rel(root, rel)
    if opened is None:
        return None
    try:
        return read_fd(opened[0], limit)
    finally:
        os.close(opened[0])

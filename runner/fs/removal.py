"""Removing a candidate tree as a trusted process: no link followed, no recursion, any depth.

The same discipline as :mod:`pitfalls.fs.safefs` (every folder opened relative to its parent's
descriptor with ``O_NOFOLLOW|O_DIRECTORY``, a bounded number of descriptors, ancestors reopened
through ``..`` and checked by device and inode).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pitfalls.fs.safefs import DIR_FLAGS, MAX_OPEN_DIRS, TreeChanged


def remove_tree(path: Path | str, *, ignore_errors: bool = False) -> None:
    """Remove ``path`` and everything in it without following links and without recursion.

    Depth-first with a bounded number of descriptors (ancestors are reopened through ``..`` and
    checked), so a chain of any depth is removed. A missing ``path`` is fine.
    """
    path = Path(path)
    try:
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        if ignore_errors:
            return
        raise
    try:
        _remove_in(parent, path.name, ignore_errors)
    finally:
        os.close(parent)


def _remove_in(parent: int, name: str, ignore_errors: bool) -> None:
    try:
        top = os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return
    except OSError:  # a file or a link: just the name goes
        _quiet(ignore_errors, os.unlink, name, dir_fd=parent)
        return
    stuck: set[tuple[int, int]] = set()  # folders that could not be removed (ignore_errors)
    stack = [_RmFrame(top, name, stuck, ignore_errors)]
    try:
        while stack:
            frame = stack[-1]
            sub = frame.next_sub()
            if sub is not None:
                try:
                    fd = os.open(sub, DIR_FLAGS, dir_fd=frame.fd)
                except OSError:  # swapped for a link or a file meanwhile
                    _quiet(ignore_errors, os.unlink, sub, dir_fd=frame.fd)
                    continue
                stack.append(_RmFrame(fd, sub, stuck, ignore_errors))
                open_frames = [f for f in stack if f.fd >= 0]
                if len(open_frames) > MAX_OPEN_DIRS:
                    os.close(open_frames[0].fd)
                    open_frames[0].fd = -1
                continue
            stack.pop()
            above = stack[-1] if stack else None
            if above is not None and above.fd < 0:
                above.reopen_from(frame.fd)
            os.close(frame.fd)
            frame.fd = -1
            try:
                os.rmdir(frame.name, dir_fd=above.fd if above else parent)
            except FileNotFoundError:
                pass
            except OSError:
                if not ignore_errors:
                    raise
                stuck.add((frame.dev, frame.ino))
    finally:
        for f in stack:
            if f.fd >= 0:
                os.close(f.fd)


class _RmFrame:
    """A folder being emptied: its non-folders are unlinked on each listing, its sub-folders queued."""

    def __init__(self, fd: int, name: str, stuck: set[tuple[int, int]], ignore_errors: bool) -> None:
        st = os.fstat(fd)
        self.fd, self.name, self.dev, self.ino, self.stuck = fd, name, st.st_dev, st.st_ino, stuck
        self.ignore_errors, self.listings = ignore_errors, 0
        self.pending: list[str] = []

    def next_sub(self) -> str | None:
        """The next sub-folder to empty; the folder is listed again when they are done (at most
        three listings: what keeps appearing after that makes its removal fail)."""
        if not self.pending and self.listings < 3:
            self.listings += 1
            self.pending = sorted((n for n, ino in _empty_files(self.fd, self.ignore_errors)
                                   if (self.dev, ino) not in self.stuck), reverse=True)
        return self.pending.pop() if self.pending else None

    def reopen_from(self, child_fd: int) -> None:
        """Reopen this (closed) folder as ``..`` of ``child_fd``, checking it is the same folder."""
        fd = os.open("..", DIR_FLAGS, dir_fd=child_fd)
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (self.dev, self.ino):
            os.close(fd)
            raise TreeChanged(f"{self.name} was moved during its removal")
        self.fd = fd


def _empty_files(fd: int, ignore_errors: bool) -> list[tuple[str, int]]:
    """Unlink every non-folder in the folder ``fd``; return the names and inodes of its sub-folders."""
    subs = []
    with os.scandir(fd) as it:
        for entry in it:
            if entry.is_dir(follow_symlinks=False):
                subs.append((entry.name, entry.inode()))
            else:
                _quiet(ignore_errors, os.unlink, entry.name, dir_fd=fd)
    return subs


def _quiet(ignore_errors: bool, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)
    except FileNotFoundError:
        pass
    except OSError:
        if not ignore_errors:
            raise

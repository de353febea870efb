"""Copying and handing over candidate trees as root, on top of :mod:`pitfalls.fs.safefs`.

Same rules: no link is ever followed (a link is copied as a link, or dropped), nothing but a
regular file is opened for reading (a FIFO is recreated, never opened), no recursion (a chain
of folders of any depth is fine), sparse files stay sparse (a 1 TiB hole in a 128 MiB quota is
not written out on the host's disk), and hard links stay links (no copy-back blow-up).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from pitfalls.fs.safefs import DIR_FLAGS, MAX_OPEN_DIRS, UNBOUNDED, Bounds, Item, TreeChanged, Walk, open_file

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MODE_BITS = 0o1777
"""Modes kept by a copy: never set-uid or set-gid bits on files a candidate made."""


class _Chain:
    """Descriptors of the destination folders being filled, at most :data:`MAX_OPEN_DIRS` open."""

    def __init__(self, fd: int) -> None:
        st = os.fstat(fd)
        self.stack: list[list[int]] = [[fd, st.st_dev, st.st_ino]]

    @property
    def top(self) -> int:
        return self.stack[-1][0]

    def push(self, name: str) -> None:
        fd = os.open(name, DIR_FLAGS, dir_fd=self.top)
        st = os.fstat(fd)
        self.stack.append([fd, st.st_dev, st.st_ino])
        open_ones = [f for f in self.stack if f[0] >= 0]
        if len(open_ones) > MAX_OPEN_DIRS:
            os.close(open_ones[0][0])
            open_ones[0][0] = -1

    def pop(self) -> None:
        child = self.stack.pop()
        parent = self.stack[-1]
        try:
            if parent[0] < 0:
                fd = os.open("..", DIR_FLAGS, dir_fd=child[0])
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != (parent[1], parent[2]):
                    os.close(fd)
                    raise TreeChanged("the destination folder was moved during the copy")
                parent[0] = fd
        finally:
            os.close(child[0])

    def close(self) -> None:
        for fd, _, _ in self.stack:
            if fd >= 0:
                os.close(fd)
        self.stack.clear()


def copy_tree(src: Path, dst: Path, *, exact: bool, bounds: Bounds = UNBOUNDED,
              prune: Callable[[tuple[str, ...]], bool] | None = None, root_attrs: bool = True) -> str | None:
    """Copy the contents of the folder ``src`` into the existing folder ``dst``; return why the copy
    stopped early (``bounds``), or None.

    ``exact`` keeps owners, modes (less set-uid/set-gid), times, links (as links), FIFOs (recreated)
    and hard links; otherwise only regular files and folders are copied, with their mode and times.
    ``root_attrs`` also gives ``dst`` itself the owner, mode and times of ``src`` (``exact`` only).
    """
    chain = _Chain(os.open(dst, DIR_FLAGS))
    copied: dict[tuple[int, int], tuple[str, ...]] = {}
    try:
        with Walk(src, bounds=bounds, prune=prune) as walk:
            for item in walk:
                _copy_item(item, chain, copied, exact=exact, root_attrs=root_attrs)
        return walk.truncated
    finally:
        chain.close()


def _copy_item(item: Item, chain: _Chain, copied: dict[tuple[int, int], tuple[str, ...]], *,
               exact: bool, root_attrs: bool) -> None:
    if item.kind == "dir":
        os.mkdir(item.name, 0o700, dir_fd=chain.top)
        chain.push(item.name)
    elif item.kind == "leave":
        if item.rel or (exact and root_attrs):
            _attrs(chain.top, item.st, exact=exact)
        if item.rel:
            chain.pop()
    elif item.kind == "file":
        _copy_file(item, chain, copied, exact=exact)
    elif exact and item.kind == "link":
        try:
            target = os.readlink(item.name, dir_fd=item.parent_fd)
        except OSError:  # no longer a link
            return
        os.symlink(target, item.name, dir_fd=chain.top)
        os.chown(item.name, item.st.st_uid, item.st.st_gid, dir_fd=chain.top, follow_symlinks=False)
        os.utime(item.name, ns=(item.st.st_atime_ns, item.st.st_mtime_ns), dir_fd=chain.top, follow_symlinks=False)
    elif exact and stat.S_ISFIFO(item.st.st_mode):
        os.mkfifo(item.name, 0o600, dir_fd=chain.top)
        fd = os.open(item.name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=chain.top)
        try:
            _attrs(fd, item.st, exact=True)
        finally:
            os.close(fd)
    # sockets and devices are never copied


def _attrs(fd: int, st: os.stat_result, *, exact: bool) -> None:
    if exact:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode) & MODE_BITS)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_file(item: Item, chain: _Chain, copied: dict[tuple[int, int], tuple[str, ...]], *, exact: bool) -> None:
    opened = open_file(item.parent_fd, item.name)
    if opened is None:
        return
    fd, st = opened
    try:
        key = (st.st_dev, st.st_ino)
        if exact and st.st_nlink > 1 and key in copied and _link(chain, copied[key], item.name):
            return
        out = os.open(item.name, CREATE_FLAGS, 0o600, dir_fd=chain.top)
        try:
            copy_sparse(fd, out, st.st_size)
            _attrs(out, st, exact=exact)
        finally:
            os.close(out)
        if exact and st.st_nlink > 1:
            copied[key] = item.rel
    finally:
        os.close(fd)


def _link(chain: _Chain, first: tuple[str, ...], name: str) -> bool:
    """Hard-link the copy made at ``first`` (relative to the destination's root) as ``name`` in the
    current destination folder; False if that copy is gone."""
    root = chain.stack[0][0]
    fd = os.dup(root) if root >= 0 else -1
    try:
        if fd < 0:
            return False
        for part in first[:-1]:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.link(first[-1], name, src_dir_fd=fd, dst_dir_fd=chain.top, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        if fd >= 0:
            os.close(fd)


def copy_sparse(src: int, dst: int, size: int) -> None:
    """Copy the first ``size`` bytes of ``src`` to ``dst``, writing only its data (holes stay holes)."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(src, pos, os.SEEK_DATA)
            end = min(os.lseek(src, start, os.SEEK_HOLE), size)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            start, end = pos, size  # no SEEK_DATA here: copy it all
        while start < end:
            chunk = os.pread(src, min(1 << 20, end - start), start)
            if not chunk:  # shrank meanwhile
                break
            os.pwrite(dst, chunk, start)
            start += len(chunk)
        if start < end:
            break
        pos = end
    os.ftruncate(dst, size)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give ``root`` and everything in it to ``uid``:``gid``; links themselves, never their targets."""
    with Walk(root, bounds=UNBOUNDED) as walk:
        for item in walk:
            try:
                if item.kind == "dir" or (item.kind == "leave" and not item.rel):
                    os.fchown(item.fd, uid, gid)
                elif item.kind != "leave":
                    os.chown(item.name, uid, gid, dir_fd=item.parent_fd, follow_symlinks=False)
            except FileNotFoundError:  # removed meanwhile (the candidate's own files, or a temp file)
                continue


def hand_over(root: Path, uid: int) -> None:
    """As root, give ``root`` and everything in it to ``uid`` (and group ``uid``), race-free like
    :func:`chown_tree`. Not root: nothing to do, every file is already the caller's (and a sandbox
    or container then runs as the caller)."""
    if os.geteuid() == 0:
        chown_tree(root, uid, uid)

"""Candidate workspaces: creation from a scaffold, the session marker, and snapshots."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO, NoReturn

from pitfalls.core.errors import WorkspaceError, storage_error
from pitfalls.core.store import ELSEWHERE, STATE_FOLDER, home
from pitfalls.fs.safefs import Bounds, Walk, open_file, read_rel
from pitfalls.library.brief import render_brief, render_eda_notebook
from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.library.variant_spec import split_ref

MARKER = ".pitfalls.json"
RUNNER_NAMES = frozenset({"artifacts", MARKER})
"""Written for the candidate's code, not by it: the trained model's folder and the session marker."""
CACHE_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})
"""What Python and Jupyter write as code runs."""
TOOL_DIRS = frozenset({".git", ".venv"})
"""The candidate's tools (version control, a virtual environment), not their work."""
HOME_DIRS = frozenset({".local", ".cache", ".ipython", ".jupyter", ".config"})
"""What pip, IPython and JupyterLab may write in a live session's folders."""
NOT_THE_CANDIDATES = RUNNER_NAMES | CACHE_DIRS | TOOL_DIRS | HOME_DIRS | {"data"}
"""Names (at any depth) that views and diffs of a workspace leave out: the dashboard's file list
and the report's diff show the candidate's own files only."""
SANDBOX_SKIP = RUNNER_NAMES | CACHE_DIRS | TOOL_DIRS
"""Names (at any depth) a sandbox's copy of a workspace leaves out (runner/scoring/pipeline.py); the candidate's
tools too, as snapshots do, so probing a workspace sees what a submission of it would."""
SNAPSHOT_EXCLUDE_DIRS = {"artifacts"} | CACHE_DIRS | TOOL_DIRS
SNAPSHOT_EXCLUDE_FILES = {MARKER, "data/train.csv"}
MAX_SNAPSHOT_MB = 50
SNAPSHOT_BOUNDS = Bounds(max_entries=20_000, max_depth=32, max_seconds=30.0)
"""What a snapshot may hold: entries listed (excluded folders are not walked), folder depth, walk time."""
STREAM_BOUNDS = Bounds(max_entries=SNAPSHOT_BOUNDS.max_entries, max_depth=SNAPSHOT_BOUNDS.max_depth, max_seconds=300.0)


def create_workspace(*, scaffold: Scaffold, directory: Path, session_id: str, live: bool = False) -> None:
    """Fill ``directory`` with the candidate's starting files, training data, brief and notebook.

    Raises:
        WorkspaceError: ``directory`` exists and is not empty.
    """
    if directory.exists() and any(directory.iterdir()):
        raise WorkspaceError(f"The workspace folder must be new or empty. Got {directory} with files "
                             "in it instead. Pick another --dir, or resume it if it is a workspace.")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(scaffold.workspace_dir, directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    (directory / "artifacts").mkdir(exist_ok=True)
    write_training_data(scaffold=scaffold, directory=directory)
    (directory / "BRIEF.md").write_text(render_brief(scaffold, live=live))
    if not (directory / "eda.ipynb").exists():
        (directory / "eda.ipynb").write_text(render_eda_notebook(scaffold, live=live))
    (directory / MARKER).write_text(json.dumps(marker(scaffold, session_id, live=live)))


def marker(scaffold: Scaffold, session_id: str, *, live: bool = False) -> dict[str, str]:
    """What ``.pitfalls.json`` holds: the session and the scaffold's id; a practice workspace also
    where the scaffold came from (its folder and pack distribution). A live one names no host
    folder: the candidate reads it, and the session's record (the store) holds the source."""
    found = {"session_id": session_id, "scaffold": scaffold.name}
    if not live:
        found |= {"source": scaffold.source, "distribution": scaffold.distribution}
    return found


def create_workspace_cached(*, scaffold: str, directory: Path, session_id: str, live: bool = False,
                            source: str | None = None) -> None:
    """:func:`create_workspace` of the scaffold named ``scaffold``, from a cache of its starting files.

    Building a dataset and rendering the notebook take seconds (and the hooks import pandas and
    scikit-learn); a live session starts faster from a copy. The cache (``$PITFALLS_HOME/cache``)
    is keyed by the content of the scaffold's folder, its data seed and the code that makes the
    files, so any change rebuilds it. It holds only what the candidate gets: no held-out data. A
    variant (``NAME@vN``, drawn per session) is cached only when the host server prepared it ahead
    (runner/live/prepared.py): its one session takes the copy and removes it.
    """
    ref = load_scaffold(scaffold, source=source, hooks=False)  # the key needs no hooks
    variant = split_ref(scaffold)[1] is not None
    cached = cached_starter(scaffold, source=source, live=live, build=not variant)
    if directory.exists() and any(directory.iterdir()):
        raise WorkspaceError(f"The workspace folder must be new or empty. Got {directory} with files "
                             "in it instead. Pick another --dir, or resume it if it is a workspace.")
    if cached is not None and variant:  # prepared for one session: the first to rename it has it
        taken = cached.with_name(f".{cached.name}.taken-{os.getpid()}-{session_id}")
        try:
            cached.rename(taken)
        except OSError:
            taken = None
        cached = taken
    if cached is None:
        create_workspace(scaffold=load_scaffold(scaffold, source=source), directory=directory,
                         session_id=session_id, live=live)
        return
    shutil.copytree(cached, directory, dirs_exist_ok=True)
    (directory / MARKER).write_text(json.dumps(marker(ref, session_id, live=live)))
    if variant:
        shutil.rmtree(cached, ignore_errors=True)


def cached_starter(scaffold: str, *, source: str | None = None, live: bool = True, build: bool = True) -> Path | None:
    """The cached starting files of ``scaffold`` (an id, ``NAME@vN`` too), built now if missing and
    ``build``; None when missing and not ``build``."""
    ref = load_scaffold(scaffold, source=source, hooks=False)
    stem = ref.name.replace("/", "--")  # two packs' scaffolds of one name keep caches of their own
    cached = home() / "cache" / f"{stem}-{'live' if live else 'practice'}-{_starter_key(ref.root, ref.data_seed())}"
    if cached.is_dir() or not build:
        return cached if cached.is_dir() else None
    cached.parent.mkdir(parents=True, exist_ok=True)
    made = Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))
    create_workspace(scaffold=load_scaffold(scaffold, source=source), directory=made, session_id="", live=live)
    (made / MARKER).unlink()
    try:
        made.rename(cached)
    except OSError:  # another start built it meanwhile
        shutil.rmtree(made, ignore_errors=True)
    _prune_cache(cached)
    return cached


def _starter_key(root: Path, data_seed: int) -> str:
    """A hash of everything the starting files are made from: the scaffold, the dataset library
    (``pitfalls.datasets``), the derived data seed (as a hash: the secret stays out of file names)
    and the rendering code."""
    quirks = importlib.util.find_spec("pitfalls.datasets")
    sources = [root, *(Path(p) for p in (quirks.submodule_search_locations or []))] if quirks else [root]
    digest = hashlib.sha256()
    for base in sources:
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    from pitfalls.core.secret import seed_tag

    digest.update(seed_tag(data_seed).encode())
    for module in ("pitfalls.library.workspace", "pitfalls.library.brief", "pitfalls.library.scaffold"):
        spec = importlib.util.find_spec(module)
        digest.update(Path(spec.origin).read_bytes() if spec and spec.origin else module.encode())
    for dist in ("numpy", "pandas", "scikit-learn", "scipy", "nbformat"):  # the data can change with them
        try:
            digest.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(dist.encode())
    return digest.hexdigest()[:16]


def _prune_cache(keep: Path) -> None:
    """Remove the other versions of ``keep``'s scaffold and mode, and builds that were interrupted."""
    stem = keep.name.rsplit("-", 1)[0]
    for old in keep.parent.iterdir():
        if old != keep and (old.name.rsplit("-", 1)[0] == stem or old.name.startswith(f".{stem}-")):
            shutil.rmtree(old, ignore_errors=True)


def write_training_data(*, scaffold: Scaffold, directory: Path) -> None:
    """Write the pristine ``data/train.csv`` (the runner always trains on this copy)."""
    (directory / "data").mkdir(exist_ok=True)
    scaffold.dataset().train.to_csv(directory / "data" / "train.csv", index=False)


def read_marker(directory: Path) -> dict[str, str]:
    """The session id and scaffold of a workspace.

    Raises:
        WorkspaceError: not a pitfalls workspace.
    """
    marker = directory / MARKER
    try:
        got = read_rel(directory, MARKER, 2**16)  # no link followed: the candidate can replace it
        if got is None:
            raise FileNotFoundError(marker)
        data = json.loads(got[0])
        return {"session_id": str(data["session_id"]), "scaffold": str(data["scaffold"])}
    except FileNotFoundError:
        raise WorkspaceError(f"--dir must be a pitfalls workspace (a folder with {MARKER}). Got "
                             f"{directory} instead. Create one with `pitfalls practice NAME --dir "
                             f"{directory}`.") from None
    except (ValueError, KeyError, TypeError):
        raise WorkspaceError(f"{marker} must be the JSON written by `pitfalls practice`. Got a "
                             "damaged file instead; restore it from your session's first snapshot.") from None


def _included(rel: Path) -> bool:
    return not (set(rel.parts[:-1]) & SNAPSHOT_EXCLUDE_DIRS or rel.parts[0] in SNAPSHOT_EXCLUDE_DIRS
                or rel.as_posix() in SNAPSHOT_EXCLUDE_FILES)


def _pruned(rel: tuple[str, ...]) -> bool:
    return rel[-1] in SNAPSHOT_EXCLUDE_DIRS or "/".join(rel) in SNAPSHOT_EXCLUDE_FILES


def _too_big(total: int, biggest: tuple[int, str]) -> WorkspaceError:
    return WorkspaceError(f"A workspace must hold at most {MAX_SNAPSHOT_MB} MiB of files to submit. "
                          f"Got {total / 2**20:.1f} MiB instead; the largest is {biggest[1]}. "
                          "Move large outputs into artifacts/.")


def _too_many(why: str) -> WorkspaceError:
    b = SNAPSHOT_BOUNDS
    return WorkspaceError(f"A workspace must hold at most {b.max_entries} files and folders, nested at most "
                          f"{b.max_depth} folders deep, to submit. Got {why} instead. Remove generated "
                          "files or move them into artifacts/.")


def _check_size(directory: Path) -> None:
    """Refuse early (before writing anything) a workspace over the limits, from a first walk."""
    total, biggest = 0, (-1, "")
    with Walk(directory, bounds=SNAPSHOT_BOUNDS, prune=_pruned) as walk:
        for item in walk:
            if item.kind == "file":
                total += item.st.st_size
                biggest = max(biggest, (item.st.st_size, item.path))
    if walk.truncated:
        raise _too_many(walk.truncated)
    if total > MAX_SNAPSHOT_MB * 2**20:
        raise _too_big(total, biggest)


class _Exactly(io.RawIOBase):
    """Exactly ``size`` bytes of ``fd`` from where it is: cut if the file grew, zeros if it shrank."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        parts, got = [], 0
        while got < n:
            chunk = os.read(self.fd, n - got)
            if not chunk:  # shrank meanwhile: pad, so the member keeps the size archived
                parts.append(b"\0" * (n - got))
                break
            parts.append(chunk)
            got += len(chunk)
        self.left -= n
        return b"".join(parts)


def _archive(directory: Path, tar: tarfile.TarFile) -> None:
    """Stream the workspace's files into ``tar`` from descriptors opened without following links;
    each file's size is taken from ``fstat`` once, and the total is enforced as it goes."""
    total, biggest = 0, (-1, "")
    with Walk(directory, bounds=STREAM_BOUNDS, prune=_pruned) as walk:
        for item in walk:
            if item.kind != "file" or not _included(Path(*item.rel)) or (opened := open_file(item.parent_fd, item.name)) is None:
                continue
            fd, st = opened
            try:
                total += st.st_size
                biggest = max(biggest, (st.st_size, item.path))
                if total > MAX_SNAPSHOT_MB * 2**20:
                    raise _too_big(total, biggest)
                info = tarfile.TarInfo(item.path)
                info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), stat.S_IMODE(st.st_mode) & 0o755
                tar.addfile(info, _Exactly(fd, st.st_size))
            finally:
                os.close(fd)
    if walk.truncated:
        raise _too_many(walk.truncated)


class _Hashing(io.RawIOBase):
    """A write-only file that hashes what passes through it."""

    def __init__(self, out: io.BufferedWriter) -> None:
        self.out, self.sha = out, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha.update(data)
        return self.out.write(data)


def pack_workspace(*, directory: Path, fileobj: BinaryIO) -> None:
    """Write to ``fileobj`` the .tar.gz a submission's snapshot holds (the same files, limits and
    race-free reads as :func:`snapshot_workspace`), stored nowhere: preflight trains from it.

    Raises:
        WorkspaceError: the workspace is over the snapshot limits (size, files, depth).
    """
    _check_size(directory)
    with tarfile.open(fileobj=fileobj, mode="w:gz") as tar:
        _archive(directory, tar)


def snapshot_folder(session_id: str) -> Path:
    """Where the session's snapshots are written (and counted by :mod:`pitfalls.service.storage`)."""
    return home() / "snapshots" / session_id


def snapshot_workspace(*, directory: Path, session_id: str) -> tuple[Path, str]:
    """Archive the workspace (code, notebooks, notes; not artifacts or the pristine data).

    Files are read race-free (runner/fs/safefs.py: no link followed, regular files only, sizes from
    the descriptor read) and streamed to a temporary file; the archive is fsynced and renamed into
    place before this returns, so a recorded submission always has its snapshot. Returns (path, sha256).

    Raises:
        WorkspaceError: the workspace is over the snapshot limits (size, files, depth).
        StorageError: the state folder is full or read-only (no partial file is left behind).
    """
    _check_size(directory)
    folder = snapshot_folder(session_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    except OSError as exc:
        _raise_storage(exc, folder)
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = _Hashing(raw)
            with tarfile.open(fileobj=hashing, mode="w:gz") as tar:  # type: ignore[call-overload]
                _archive(directory, tar)
            raw.flush()
            os.fsync(raw.fileno())
        digest = hashing.sha.hexdigest()
        final = folder / f"{digest[:16]}.tar.gz"
        os.replace(tmp, final)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        _raise_storage(exc, folder)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final, digest


def _raise_storage(exc: OSError, folder: Path) -> NoReturn:
    """Raise the state folder's StorageError for a full or read-only disk, else ``exc`` itself."""
    err = storage_error(exc, folder=folder.parent.parent, what=STATE_FOLDER, how=ELSEWHERE)
    if err is None:
        raise exc
    raise err from exc


def extract_snapshot(*, snapshot: Path, target: Path) -> None:
    """Unpack a snapshot into ``target`` (which must exist): regular files and folders only, at most
    :data:`MAX_SNAPSHOT_MB` MiB unpacked and :data:`SNAPSHOT_BOUNDS` members and depth.

    Raises:
        WorkspaceError: the snapshot breaks those bounds or is damaged (nothing past them is written).
    """
    total, limit = 0, MAX_SNAPSHOT_MB * 2**20
    try:
        with tarfile.open(snapshot, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                total += member.size
                why = ("a link or special file" if not (member.isfile() or member.isdir()) or member.issparse()
                       else f"more than {SNAPSHOT_BOUNDS.max_entries} members" if count > SNAPSHOT_BOUNDS.max_entries
                       else f"more than {MAX_SNAPSHOT_MB} MiB unpacked" if total > limit
                       else "a path nested too deep" if member.name.count("/") > SNAPSHOT_BOUNDS.max_depth + 1
                       else None)
                if why:
                    raise WorkspaceError(f"A snapshot must hold only regular files and folders, at most "
                                         f"{MAX_SNAPSHOT_MB} MiB and {SNAPSHOT_BOUNDS.max_entries} members. Got "
                                         f"{why} ({member.name[:200]!r}) in {snapshot} instead; it was not "
                                         "unpacked further. Submit again from the workspace.")
                tar.extract(member, target, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise WorkspaceError(f"A snapshot must be a readable .tar.gz. Got {snapshot} damaged instead "
                             f"({type(exc).__name__}: {str(exc)[:200]}). Submit again from the workspace.") from None

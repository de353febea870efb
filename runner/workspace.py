"""Candidate workspaces: creation from a scaffold, the session marker, and snapshots."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from .brief import render_brief, render_eda_notebook
from .errors import WorkspaceError, storage_error
from .scaffold import Scaffold, load_scaffold, scaffold_path
from .store import ELSEWHERE, STATE_FOLDER, home

MARKER = ".pitfalls.json"
SNAPSHOT_EXCLUDE_DIRS = {"artifacts", "__pycache__", ".ipynb_checkpoints", ".git", ".venv"}
SNAPSHOT_EXCLUDE_FILES = {MARKER, "data/train.csv"}
MAX_SNAPSHOT_MB = 50


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
    (directory / MARKER).write_text(json.dumps({"session_id": session_id, "scaffold": scaffold.name}))


def create_workspace_cached(*, scaffold: str, directory: Path, session_id: str, live: bool = False) -> None:
    """:func:`create_workspace` of the scaffold named ``scaffold``, from a cache of its starting files.

    Building a dataset and rendering the notebook take seconds (and the hooks import pandas and
    scikit-learn); a live session starts faster from a copy. The cache (``$PITFALLS_HOME/cache``)
    is keyed by the content of the scaffold's folder and of the code that makes the files, so
    any change rebuilds it. It holds only what the candidate gets: no held-out data.
    """
    root = scaffold_path(scaffold)
    cached = home() / "cache" / f"{root.name}-{'live' if live else 'practice'}-{_starter_key(root)}"
    if not cached.is_dir():
        cached.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))
        create_workspace(scaffold=load_scaffold(root), directory=build, session_id="", live=live)
        (build / MARKER).unlink()
        try:
            build.rename(cached)
        except OSError:  # another start built it meanwhile
            shutil.rmtree(build, ignore_errors=True)
        _prune_cache(cached)
    if directory.exists() and any(directory.iterdir()):
        raise WorkspaceError(f"The workspace folder must be new or empty. Got {directory} with files "
                             "in it instead. Pick another --dir, or resume it if it is a workspace.")
    shutil.copytree(cached, directory, dirs_exist_ok=True)
    (directory / MARKER).write_text(json.dumps({"session_id": session_id, "scaffold": root.name}))


def _starter_key(root: Path) -> str:
    """A hash of everything the starting files are made from: the scaffold, the dataset library
    (``pitfalls.quirks``), the derived data seed (as a hash: the secret stays out of file names)
    and the rendering code."""
    quirks = importlib.util.find_spec("pitfalls.quirks")
    sources = [root, *(Path(p) for p in (quirks.submodule_search_locations or []))] if quirks else [root]
    digest = hashlib.sha256()
    for base in sources:
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    from .manifest import load_manifest
    from .secret import derive_seed, seed_tag

    digest.update(seed_tag(derive_seed(load_manifest(root / "scaffold.toml").dataset_seed)).encode())
    for module in ("pitfalls.workspace", "pitfalls.brief", "pitfalls.scaffold"):
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
        data = json.loads(marker.read_text())
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


def _regular_files(directory: Path) -> list[Path]:
    """Every regular file under ``directory``; symlinks (to files or folders) are never followed."""
    found = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
        found += [Path(root, f) for f in files if not os.path.islink(os.path.join(root, f))
                  and os.path.isfile(os.path.join(root, f))]
    return found


def snapshot_workspace(*, directory: Path, session_id: str) -> tuple[Path, str]:
    """Archive the workspace (code, notebooks, notes; not artifacts or the pristine data).

    The archive is fsynced and renamed into place before this returns, so a recorded
    submission always has its snapshot. Returns (path, sha256).

    Raises:
        WorkspaceError: the workspace is larger than the snapshot limit.
        StorageError: the state folder is full or read-only (no partial file is left behind).
    """
    files = sorted(p for p in _regular_files(directory) if _included(p.relative_to(directory)))
    total = sum(p.stat().st_size for p in files)
    if total > MAX_SNAPSHOT_MB * 2**20:
        biggest = max(files, key=lambda p: p.stat().st_size)
        raise WorkspaceError(f"A workspace must hold at most {MAX_SNAPSHOT_MB} MiB of files to submit. "
                             f"Got {total / 2**20:.1f} MiB instead; the largest is "
                             f"{biggest.relative_to(directory)}. Move large outputs into artifacts/.")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in files:
            tar.add(p, arcname=p.relative_to(directory).as_posix(), recursive=False)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    folder = home() / "snapshots" / session_id
    final = folder / f"{digest[:16]}.tar.gz"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_durably(folder, final, data)
    except OSError as exc:
        err = storage_error(exc, folder=folder.parent.parent, what=STATE_FOLDER, how=ELSEWHERE)
        if err is None:
            raise
        raise err from exc
    return final, digest


def _write_durably(folder: Path, final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` through a fsynced temporary file; remove it if anything fails."""
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def extract_snapshot(*, snapshot: Path, target: Path) -> None:
    """Unpack a snapshot into ``target`` (which must exist), refusing unsafe member paths."""
    with tarfile.open(snapshot, "r:gz") as tar:
        tar.extractall(target, filter="data")

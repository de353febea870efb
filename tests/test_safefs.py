"""Trusted readers of candidate trees (runner/fs/safefs.py and its users) under a prepared candidate's attacks:
a folder swapped for a link between listing and reading, FIFOs, deep chains, floods of files, growing
and sparse files, malformed notebooks. Each race has a positive control: a naive reader under the same
swapping does read the secret."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from pitfalls.core.errors import WorkspaceError
from pitfalls.fs import removal, safecopy, safefs, workspace_view
from pitfalls.library import workspace
from pitfalls.live.report import _files, _notebook_text
from pitfalls.live.server.service import FILES_BOUNDS, HIDDEN_PARTS, _cells

SECRET = "TOPSECRET-host-session-json"
SWAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print("ready", flush=True)
while True:
    libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: folder <-> link, atomically
"""


def _tree(tmp_path: Path, target: str) -> tuple[Path, Path]:
    """ws/d/SECRET.txt ("mine") and ws/.swap -> ``target`` (the host folder holding the secret)."""
    outside, ws = tmp_path / "outside", tmp_path / "ws"
    outside.mkdir()
    (outside / "SECRET.txt").write_text(SECRET)
    (ws / "d").mkdir(parents=True)
    (ws / "d" / "SECRET.txt").write_text("mine")
    (ws / "train.py").write_text("print('hi')\n")
    os.symlink(target, ws / ".swap")
    return ws, outside


@pytest.fixture(params=["../outside", "absolute"])
def swapping(request, tmp_path):
    """A candidate's workspace whose folder ``d`` is exchanged with a link to the secret's folder in a
    tight loop by another process (relative ``..`` link and absolute link)."""
    target = "../outside" if request.param == "../outside" else str(tmp_path / "outside")
    ws, _ = _tree(tmp_path, target)
    proc = subprocess.Popen([sys.executable, "-c", SWAPPER, str(ws / "d"), str(ws / ".swap")],
                            stdout=subprocess.PIPE, text=True)
    try:  # the swapper spins at 100% CPU: it must end even if it never says it is ready
        assert proc.stdout.readline().strip() == "ready"
        yield ws
    finally:
        proc.kill()
        proc.wait()


def _naive(ws: Path) -> str:
    out = []
    for root, _, files in os.walk(ws):
        for f in files:
            try:
                out.append(Path(root, f).read_text())
            except OSError:
                pass
    return "".join(out)


def _hits(read, seconds: float = 1.5) -> tuple[int, int]:
    """(runs, runs whose output held the secret) of ``read()`` for ``seconds``."""
    runs = hits = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        runs += 1
        hits += SECRET in read()
    return runs, hits


def test_the_swap_attack_works_on_a_naive_reader(swapping):
    """Positive control: the old check-then-use reading does leak the host file under this swapping."""
    runs, hits = _hits(lambda: _naive(swapping), seconds=3.0)
    assert hits > 0, f"the swapper never won in {runs} runs: the race tests below would prove nothing"


def test_snapshots_never_hold_a_file_outside_the_workspace(swapping, tmp_path, monkeypatch):
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))

    def snap() -> str:
        path, _ = workspace.snapshot_workspace(directory=swapping, session_id="s")
        with tarfile.open(path) as tar:
            text = "".join(tar.extractfile(m).read().decode() for m in tar if m.isfile())
        path.unlink()
        return text

    runs, hits = _hits(snap)
    assert hits == 0 and runs > 20, (runs, hits)


def test_the_file_view_and_the_report_never_read_outside(swapping):
    def view() -> str:
        got = workspace_view.read_text(swapping, "d/SECRET.txt", 2**16)
        return got[0] if got else ""

    def report() -> str:
        return "".join(_files(swapping).values())

    for read in (view, report):
        runs, hits = _hits(read, seconds=1.0)
        assert hits == 0 and runs > 20, (read.__name__, runs, hits)


def test_copies_and_ownership_changes_never_reach_outside(swapping, tmp_path):
    outside = tmp_path / "outside" / "SECRET.txt"
    owner = outside.stat().st_uid
    n = 0

    def copy(exact: bool) -> str:
        nonlocal n
        n += 1
        dst = tmp_path / f"copy{n}"
        dst.mkdir()
        safecopy.copy_tree(swapping, dst, exact=exact)
        text = "".join(p.read_text() for p in dst.rglob("*") if p.is_file() and not p.is_symlink())
        removal.remove_tree(dst)
        return text

    for exact in (False, True):
        runs, hits = _hits(lambda exact=exact: copy(exact), seconds=1.0)
        assert hits == 0 and runs > 10, (exact, runs, hits)
    if os.geteuid() == 0:
        for _ in range(50):
            safecopy.chown_tree(swapping, 4242, 4242)
        assert outside.stat().st_uid == owner


@pytest.fixture
def fast_tmp(tmp_path):
    """A folder on tmpfs when there is one (creating and removing 125,000 files on a busy disk takes
    far longer than what is measured here)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    import tempfile
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="pitfalls-test-"))
    yield folder
    removal.remove_tree(folder, ignore_errors=True)


def _fifo_ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("x = 1\n")
    os.mkfifo(ws / "notes.md")
    return ws


def test_a_fifo_blocks_no_reader(tmp_path, monkeypatch):
    """A FIFO in place of a file (no writer): every reader goes on without opening it for a blocking read."""
    ws = _fifo_ws(tmp_path)
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))
    results: dict[str, object] = {}

    def run() -> None:
        results["view"] = workspace_view.read_text(ws, "notes.md", 2**16)
        results["report"] = _files(ws)
        results["snapshot"] = workspace.snapshot_workspace(directory=ws, session_id="s")
        (tmp_path / "c").mkdir()
        safecopy.copy_tree(ws, tmp_path / "c", exact=True)
        results["copied"] = os.path.exists(tmp_path / "c" / "notes.md")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "a reader blocked on the FIFO"
    assert results["view"] is None and set(results["report"]) == {"train.py"} and results["copied"]
    with tarfile.open(results["snapshot"][0]) as tar:
        assert tar.getnames() == ["train.py"]


def deep_chain(root: Path, depth: int) -> None:
    """A chain of ``depth`` folders of 40-character names under ``root``, with bottom.txt at its end
    (made relative to descriptors: the path is far past PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d" * 40, dir_fd=fd)
        nxt = os.open("d" * 40, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(os.open("bottom.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)


def test_a_1100_deep_chain_is_handled_within_bounds(fast_tmp, monkeypatch, record_property):
    """Far past PATH_MAX and Python's recursion limit: listings stop at their depth, snapshots refuse
    it clearly, the quota copy keeps all of it, removal and chown get all of it."""
    ws = fast_tmp / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("x = 1\n")
    deep_chain(ws, 1100)
    monkeypatch.setenv("PITFALLS_HOME", str(fast_tmp / "home"))
    t0 = time.monotonic()
    files, why = workspace_view.list_files(ws, hidden=HIDDEN_PARTS, bounds=FILES_BOUNDS)
    assert [f["path"] for f in files] == ["train.py"] and "levels deep" in why
    assert "[not all files read]" in _files(ws)
    with pytest.raises(WorkspaceError, match="nested at most 32 folders deep"):
        workspace.snapshot_workspace(directory=ws, session_id="s")
    t_read = time.monotonic() - t0
    copy = fast_tmp / "copy"
    copy.mkdir()
    safecopy.copy_tree(ws, copy, exact=True)
    safecopy.chown_tree(copy, os.geteuid(), os.getegid())
    with safefs.Walk(copy, bounds=safefs.UNBOUNDED) as walk:
        assert sum(i.kind == "dir" for i in walk) == 1100 and walk.truncated is None
    removal.remove_tree(copy)
    removal.remove_tree(ws)
    t_all = time.monotonic() - t0
    record_property("deep_chain_seconds", (round(t_read, 3), round(t_all, 3)))
    print(f"1100-deep chain: listing+report+snapshot {t_read:.3f} s; copy+chown+walk+remove total {t_all:.3f} s")
    assert not ws.exists() and not copy.exists() and t_read < 2 and t_all < 30


def test_125000_empty_files_are_listed_within_bounds_quickly(fast_tmp, monkeypatch):
    ws = fast_tmp / "ws"
    ws.mkdir()
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(125_000):
        os.close(os.open(f"f{i}", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    monkeypatch.setenv("PITFALLS_HOME", str(fast_tmp / "home"))
    t0 = time.monotonic()
    files, why = workspace_view.list_files(ws, hidden=HIDDEN_PARTS, bounds=FILES_BOUNDS)
    t_list = time.monotonic() - t0
    assert len(files) == FILES_BOUNDS.max_entries and why == f"more than {FILES_BOUNDS.max_entries} entries"
    t0 = time.monotonic()
    with pytest.raises(WorkspaceError, match="at most 20000 files and folders"):
        workspace.snapshot_workspace(directory=ws, session_id="s")
    report = _files(ws)
    t_rest = time.monotonic() - t0
    print(f"125,000 empty files: one listing {t_list:.3f} s; snapshot refusal + report {t_rest:.3f} s")
    assert "[not all files read]" in report and t_list < 0.5 and t_rest < 3


def test_a_file_that_grows_while_archived_is_cut_at_its_size(tmp_path):
    path = tmp_path / "grow.bin"
    path.write_bytes(b"a" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = workspace._Exactly(fd, 1000)
        with open(path, "ab") as f:
            f.write(b"b" * 10_000)  # grew after its size was taken
        data = reader.read(-1) + reader.read(10)
        assert data == b"a" * 1000
        os.lseek(fd, 0, os.SEEK_SET)
        got, cut = safefs.read_fd(fd, 4096)
        assert len(got) == 4096 and cut
    finally:
        os.close(fd)


def test_the_snapshot_total_is_enforced_while_streaming(tmp_path, monkeypatch):
    """A file grows past the limit between the size check and the archive: refused, no partial file."""
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(workspace, "MAX_SNAPSHOT_MB", 1)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.bin").write_bytes(b"x" * 600_000)
    (ws / "b.bin").write_bytes(b"y" * 10)
    real = workspace._check_size

    def check_then_grow(directory: Path) -> None:
        real(directory)
        with open(ws / "b.bin", "ab") as f:  # the candidate's timed write
            f.write(b"y" * 3_000_000)

    monkeypatch.setattr(workspace, "_check_size", check_then_grow)
    with pytest.raises(WorkspaceError, match="at most 1 MiB"):
        workspace.snapshot_workspace(directory=ws, session_id="s")
    assert list((tmp_path / "home" / "snapshots" / "s").iterdir()) == []


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    for k, v in kw.items():
        setattr(info, k, v)
    return info


@pytest.mark.parametrize("case", ["too big", "sparse", "symlink", "device", "too many", "too deep"])
def test_extraction_is_bounded(tmp_path, monkeypatch, case):
    monkeypatch.setattr(workspace, "MAX_SNAPSHOT_MB", 1)
    monkeypatch.setattr(workspace, "SNAPSHOT_BOUNDS", safefs.Bounds(max_entries=50, max_depth=32))
    zeros = 3 * 2**20
    members = {
        "too big": [(_info("ok.txt", 3), b"abc"), (_info("zeros.bin", zeros), b"\0" * zeros)],
        "sparse": [(_info("huge.bin", 0, tarfile.GNUTYPE_SPARSE), None)],
        "symlink": [(_info("link", 0, tarfile.SYMTYPE, linkname="/etc/passwd"), None)],
        "device": [(_info("dev", 0, tarfile.CHRTYPE, devmajor=1, devminor=3), None)],
        "too many": [(_info(f"f{i}"), b"") for i in range(workspace.SNAPSHOT_BOUNDS.max_entries + 1)],
        "too deep": [(_info("a/" * 40 + "f"), b"")],
    }[case]
    snap = tmp_path / "s.tar.gz"
    snap.write_bytes(_tar(members))
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(WorkspaceError, match="A snapshot must hold only regular files and folders"):
        workspace.extract_snapshot(snapshot=snap, target=target)
    written = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    assert written <= 2**20 and not (target / "zeros.bin").exists() and not (target / "link").is_symlink()


def test_a_damaged_snapshot_is_a_clear_error(tmp_path):
    snap = tmp_path / "s.tar.gz"
    snap.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(WorkspaceError, match="must be a readable .tar.gz"):
        workspace.extract_snapshot(snapshot=snap, target=tmp_path)


MALFORMED = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "list of ints": "[1, 2, 3]",
    "cells not a list": '{"cells": 5}',
    "not json": '{"cells": [',
    "wrong types": '{"cells": [5, {"cell_type": 3, "source": 7, "outputs": [1, [2], {"text": 3}, '
                   '{"data": [1]}, {"data": {"text/plain": {"x": 1}}}]}, {"source": ["a", 1, "b"], "outputs": {}}]}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_notebooks_give_a_clear_message(name):
    text = MALFORMED[name]
    cells = _cells(text)
    diff_text = _notebook_text(text)
    if name == "wrong types":
        assert [c["source"] for c in cells] == ["", "ab"] and cells[0]["outputs"] == ["", "", "", "", ""]
        assert cells[0]["type"] == "raw"
    else:
        assert cells[0]["source"].startswith("cannot display this notebook: ") and len(cells) == 1
        assert diff_text.startswith("# cannot display this notebook: ")


def test_a_real_notebook_still_shows_its_cells():
    nb = ('{"cells": [{"cell_type": "code", "source": ["import pandas\\n", "df = 1"], '
          '"outputs": [{"output_type": "stream", "text": ["ok\\n"]}]}], "nbformat": 4}')
    assert _cells(nb) == [{"type": "code", "source": "import pandas\ndf = 1", "outputs": ["ok\n"]}]
    assert _notebook_text(nb) == "# %% [code]\nimport pandas\ndf = 1\n"


def test_remove_tree_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    os.symlink(outside, ws / "sub" / "link")
    os.symlink(outside, ws / "top-link")
    os.mkfifo(ws / "fifo")
    removal.remove_tree(ws)
    assert not ws.exists() and (outside / "keep").read_text() == "keep"
    removal.remove_tree(ws)  # a missing tree is fine


def test_open_rel_refuses_links_and_dots(tmp_path):
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    (tmp_path / "ws" / "sub" / "f").write_text("f")
    (tmp_path / "secret").write_text(SECRET)
    os.symlink(tmp_path, tmp_path / "ws" / "up")
    os.symlink(tmp_path / "secret", tmp_path / "ws" / "s")
    ws = tmp_path / "ws"
    assert safefs.read_rel(ws, "sub/f", 10) == (b"f", False)
    for rel in ("up/secret", "s", "../secret", "sub/../../secret", "/etc/passwd", "", "sub//f"):
        assert safefs.read_rel(ws, rel, 100) is None, rel


def test_the_notebook_depth_check_is_linear():
    """Escaped quotes that never close made a string-stripping regex rescan the text from every quote."""
    for raw in ('"' + '\\"' * 200_000, "[" * 500_000, '"' * 500_000, "[]" * 250_000):
        t0 = time.monotonic()
        _cells(raw)
        assert time.monotonic() - t0 < 2, raw[:10]
    assert workspace_view.json_depth(b'[["[[[",{"a":[1]}]]') == 4


def test_a_name_with_a_nul_is_not_found(tmp_path):
    assert workspace_view.read_text(tmp_path, "a\0b", 10) is None


def test_names_that_are_not_utf8_are_shown_as_text(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    fd = os.open(bytes(ws) + b"/bad\xff.py", os.O_CREAT | os.O_WRONLY)
    os.write(fd, b"y")
    os.close(fd)
    files, _ = workspace_view.list_files(ws, hidden=HIDDEN_PARTS, bounds=FILES_BOUNDS)
    assert [f["path"] for f in files] == ["bad\ufffd.py"]
    assert list(_files(ws)) == ["bad\ufffd.py"]
    "".join(_files(ws)).encode("utf-8")  # the report can be written
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))
    snap, _ = workspace.snapshot_workspace(directory=ws, session_id="s")
    out = tmp_path / "out"
    out.mkdir()
    workspace.extract_snapshot(snapshot=snap, target=out)
    assert os.listdir(bytes(out)) == [b"bad\xff.py"]  # the snapshot keeps the name exactly

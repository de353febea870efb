"""Size-limited folders (runner/sandbox/quota.py): real ext4 images, loop-mounted as root."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pitfalls.fs import removal, safefs
from pitfalls.sandbox import quota
from test_safefs import deep_chain

pytestmark = pytest.mark.skipif(not quota.available(), reason="bounded folders need root and loop devices")


def _fill(folder: Path, mib: int) -> tuple[int, int | None]:
    """Write 1 MiB files until ``mib`` MiB or an error; return (MiB written, errno)."""
    for n in range(mib):
        try:
            (folder / f"f{n}").write_bytes(b"\1" * 2**20)
        except OSError as exc:
            return n, exc.errno
    return mib, None


def test_a_bounded_folder_stops_writes_at_its_size_and_goes_away():
    with quota.bounded_folder(size_mb=16) as folder:
        assert quota.is_mounted(folder) and oct(folder.stat().st_mode)[-3:] == "700"
        assert os.listdir(folder) == []  # no lost+found for the candidate to wonder about
        written, err = _fill(folder, 64)
        assert err == errno.ENOSPC and 10 <= written <= 16, (written, err)
        top = folder.parent
    assert not top.exists() and not quota.is_mounted(folder)


def test_the_image_takes_only_what_was_written():
    with quota.bounded_folder(size_mb=4096) as folder:
        (folder / "x").write_bytes(b"\1" * 2**20)
        used = os.stat(folder.parent / "disk.img").st_blocks * 512
        assert used < 64 * 2**20, used


def test_folders_of_killed_runners_are_swept(tmp_path):
    code = ("import os, signal, time; from pitfalls.sandbox import quota\n"
            "with quota.bounded_folder(size_mb=8) as f:\n"
            "    print(f, flush=True); os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    folder = Path(proc.stdout.strip())
    assert proc.returncode == -9 and quota.is_mounted(folder), proc
    assert quota.sweep_stale() >= 1
    assert not folder.parent.exists() and not quota.is_mounted(folder)


def test_a_live_folder_is_not_swept():
    with quota.bounded_folder(size_mb=8) as folder:
        quota.sweep_stale()
        assert quota.is_mounted(folder)


def test_release_keeps_files_owners_and_links(tmp_path):
    path, image = tmp_path / "work space", tmp_path / "work.img"
    quota.bound(path, image, size_mb=16, owner=1000)
    quota.mount_image(image, path)  # a second mount is a no-op
    assert quota.is_mounted(path) and list(path.iterdir()) == []
    (path / "sub").mkdir()
    (path / "sub" / "a.txt").write_text("kept")
    os.chown(path / "sub" / "a.txt", 1000, 1000)
    (path / "link").symlink_to("/etc/passwd")
    quota.release(path, image)
    assert not quota.is_mounted(path) and not image.exists()
    assert (path / "sub" / "a.txt").read_text() == "kept"
    assert (path / "sub" / "a.txt").stat().st_uid == 1000 and path.stat().st_uid == 1000
    assert os.readlink(path / "link") == "/etc/passwd" and not (path / "lost+found").exists()
    quota.release(path, image)  # repeating is harmless


def test_a_failed_mount_says_what_to_fix(tmp_path):
    bad = tmp_path / "not-an-image"
    bad.write_bytes(b"nothing")
    with pytest.raises(quota.QuotaError, match=r"must succeed.*Got exit .*Fix: run as root"):
        quota.mount_image(bad, tmp_path / "mnt")


def test_the_stale_sweep_ignores_other_folders():
    other = Path(tempfile.mkdtemp(prefix="pitfalls-job-notapid-"))
    try:
        quota.sweep_stale()
        assert other.exists()
    finally:
        other.rmdir()


def _bounded_workspace(tmp_path: Path) -> tuple[Path, Path]:
    path, image = tmp_path / "workspace", tmp_path / "workspace.img"
    path.mkdir()
    (path / "notes.md").write_text("mine")
    quota.bound(path, image, size_mb=16, owner=1000)
    assert quota.is_mounted(path) and (path / "notes.md").read_text() == "mine"
    return path, image


def test_release_after_a_reboot_keeps_the_files(tmp_path):
    """A reboot unmounts the workspace and leaves the empty mount point: the image still has it all."""
    path, image = _bounded_workspace(tmp_path)
    quota.unmount(path)
    assert list(path.iterdir()) == []
    quota.release(path, image)
    assert (path / "notes.md").read_text() == "mine" and not image.exists() and not quota.is_mounted(path)


def test_release_interrupted_after_the_copy_is_finished_by_repeating_it(tmp_path):
    path, image = _bounded_workspace(tmp_path)
    staged = tmp_path / ".workspace.released"
    subprocess.run(["cp", "-a", str(path), str(staged)], check=True)
    quota.unmount(path)
    path.rmdir()
    staged.rename(path)  # killed here: the copy is in place, the image not yet removed
    quota.release(path, image)
    assert (path / "notes.md").read_text() == "mine" and not image.exists()


def test_bound_interrupted_during_its_copy_is_finished_by_repeating_it(tmp_path):
    path, image = tmp_path / "workspace", tmp_path / "workspace.img"
    path.mkdir()
    (path / "notes.md").write_text("mine")
    scratch, staging = tmp_path / "workspace.img.new", tmp_path / ".workspace.staging"
    quota.make_image(scratch, size_mb=16)
    quota.mount_image(scratch, staging)  # killed here: the staging mount outlives the process
    quota.bound(path, image, size_mb=16, owner=1000)
    assert quota.is_mounted(path) and (path / "notes.md").read_text() == "mine"
    assert not quota.is_mounted(staging) and not scratch.exists()
    quota.release(path, image)


def test_the_stale_sweep_does_not_follow_a_look_alike(tmp_path):
    """Anyone may create /tmp/pitfalls-job-<dead pid>-x with fs -> a mount point: root must not unmount it."""
    target = tmp_path / "victim"
    quota.make_image(tmp_path / "victim.img", size_mb=8)
    quota.mount_image(tmp_path / "victim.img", target)
    fake = Path(tempfile.gettempdir()) / "pitfalls-job-999999999-fake"
    fake.mkdir(mode=0o700)
    (fake / "fs").symlink_to(target)
    try:
        quota.sweep_stale()
        assert quota.is_mounted(target) and fake.exists()
    finally:
        (fake / "fs").unlink()
        fake.rmdir()
        quota.unmount(target)


def test_release_and_bound_copy_deep_sparse_fifo_and_hard_links_without_blowing_up(tmp_path):
    """What a candidate can leave in a bounded workspace: a 1,100-deep chain (past PATH_MAX: `cp -a`
    failed on it), a FIFO (must not block), a 1 TiB sparse file (must stay sparse on the host) and 50
    hard links to one file (must stay one file)."""
    path, image = _bounded_workspace(tmp_path)
    deep_chain(path, 1100)
    os.mkfifo(path / "fifo")
    with open(path / "sparse", "wb") as f:
        f.truncate(2**40)
    (path / "big").write_bytes(b"\1" * 2**20)
    for i in range(50):
        os.link(path / "big", path / f"link{i}")
    quota.release(path, image)
    assert not quota.is_mounted(path) and (path / "fifo").is_fifo()
    assert os.stat(path / "sparse").st_size == 2**40 and os.stat(path / "sparse").st_blocks < 64
    assert os.stat(path / "big").st_nlink == 51 and (path / "link7").read_bytes() == b"\1" * 2**20
    quota.bound(path, image, size_mb=16, owner=1000)  # and back onto an image (resume)
    assert quota.is_mounted(path) and os.stat(path / "big").st_nlink == 51
    with safefs.Walk(path, bounds=safefs.UNBOUNDED) as walk:
        assert [i.path.count("/") for i in walk if i.kind == "file" and i.name == "bottom.txt"] == [1100]
    quota.release(path, image)
    removal.remove_tree(path)  # pytest's own clean-up of old tmp folders recurses and cannot remove the chain

"""Size-limited folders (runner/quota.py): real ext4 images, loop-mounted as root."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pitfalls import quota

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
    code = ("import os, signal, time; from pitfalls import quota\n"
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
    quota.make_image(image, size_mb=16, owner=1000)
    quota.mount_image(image, path)
    quota.mount_image(image, path)  # a second mount is a no-op
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

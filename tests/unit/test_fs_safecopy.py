"""hand_over: a tree given to a sandbox's or container's uid, race-free, never following a link."""

from __future__ import annotations

import os

import pytest

from pitfalls.fs.jobfiles import prepare_dir
from pitfalls.fs.safecopy import hand_over

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


@root_only
def test_every_entry_changes_owner_but_a_links_target_does_not(tmp_path):
    host = tmp_path / "host.txt"
    host.write_text("the runner's")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f.py").write_text("x = 1")
    (tree / "link").symlink_to(host)  # planted: must not hand the host file over
    hand_over(tree, 4242)
    for path in (tree, tree / "a", tree / "a" / "b", tree / "a" / "b" / "f.py", tree / "link"):
        assert (path.lstat().st_uid, path.lstat().st_gid) == (4242, 4242), path
    assert host.stat().st_uid == 0


def test_prepare_dir_creates_the_folder(tmp_path):
    prepare_dir(tmp_path / "job" / "out", os.geteuid())
    assert (tmp_path / "job" / "out").is_dir()

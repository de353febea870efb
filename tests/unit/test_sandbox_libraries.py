"""What of the trusted Python a sandbox mounts (runner/sandbox/libraries.py) and where the candidate
image is built from (runner/live/containers.py image_context). The end-to-end proof, a wheel
install whose sandbox sees its layered libraries and nothing of pitfalls, is tests/test_wheel_install.py."""

from __future__ import annotations

import os

import pytest

from conftest import REPO
from pitfalls.core.resources import checkout, pitfalls_folders
from pitfalls.live.containers import ContainerError, image_context
from pitfalls.sandbox.bwrap import _python_mounts
from pitfalls.sandbox.libraries import pth_paths, refused, secrets_inside


def test_pth_paths_reads_path_lines_as_site_does(tmp_path):
    site, libs, other = tmp_path / "site", tmp_path / "libs", tmp_path / "other"
    for d in (site, libs, other):
        d.mkdir()
    (site / "a.pth").write_text(f"# a comment\n\n{libs}\nimport sys; print('never run')\n../other\n/absent/dir\n")
    (site / "b.pth").write_text(f"{libs}\n")  # a repeat is added once
    (site / "c.txt").write_text(f"{tmp_path}\n")  # not a .pth file
    assert pth_paths(site) == [str(libs), str(other)]


def test_checkout_and_pitfalls_folders_are_never_mounted(tmp_path):
    """A .pth line naming the checkout, a folder above it, or a folder inside the package (also
    through a symlink) is refused; an unrelated folder is not."""
    root = checkout()
    assert root == REPO.resolve()  # the tests run from the editable checkout
    link = tmp_path / "link"
    link.symlink_to(REPO / "scaffolds" / "tumor_triage")
    for path in (str(root), str(root.parent), str(REPO / "runner" / "sandbox"), str(link), "/"):
        assert refused(path), path
    assert refused(str(tmp_path)) is None
    assert refused(os.path.join(str(root), ".venv")) is None  # the dev venv lives in the checkout


def test_pitfalls_inside_a_mounted_folder_is_hidden(tmp_path):
    """A folder that holds pitfalls' files (site-packages of a wheel install) gets them hidden,
    with pitfalls' dist-info (its file list); a folder holding none hides nothing."""
    (tmp_path / "pitfalls-0.1.0.dist-info").mkdir()
    (tmp_path / "numpy-2.0.dist-info").mkdir()
    assert secrets_inside(str(tmp_path)) == [str(tmp_path / "pitfalls-0.1.0.dist-info")]
    above = str(REPO.parent)
    hidden = secrets_inside(above)
    assert sorted(hidden) == sorted(str(f) for f in pitfalls_folders()), hidden


def test_the_dev_venv_sandbox_view_is_unchanged_but_for_pitfalls_dist_info():
    """In the editable checkout the prefixes are mounted as before and nothing of the checkout."""
    args = _python_mounts(set())
    binds = [args[i + 2] for i, a in enumerate(args) if a == "--ro-bind"]
    assert binds and not [b for b in binds if b == str(REPO) or (REPO / "runner").as_posix() in b]
    tmpfs = [args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"]
    assert any(t.endswith("sklearn/datasets/data") for t in tmpfs), tmpfs


def test_image_context_is_the_checkout_or_a_named_one(monkeypatch, tmp_path):
    monkeypatch.delenv("PITFALLS_IMAGE_CONTEXT", raising=False)
    assert image_context() == REPO.resolve()
    monkeypatch.setenv("PITFALLS_IMAGE_CONTEXT", str(tmp_path))
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(ContainerError, match=r"must be built from a pitfalls checkout .* Got .* \(without "
                                             r"\.dockerignore, docker, scripts/docker\.sh\) instead\. Fix: set "
                                             r"PITFALLS_IMAGE_CONTEXT="):
        image_context()
    monkeypatch.setenv("PITFALLS_IMAGE_CONTEXT", str(REPO))
    assert image_context() == REPO.resolve()

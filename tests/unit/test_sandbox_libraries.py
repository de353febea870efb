"""What of the trusted Python a sandbox mounts (runner/sandbox/libraries.py) and where the candidate
image is built from (runner/live/containers.py image_context). The end-to-end proof, a wheel
install whose sandbox sees its layered libraries and nothing of pitfalls, is tests/test_wheel_install.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from pitfalls.core.errors import SandboxUnavailable
from pitfalls.core.resources import checkout, pitfalls_folders
from pitfalls.core.store import home
from pitfalls.live.containers import ContainerError, image_context
from pitfalls.sandbox.bwrap import _below, _python_mounts
from pitfalls.sandbox.libraries import (
    Host,
    _inside,
    pitfalls_copies,
    private_folders,
    pth_paths,
    python_view,
    refused,
    secrets_inside,
    shared_folders,
)


def test_pth_paths_reads_path_lines_as_site_does(tmp_path):
    site, libs, other = tmp_path / "site", tmp_path / "libs", tmp_path / "other"
    for d in (site, libs, other):
        d.mkdir()
    (site / "a.pth").write_text(f"# a comment\n\n{libs}\nimport sys; print('never run')\n../other\n/absent/dir\n")
    (site / "b.pth").write_text(f"{libs}\n")  # a repeat is added once
    (site / "c.txt").write_text(f"{tmp_path}\n")  # not a .pth file
    assert pth_paths(site) == [str(libs), str(other)]


def test_checkout_and_pitfalls_folders_are_never_mounted(tmp_path):
    """A .pth line naming the checkout, a folder above it, a folder inside it (its .git, tests,
    build/lib copy of the package, even the dev venv) or a folder inside the package (also through
    a symlink) is refused; an unrelated folder is not."""
    root = checkout()
    assert root == REPO.resolve()  # the tests run from the editable checkout
    link = tmp_path / "link"
    link.symlink_to(REPO / "scaffolds" / "tumor_triage")
    for path in (str(root), str(root.parent), str(REPO / "runner" / "sandbox"), str(link), "/",
                 str(root / ".git"), str(root / "tests"), str(root / "build" / "lib"), str(root / ".venv")):
        assert refused(path), path
    assert "lies inside the pitfalls checkout" in refused(str(root / ".git"))
    host = Host(checkout=str(root), package=[str(f) for f in pitfalls_folders()], private=[])
    assert refused(str(tmp_path), host) is None


def _fake_checkout(at: Path) -> Path:
    """A folder that looks like a pitfalls checkout: .git and a scaffold with its solution."""
    (at / ".git" / "objects").mkdir(parents=True)
    (at / "scaffolds" / "x" / "solution").mkdir(parents=True)
    (at / "scaffolds" / "x" / "solution" / "train.py").write_text("# the answer\n")
    return at


def _venv(at: Path) -> Path:
    (at / "bin").mkdir(parents=True)
    (at / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return at


def test_private_folders_are_refused_around_and_inside_and_hidden_in_a_prefix(tmp_path):
    """$PITFALLS_HOME, home, the scheduler's folder, the temp folder: a .pth folder inside or around
    one is refused; inside a mounted prefix, one is hidden. This process's own are among them."""
    private = _venv(tmp_path / "prefix") / "share" / "state"
    private.mkdir(parents=True)
    host = Host(checkout=None, private=[str(private)])
    assert "lies inside the private folder" in refused(str(private / "sessions"), host)
    assert "holds the private folder" in refused(str(tmp_path / "prefix" / "share"), host)
    assert refused(str(tmp_path / "prefix" / "bin"), host) is None
    assert str(private) in secrets_inside(str(tmp_path / "prefix"), host)
    mine = private_folders() + shared_folders()
    for folder in (home(), Path.home(), tempfile.gettempdir()):
        assert os.path.realpath(folder) in mine, (folder, mine)
    # the user's home and the temp folder are shared: a library folder inside one (a venv in /tmp)
    # is mounted, one holding one is refused, and inside a mounted prefix one is hidden
    shared = Host(checkout=None, shared=[str(tmp_path / "prefix" / "share")])
    assert refused(str(tmp_path / "prefix" / "share" / "lib"), shared) is None
    assert "holds the shared folder" in refused(str(tmp_path / "prefix"), shared)
    assert str(tmp_path / "prefix" / "share") in secrets_inside(str(tmp_path / "prefix"), shared)


def test_a_copy_of_pitfalls_is_found_by_its_content_wherever_it_lies(tmp_path):
    """Without a known checkout (a wheel install), a .pth folder holding a checkout or a pitfalls
    package with scaffolds is refused, and a prefix holding one gets it hidden; a look-alike
    without solutions is left alone."""
    host = Host(checkout=None)
    libs = tmp_path / "libs"
    fake = _fake_checkout(libs / "somewhere" / "co")
    (libs / "site" / "pitfalls" / "scaffolds").mkdir(parents=True)
    (libs / "other" / "scaffolds" / "y").mkdir(parents=True)  # no solution: not pitfalls
    assert pitfalls_copies(str(libs)) == sorted([str(fake), str(libs / "site" / "pitfalls")])
    assert "copy of pitfalls" in refused(str(libs), host)
    assert "copy of pitfalls" in refused(str(libs / "site"), host)
    assert refused(str(libs / "other"), host) is None
    prefix = _venv(tmp_path / "venv")
    deep = _fake_checkout(prefix / "lib" / "python3.11" / "site-packages" / "co")  # 4 levels down
    src = _fake_checkout(prefix / "src" / "pitfalls")
    view = python_view(prefixes=[str(prefix)], pth=[], host=host)
    assert view.binds == [(str(prefix), str(prefix))]
    assert {str(deep), str(src)} <= set(view.hidden), view.hidden


def test_a_prefix_holding_the_checkout_gets_all_of_it_hidden(tmp_path):
    """pip's `install -e git+...` puts the checkout in <venv>/src/pitfalls: the venv is mounted and
    the whole checkout (.git, tests, bench, the package) is hidden, not only the package folders,
    also deeper than the content check looks."""
    prefix = _venv(tmp_path / "venv")
    root = _fake_checkout(prefix / "share" / "a" / "b" / "c" / "pitfalls")
    assert pitfalls_copies(str(prefix)) == []  # beyond SCAN_DEPTH: only the known checkout hides it
    host = Host(checkout=str(root), package=[str(root / "runner"), str(root / "scaffolds")])
    view = python_view(prefixes=[str(prefix)], pth=[], host=host)
    assert view.binds == [(str(prefix), str(prefix))]
    assert str(root) in view.hidden
    args = _python_mounts(set(), view)
    assert args[args.index(str(root)) - 1] == "--tmpfs"
    assert [a for a in args if a.startswith(str(root) + "/")] == []  # nested hides are not repeated


def test_a_prefix_inside_the_checkout_is_refused_but_the_dev_venv_is_mounted_alone(tmp_path):
    root = _fake_checkout(tmp_path / "co")
    host = Host(checkout=str(root), package=[str(root / "runner"), str(root / "scaffolds")])
    for prefix in (root, _venv(root / "tools" / "venv"), root / "runner"):
        with pytest.raises(SandboxUnavailable, match=r"The Python that runs pitfalls must (not live inside the "
                                                     r"pitfalls checkout|have a prefix of its own).* Got the prefix "
                                                     r".* instead\. Create"):
            python_view(prefixes=[str(prefix)], pth=[], host=host)
    dev = _venv(root / ".venv")
    _fake_checkout(dev / "src" / "other")  # a copy inside the dev venv is hidden too
    view = python_view(prefixes=[str(dev)], pth=[str(root), str(root / "tests")], host=host)
    assert view.binds == [(str(dev), str(dev))]  # neither the checkout nor its tests
    assert str(dev / "src" / "other") in view.hidden
    args = _python_mounts(set(), view)
    assert [a for a in args if _inside(a, str(root)) and not _inside(a, str(dev))] == [str(root)]  # a --dir


def test_a_checkout_around_the_dev_venv_inside_a_mounted_prefix_is_hidden_before_the_venv_is_mounted(tmp_path):
    """A base Python whose prefix holds the checkout that holds the dev venv: the checkout is covered
    by an empty folder first, then the venv is mounted into it (its parents made again)."""
    base = _venv(tmp_path / "base")
    root = _fake_checkout(base / "work" / "co")
    dev = _venv(root / ".venv")
    host = Host(checkout=str(root), package=[str(root / "scaffolds")])
    view = python_view(prefixes=[str(base), str(dev)], pth=[], host=host)
    assert str(root) in view.hidden and str(dev) not in view.hidden
    args = _python_mounts({str(base), str(base / "work"), str(root)}, view)
    hide, bind = args.index(str(root)), args.index("--ro-bind", args.index(str(root)))
    assert args[hide - 1] == "--tmpfs" and args[bind + 2] == str(dev) and hide < bind
    # root itself is the empty folder: no parent under it left to make (this process's own site-packages
    # may sort in between at the same depth, depending on where the tests' temp folder is)
    assert [a for a in args[hide + 1:bind] if _below(a, str(root))] == []


def test_a_prefix_that_is_a_private_folder_or_a_copy_is_refused(tmp_path):
    prefix = _venv(tmp_path / "home")
    with pytest.raises(SandboxUnavailable, match="must have a prefix of its own, not a private folder"):
        python_view(prefixes=[str(prefix)], pth=[], host=Host(checkout=None, private=[str(prefix)]))
    copy = _venv(_fake_checkout(tmp_path / "copy"))
    with pytest.raises(SandboxUnavailable, match="not a copy of pitfalls"):
        python_view(prefixes=[str(copy)], pth=[], host=Host(checkout=None))


def test_a_library_folder_outside_the_prefixes_is_mounted_and_one_inside_is_not_repeated(tmp_path):
    prefix, libs = _venv(tmp_path / "venv"), tmp_path / "libs"
    (libs / "pitfalls-0.1.dist-info").mkdir(parents=True)
    host = Host(checkout=None)
    view = python_view(prefixes=[str(prefix)], pth=[str(libs), str(prefix / "bin")], host=host)
    assert view.binds == [(str(prefix), str(prefix)), (str(libs), str(libs))]
    assert str(libs / "pitfalls-0.1.dist-info") in view.hidden and str(libs) in view.libraries


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

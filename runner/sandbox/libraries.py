"""What of the trusted Python installation a sandbox sees: where its interpreter imports libraries
from, minus pitfalls itself.

A sandbox runs the runner's own interpreter (``sys.executable -I``). Isolated mode still reads the
``.pth`` files of its site-packages, so a folder one of them adds (a venv layered on another venv's
libraries, a distribution's extra path) is on the sandbox's ``sys.path`` too and must be mounted,
or imports fail inside. pitfalls itself is never visible: its folders (the scaffolds with their
solutions and guides, the catalogs, the data-set generators) are hidden wherever a mounted folder
holds them, and a folder that would show a source checkout (tests, ``.git``) is not mounted at all.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from pitfalls.core.resources import checkout, pitfalls_folders


def site_packages() -> list[Path]:
    """The trusted interpreter's own site-packages folders (purelib and platlib)."""
    return sorted({Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")})


def pth_paths(site: Path) -> list[str]:
    """What the ``.pth`` files of ``site`` add to ``sys.path``, as :mod:`site` computes it: one path
    a line, relative to ``site``, kept if it exists; blank, ``#`` and ``import`` lines skipped."""
    found: list[str] = []
    for pth in sorted(site.glob("*.pth")):
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if not line.strip() or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = os.path.abspath(os.path.join(site, line.rstrip()))
            if os.path.exists(path) and path not in found:
                found.append(path)
    return found


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def refused(path: str) -> str | None:
    """Why ``path`` must not be mounted into a sandbox, or None: it lies inside a pitfalls folder,
    or it is (or holds) the source checkout, whose tests and ``.git`` would show the solutions."""
    real = os.path.realpath(path)
    for folder in map(str, pitfalls_folders()):
        if _inside(real, folder):
            return f"it lies inside pitfalls' own folder {folder}"
    if (root := checkout()) is not None and _inside(str(root), real):
        return f"it holds the pitfalls checkout {root}"
    return None


def library_paths() -> list[str]:
    """Folders (or zip files) outside the Python prefixes that the sandbox's interpreter imports
    from: those the site-packages' ``.pth`` files add, except what :func:`refused` refuses."""
    return [p for site in site_packages() for p in pth_paths(site) if refused(p) is None]


def secrets_inside(root: str) -> list[str]:
    """Paths under ``root`` (as the sandbox sees it) to hide: each pitfalls folder that lies there
    (a wheel install's ``site-packages/pitfalls``) and pitfalls' ``.dist-info`` (its file list)."""
    real_root = os.path.realpath(root)
    hidden = [root + folder[len(real_root):] for folder in map(str, pitfalls_folders())
              if _inside(folder, real_root) and folder != real_root]
    hidden += [str(p) for p in Path(root).glob("pitfalls-*.dist-info") if p.is_dir()]
    return hidden

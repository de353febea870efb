"""What of the trusted Python installation a sandbox sees: where its interpreter imports libraries
from, minus pitfalls itself and minus the host's private folders.

A sandbox runs the runner's own interpreter (``sys.executable -I``). Isolated mode still reads the
``.pth`` files of its site-packages, so a folder one of them adds (a venv layered on another venv's
libraries, a distribution's extra path) is on the sandbox's ``sys.path`` too and must be mounted,
or imports fail inside. Every mounted folder (a Python prefix, a ``.pth`` library folder) follows
the same rules (:func:`python_view`):

- pitfalls itself is never visible: its folders (the scaffolds with their solutions and guides, the
  catalogs, the data-set generators, and every scaffold pack's folder: runner/core/packs.py) and the whole source checkout (``.git``, tests, ``build/``)
  are hidden wherever a mounted folder holds them (``pip install -e git+...`` puts the checkout in
  ``<venv>/src/pitfalls``), and so is any other copy of pitfalls found by its content: a folder
  holding ``scaffolds/*/solution``, a ``pitfalls`` package with ``scaffolds``, or ``*/scaffold.toml``
  (a scaffold pack that discovery missed);
- the host's private folders ($PITFALLS_HOME, the user's home, the scheduler's folder, the temp
  folder) are hidden wherever a mounted folder holds them;
- a ``.pth`` folder inside or holding any of these is not mounted at all;
- a Python prefix inside the checkout is refused (the sandbox would need the checkout's folders),
  except a venv directly in the checkout's root (the dev ``.venv``): only that venv is mounted,
  so the sandbox sees nothing else of the checkout.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pitfalls.core.errors import SandboxUnavailable
from pitfalls.core.packs import pack_folders
from pitfalls.core.resources import checkout, pitfalls_folders
from pitfalls.core.store import home
from pitfalls.sched.config import ENV_PREFIX, default_folder

SCAN_DEPTH = 4
"""How deep below a mounted folder a copy of pitfalls is looked for: ``<prefix>/src/pitfalls`` (pip's
folder for editable VCS installs) is 2 levels down, ``<prefix>/lib/python3.X/site-packages/pitfalls`` 4."""


@dataclass(frozen=True)
class Host:
    """What the mounts are decided from: pitfalls' own folders and the host's private folders, as real
    paths. :meth:`current` reads this process's; tests build their own."""

    checkout: str | None
    package: list[str] = field(default_factory=list)
    private: list[str] = field(default_factory=list)
    """Folders of pitfalls' own state ($PITFALLS_HOME, the scheduler's): nothing inside or around them."""
    shared: list[str] = field(default_factory=list)
    """Folders many things live in (the user's home, the temp folder): a library folder inside one
    is fine (a venv in /tmp), one holding or being one is not; hidden inside a mounted prefix."""

    @classmethod
    def current(cls) -> Host:
        """This process's checkout, pitfalls folders and private folders."""
        root = checkout()
        return cls(checkout=None if root is None else os.path.realpath(root),
                   package=[os.path.realpath(p) for p in [*pitfalls_folders(), *pack_folders()]],
                   private=private_folders(),
                   shared=shared_folders())


def private_folders() -> list[str]:
    """$PITFALLS_HOME and the scheduler's folder, as real paths (``/`` left out)."""
    sched = os.environ.get(ENV_PREFIX + "DIR", "").strip() or str(default_folder())
    found = {os.path.realpath(str(p)) for p in (home(), sched)}
    return sorted(found - {"/"})


def shared_folders() -> list[str]:
    """The user's home and the temp folder, as real paths (``/`` left out: a home of ``/`` cannot
    mean that nothing is mountable)."""
    found = {os.path.realpath(str(p)) for p in (Path.home(), tempfile.gettempdir())}
    return sorted(found - {"/"})


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


def _is_copy(folder: str) -> bool:
    """``folder`` is a pitfalls checkout or package (or a copy) or a scaffold pack (or a copy): it
    holds ``scaffolds/*/solution``, it is a ``pitfalls`` folder holding ``scaffolds``, or it holds a
    scaffold, a folder with a ``scaffold.toml`` (a pack's ``acme_pitfalls/tumor_triage``: its manifest
    names the planted bugs, so no ``solution`` folder is needed to hide it)."""
    scaffolds = os.path.join(folder, "scaffolds")
    if os.path.isdir(scaffolds):
        if os.path.basename(folder) == "pitfalls" or _holds(scaffolds, "solution", follow=True):
            return True
    return _holds(folder, "scaffold.toml", follow=False)


def _holds(folder: str, name: str, *, follow: bool) -> bool:
    """Some sub-folder of ``folder`` holds ``name`` (a file or folder); ``follow``: symlinked
    sub-folders count (not for the pack rule: a link resolves, in a sandbox, to what it shows)."""
    try:
        with os.scandir(folder) as entries:
            return any(e.is_dir(follow_symlinks=follow) and os.path.exists(os.path.join(e.path, name))
                       for e in entries)
    except OSError:
        return False


def pitfalls_copies(root: str, depth: int = SCAN_DEPTH) -> list[str]:
    """The real folders at most ``depth`` levels below ``root`` (``root`` included) that are a copy of
    pitfalls (:func:`_is_copy`), whatever their location. Symlinks are not followed: inside a
    sandbox they resolve to what the sandbox shows, which these rules already decide."""
    found: list[str] = []
    stack = [(os.path.realpath(root), 0)]
    while stack:
        folder, level = stack.pop()
        if _is_copy(folder):
            found.append(folder)
            continue
        if level >= depth:
            continue
        try:
            with os.scandir(folder) as entries:
                stack += [(e.path, level + 1) for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
    return sorted(found)


def refused(path: str, host: Host | None = None) -> str | None:
    """Why ``path`` (a ``.pth`` library folder) must not be mounted into a sandbox, or None: it lies
    inside pitfalls' own folders, inside or around the checkout, inside or around a private folder,
    or it holds a copy of pitfalls."""
    host = host or Host.current()
    real = os.path.realpath(path)
    for folder in host.package:
        if _inside(real, folder) or _inside(folder, real):
            return f"it {'lies inside' if _inside(real, folder) else 'holds'} pitfalls' own folder {folder}"
    if host.checkout is not None and (_inside(real, host.checkout) or _inside(host.checkout, real)):
        return f"it {'lies inside' if _inside(real, host.checkout) else 'holds'} the pitfalls checkout {host.checkout}"
    for folder in host.private:
        if _inside(real, folder) or _inside(folder, real):
            return f"it {'lies inside' if _inside(real, folder) else 'holds'} the private folder {folder}"
    for folder in host.shared:
        if _inside(folder, real):
            return f"it holds the shared folder {folder} (mount the library folder inside it instead)"
    if copies := pitfalls_copies(real):
        return f"it holds a copy of pitfalls (scaffolds with solutions) at {copies[0]}"
    return None


def prefix_refused(prefix: str, host: Host | None = None) -> str | None:
    """Why the Python prefix ``prefix`` cannot be mounted into a sandbox, or None. A prefix inside the
    checkout (or a pitfalls folder) would show the checkout; only a venv directly in the checkout's
    root (the dev ``.venv``) is allowed, mounted alone. A prefix that is itself a private folder or a
    copy of pitfalls cannot be hidden from itself."""
    host = host or Host.current()
    real = os.path.realpath(prefix)
    root = host.checkout
    dev_venv = (root is not None and os.path.dirname(real) == root and real not in host.package
                and os.path.isfile(os.path.join(real, "pyvenv.cfg")))
    inside = [f for f in host.package if _inside(real, f)] + ([root] if root and _inside(real, root) else [])
    if inside and not dev_venv:
        return (f"The Python that runs pitfalls must not live inside the pitfalls checkout or package "
                f"({inside[0]}): its sandboxes mount the Python's prefix. Got the prefix {prefix} instead. "
                f"Create the venv elsewhere (`python -m venv ~/venvs/pitfalls`) or directly in the "
                f"checkout's root (`python -m venv {root or '<checkout>'}/.venv`), and install pitfalls into it.")
    if real in host.private + host.shared or _is_copy(real):
        what = "a private folder of the host" if real in host.private + host.shared else "a copy of pitfalls"
        return (f"The Python that runs pitfalls must have a prefix of its own, not {what}: its sandboxes "
                f"mount the whole prefix. Got the prefix {prefix} instead. Create a venv elsewhere "
                f"(`python -m venv ~/venvs/pitfalls`) and install pitfalls into it.")
    return None


def secrets_inside(root: str, host: Host | None = None, *, scan: bool = True) -> list[str]:
    """Paths under ``root`` (as the sandbox sees it, ``root`` excluded) to hide: each pitfalls folder
    that lies there (a wheel install's ``site-packages/pitfalls``), pitfalls' ``.dist-info`` (its file
    list), the checkout, the private folders and (``scan``) any copy of pitfalls found by content."""
    host = host or Host.current()
    real_root = os.path.realpath(root)
    folders = host.package + ([host.checkout] if host.checkout else []) + host.private + host.shared
    if scan:
        folders += pitfalls_copies(real_root)
    hidden = {root.rstrip("/") + folder[len(real_root.rstrip("/")):] for folder in folders
              if _inside(folder, real_root) and folder != real_root}
    hidden |= {str(p) for p in Path(root).glob("pitfalls-*.dist-info") if p.is_dir()}
    return sorted(hidden)


@dataclass(frozen=True)
class PythonView:
    """The trusted Python as a sandbox mounts it: ``binds`` (real source, path in the sandbox),
    read-only; ``hidden`` paths covered by an empty folder; ``libraries`` the folders imported
    from (site-packages and mounted ``.pth`` folders), for the package data to hide in them."""

    binds: list[tuple[str, str]]
    hidden: list[str]
    libraries: list[str]


SYSTEM_ROOTS = ("/usr",)
"""Mounted whole by the sandbox for the OS (runner/sandbox/bwrap.py): a checkout or private folder
under it is hidden too (no content scan: it is large, and not where Python installs pitfalls)."""


def python_view(prefixes: list[str] | None = None, pth: list[str] | None = None,
                host: Host | None = None) -> PythonView:
    """What a sandbox mounts of the trusted Python: its prefixes (default: ``sys.base_prefix`` and
    ``sys.prefix``, real and as named) outside /usr, and the ``.pth`` folders (default: those of
    its site-packages) outside them that :func:`refused` allows; then what to hide in them.

    Raises:
        SandboxUnavailable: a prefix is refused (:func:`prefix_refused`).
    """
    host = host or Host.current()
    if prefixes is None:
        prefixes = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix})
    sites = [str(s) for s in site_packages()]
    pth = [p for s in site_packages() for p in pth_paths(s)] if pth is None else pth
    roots = [p for p in prefixes if not any(_inside(p, s) for s in SYSTEM_ROOTS)]
    for prefix in roots:
        if (why := prefix_refused(prefix, host)) is not None:
            raise SandboxUnavailable(why)
    binds = [(os.path.realpath(p), p) for p in roots]
    inner = [p for p in pth if any(_inside(p, r) for r in roots)]  # already mounted: scanned, not bound
    for path in pth:
        if path not in inner and not any(_inside(path, b) for _, b in binds) and refused(path, host) is None:
            binds.append((os.path.realpath(path), path))
    hidden = {h for _, dst in binds for h in secrets_inside(dst, host)}
    hidden |= {h for path in sites + inner  # scanned with their root, unless outside every one
               for h in secrets_inside(path, host, scan=not any(_inside(path, b) for _, b in binds))}
    hidden |= {h for path in SYSTEM_ROOTS for h in secrets_inside(path, host, scan=False)}
    libraries = sites + inner + [dst for _, dst in binds if dst not in roots]
    return PythonView(binds=binds, hidden=sorted(hidden), libraries=libraries)


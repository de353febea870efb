"""Data folders shipped inside the package (scaffolds, catalogs, probekit), found by import name.

Loaded through :mod:`importlib.resources`, so an editable checkout and a ``pip install .`` into
site-packages find the same files; nothing walks up from ``__file__``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def package_folder(package: str, *parts: str) -> Path:
    """The folder ``parts`` inside the installed ``package``, as a real filesystem path.

    Sandboxes bind-mount these folders, so a zipped install (no real path) is refused."""
    root = importlib.resources.files(package).joinpath(*parts)
    path = Path(str(root))
    if not path.is_dir():
        raise FileNotFoundError(
            f"The package data folder {package}/{'/'.join(parts)} must be a folder on disk. Got "
            f"{path} instead. Reinstall pitfalls from its source (`pip install .`); zipped installs "
            "are not supported.")
    return path

"""Data folders shipped inside the package (scaffolds, catalogs, probekit), found by import name.

Loaded through :mod:`importlib.resources`, so an editable checkout and a ``pip install .`` into
site-packages find the same files; nothing walks up from ``__file__``.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path


def package_folder(package: str, *parts: str) -> Path:
    """The folder ``parts`` inside the installed ``package``, as a real filesystem path.

    Sandboxes bind-mount these folders, so a zipped install (no real path) is refused. The package
    is found, not imported (``pitfalls.datasets`` would import pandas and scikit-learn)."""
    spec = importlib.util.find_spec(package)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    root = Path(places[0]) if places else Path(str(importlib.resources.files(package)))
    path = root.joinpath(*parts)
    if not path.is_dir():
        raise FileNotFoundError(
            f"The package data folder {package}/{'/'.join(parts)} must be a folder on disk. Got "
            f"{path} instead. Reinstall pitfalls from its source (`pip install .`); zipped installs "
            "are not supported.")
    return path


DATA_PACKAGES = ("pitfalls", "pitfalls.scaffolds", "pitfalls.bugs", "pitfalls.datasets")
"""The package and the data packages it ships: the scaffolds' solutions and guides, the mutation
catalogs and the data-set generators. None of it may ever be visible inside a sandbox."""


def pitfalls_folders() -> list[Path]:
    """The real folders of :data:`DATA_PACKAGES`: ``runner/``, ``scaffolds/``, ``bugs/`` and
    ``datasets/`` of a checkout, or ``site-packages/pitfalls`` (and folders in it) when installed."""
    return sorted({Path(os.path.realpath(str(importlib.resources.files(p)))) for p in DATA_PACKAGES})


def checkout() -> Path | None:
    """The pitfalls source checkout this package runs from (an editable install), or None.

    A checkout is the folder that holds ``pyproject.toml`` next to the package's own folder
    ``runner/``; a wheel installed into site-packages has none."""
    package = Path(os.path.realpath(str(importlib.resources.files("pitfalls"))))
    root = package.parent
    if package.name == "runner" and (root / "pyproject.toml").is_file():
        return root
    return None

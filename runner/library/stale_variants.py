"""Pruning built variant folders (``$PITFALLS_HOME/variants/NAME-ID-KEY/``, runner/library/variant.py).

A variant is built once per content and secret and reused; every use touches its folder, so the
folder's modification time is its last use. When a new variant is built, folders unused for more
than :func:`keep_days` days (``$PITFALLS_VARIANT_KEEP_DAYS``, default 14) are removed, and so are
interrupted builds (``.NAME-ID-KEY-*``) as old. Never removed: a variant any session in the store
names (live, practice, hub, ended or not: its reveal, report and history read the variant; a
practice workspace's record is its store row, whose id its ``.pitfalls.json`` repeats), matched by
scaffold name and variant id whatever the key; the folders this process has built or loaded; any
folder used in the last :data:`MIN_AGE_SECONDS` whatever the setting (a `pitfalls check` or
`calibrate` in another process uses variants no session names: only their use time protects them);
and, when the store cannot be read, everything (pruning is skipped).

This module's name does not start with ``variant``: the variant folder's key hashes
``variant*.py`` (how variants are built), and pruning does not change what a variant holds.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.library.variant_spec import split_ref

KEEP_ENV = "PITFALLS_VARIANT_KEEP_DAYS"
DEFAULT_KEEP_DAYS = 14.0
DAY = 86400.0
MIN_AGE_SECONDS = 6 * 3600.0
"""A folder used more recently than this is never removed, even with ``$PITFALLS_VARIANT_KEEP_DAYS=0``:
a check of variants in another process may still be reading it (its use time is renewed on load)."""


def keep_days() -> float:
    """Days an unused, unreferenced variant folder is kept: ``$PITFALLS_VARIANT_KEEP_DAYS`` or 14.

    Raises:
        PitfallsError: the variable is not a number >= 0.
    """
    raw = os.environ.get(KEEP_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not days >= 0:  # also NaN
        raise PitfallsError(f"${KEEP_ENV} must be a number of days >= 0. Got {raw!r} instead. Set it to "
                            f"a number, or unset it to keep unused variants {DEFAULT_KEEP_DAYS:g} days.")
    return days


def touch(folder: Path) -> None:
    """Mark ``folder`` used now (its modification time is its last use)."""
    try:
        os.utime(folder)
    except OSError:
        pass  # a read-only state folder: the folder is still used, only its age is not renewed


def referenced(store: Path) -> set[tuple[str, str]] | None:
    """(scaffold name, variant id) of every variant a session of the SQLite store ``store`` names
    (``acme/churn@v3`` -> ``("churn", "v3")``); empty without a store; None if it cannot be read."""
    if not store.exists():
        return set()
    try:
        with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)) as db:
            rows = db.execute("SELECT scaffold FROM sessions WHERE scaffold LIKE '%@%'").fetchall()
    except sqlite3.Error:
        return None
    out = set()
    for (scaffold,) in rows:
        base, variant = split_ref(str(scaffold))
        if variant is not None:
            out.add((base.rpartition("/")[2], variant))
    return out


def _name_and_id(folder: Path) -> tuple[str, str] | None:
    """A variant folder's scaffold name and variant id (``churn-v3-<key>``), an interrupted build's
    too (``.churn-v3-<key>-<random>``); None for anything else."""
    text = folder.name[1:].rsplit("-", 1)[0] if folder.name.startswith(".") else folder.name
    parts = text.rsplit("-", 2)
    return (parts[0], parts[1]) if len(parts) == 3 and split_ref(f"x@{parts[1]}")[1] else None


def prune(variants: Path, *, store: Path, keep: Path | Iterable[Path] = (), days: float | None = None,
          now: float | None = None) -> list[Path]:
    """Remove the folders of ``variants`` unused for more than ``days`` (default :func:`keep_days`,
    never less than :data:`MIN_AGE_SECONDS`) that no session of ``store`` names, except ``keep``
    (a folder or several); returns what was removed."""
    names = referenced(store)
    if names is None or not variants.is_dir():
        return []
    kept = {keep} if isinstance(keep, Path) else set(keep)
    age = max(DAY * (keep_days() if days is None else days), MIN_AGE_SECONDS)
    limit = (time.time() if now is None else now) - age
    removed = []
    for folder in sorted(variants.iterdir()):
        parsed = _name_and_id(folder)
        if parsed is None or parsed in names or folder in kept or not folder.is_dir() or folder.is_symlink():
            continue
        if folder.stat().st_mtime < limit:  # read again right before: a use since the listing keeps it
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed

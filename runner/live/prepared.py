"""Prepared variants: the host server draws the next variant of a scaffold and measures its scale
before a session asks, so a start with a newly drawn variant does not wait two training runs.

A scaffold that declares ``[variants]`` gives each new session a variant drawn from a fresh seed
(runner/library/variant.py), and a variant's scoring scale is measured once, before its first
session answers (runner/live/sessions.py ``prepare_scale``): about two training runs. For every
scaffold with variants that had a live session on this host in the last :data:`RECENT_DAYS` days,
the host server keeps one variant drawn the same way with its scale measured (in the scheduler's
background lane: a candidate's submission goes first) and its starting files built (the cache of
runner/library/workspace.py, taken by the session that uses it), as an empty file
``$PITFALLS_HOME/prepared-variants/<scaffold>/<id>`` (folders of mode 0700). A start with no
``--variant`` and no ``$PITFALLS_VARIANT`` takes one by removing its file (one start per id) and
draws afresh when there is none.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pitfalls.core.store import Store, home
from pitfalls.library.variant import VARIANT_ENV
from pitfalls.library.variant_spec import VariantSpec, new_id, split_ref
from pitfalls.live.worker import HostWorker

RECENT_DAYS = 7
POLL_SECONDS = 5.0


def _folder(scaffold_id: str) -> Path:
    return home() / "prepared-variants" / scaffold_id.replace("/", "%2F")


def prepared(scaffold_id: str) -> list[str]:
    """The variant ids prepared for ``scaffold_id`` (a shipped id or ``PACK/NAME``), oldest first."""
    found = []
    try:
        entries = list(os.scandir(_folder(scaffold_id)))
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            found.append((entry.stat().st_mtime, entry.name))
        except FileNotFoundError:  # taken by a start meanwhile
            continue
    return [name for _, name in sorted(found) if not name.startswith(".")]


def take(scaffold_id: str, spec: VariantSpec | None, variant: str | None) -> str | None:
    """A prepared variant id for a new session of ``scaffold_id``, given one was not asked for
    (``variant`` None and no ``$PITFALLS_VARIANT``); None: draw as usual."""
    if spec is None or variant is not None or os.environ.get(VARIANT_ENV):
        return None
    for vid in prepared(scaffold_id):
        try:
            (_folder(scaffold_id) / vid).unlink()
        except FileNotFoundError:
            continue  # another start took it
        return vid
    return None


def prepare(scaffold_id: str, source: str) -> str | None:
    """Draw a variant of ``scaffold_id`` (from ``source``), measure its scale, and record it; its id,
    or None when the scaffold declares no variants."""
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.library.workspace import cached_starter
    from pitfalls.scoring.anchors import anchors

    base = load_scaffold(scaffold_id, source=source or None)
    if base.manifest.variants is None:
        return None
    vid = new_id(base.manifest.variants)
    anchors(load_scaffold(f"{scaffold_id}@{vid}", source=source or None), kind="probe")
    cached_starter(f"{scaffold_id}@{vid}", source=source or None, live=True)  # its starting files, copied at start
    folder = _folder(scaffold_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.parent.chmod(0o700)
    (folder / vid).touch()
    return vid


def recent_scaffolds(store: Store, days: float = RECENT_DAYS) -> list[tuple[str, str]]:
    """(id, source folder) of the scaffolds of this host's live sessions of the last ``days``."""
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    rows = store.db.execute("SELECT scaffold, scaffold_source, MAX(created_at) AS last FROM sessions WHERE "
                            "mode='live' AND created_at >= ? GROUP BY scaffold, scaffold_source ORDER BY last DESC",
                            (since,)).fetchall()
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(split_ref(row["scaffold"])[0], row["scaffold_source"] or "")
    return list(found.items())


class Preparer(HostWorker):
    """A thread of the host server keeping one prepared variant of each recent scaffold with variants;
    nothing while ``$PITFALLS_VARIANT`` pins every session's variant. Errors are logged once each."""

    name, what, join_seconds = "variant-preparer", "prepared variants", 300.0

    def wanted(self) -> bool:
        """Nothing to prepare while variants are pinned."""
        return not os.environ.get(VARIANT_ENV)

    def _run(self) -> None:
        while not self._stop.is_set():
            for scaffold_id, source in self._recent():
                if self._stop.is_set():
                    break
                if not prepared(scaffold_id):
                    self._prepare(scaffold_id, source)
            self._stop.wait(POLL_SECONDS)

    def _recent(self) -> list[tuple[str, str]]:
        try:
            store = Store()
            try:
                return recent_scaffolds(store)
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - logged once; tried again next round
            self._say_once(f"the store could not be read: {exc}")
            return []

    def _prepare(self, scaffold_id: str, source: str) -> None:
        try:
            vid = prepare(scaffold_id, source)
        except Exception as exc:  # noqa: BLE001 - one scaffold's failure must not stop the others
            self._say_once(f"no variant of {scaffold_id} could be prepared: {type(exc).__name__}: {exc}")
            return
        if vid:
            self.log.info("prepared variant %s of %s (its scale measured)", vid, scaffold_id)

"""Which submission of a session counts: its *final* submission.

By default the final submission is the last scored one. The candidate may choose another scored
submission (``pitfalls submit --final``, ``pitfalls final N``, ``pitfalls-submit --final`` or
``--set-final N``); each choice is a row of ``final_choices`` (the newest one holds) and, in the
same transaction, a ``final`` event for the timelines. A choice is acknowledged only once that
transaction has committed (WAL with ``synchronous=FULL``, :class:`pitfalls.core.store.Store`), and
a choice of anything but a scored submission of the same session is refused inside it, so a
concurrent writer cannot slip a non-scored or foreign row in between the check and the insert.

The table is created by the store's schema on open (``CREATE TABLE IF NOT EXISTS``), so a database
made before it existed opens as it was and simply has no choice recorded: its final submission is
the last scored one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pitfalls.core.errors import PitfallsError

Store = Any
"""A :class:`pitfalls.core.store.Store` (which imports this module for its schema)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS final_choices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    at TEXT NOT NULL,
    via TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS final_choices_by_session ON final_choices(session_id, id);
"""
"""Part of :data:`pitfalls.core.store.SCHEMA` (run on every open; a no-op once the table exists)."""

WHY = {"running": "it is still being scored", "rejected": "it was rejected", "failed": "it failed"}


MAX_CHOICES = 100
"""Changes of the final submission a session may make: each is a row and a timeline event, so an
unbounded loop of ``pitfalls-submit --set-final`` would flood the dashboard and the report."""


class FinalChoiceError(PitfallsError):
    """A final-submission choice that cannot be recorded (not a scored submission of this session)."""


@dataclass(frozen=True)
class Final:
    """A session's final submission."""

    submission_id: int
    chosen: bool
    """True when the candidate chose it; False when it is final by default (the last scored one)."""
    at: str | None = None
    """When it was chosen (None by default)."""

    def view(self) -> dict[str, Any]:
        """JSON-ready: ``submission_id``, ``chosen``, ``at`` and ``how`` (a few words)."""
        return {"submission_id": self.submission_id, "chosen": self.chosen, "at": self.at,
                "how": "chosen by the candidate" if self.chosen else "the last scored (default)"}


def final_of(rows: Iterable[Mapping[str, Any]], choice: Mapping[str, Any] | None) -> Final | None:
    """The final submission among a session's submission ``rows`` given its newest ``choice`` row
    (``submission_id``, ``at``; None when none was made): the chosen one if it is scored, else the
    last scored one; None while no submission is scored."""
    scored = [r for r in rows if r["status"] == "scored"]
    if choice is not None and any(r["id"] == choice["submission_id"] for r in scored):
        return Final(submission_id=int(choice["submission_id"]), chosen=True, at=choice["at"])
    return Final(submission_id=int(scored[-1]["id"]), chosen=False) if scored else None


def latest_choice(store: Store, session_id: str) -> dict[str, Any] | None:
    """The newest choice row of a session (None when the candidate never chose)."""
    row = store.db.execute("SELECT * FROM final_choices WHERE session_id=? ORDER BY id DESC LIMIT 1",
                           (session_id,)).fetchone()
    return dict(row) if row else None


def final_submission(store: Store, session_id: str,
                     rows: Iterable[Mapping[str, Any]] | None = None) -> Final | None:
    """The session's final submission (``rows``: its submissions, when the caller has them already)."""
    rows = store.submissions(session_id) if rows is None else rows
    return final_of(rows, latest_choice(store, session_id))


def choose_final(store: Store, session_id: str, submission_id: Any, *, via: str, how: str = "") -> Final:
    """Make scored submission ``submission_id`` of session ``session_id`` its final one; returns the
    final submission as stored. Returns only after the choice is committed.

    Raises:
        FinalChoiceError: ``submission_id`` is not a scored submission of this session (``how`` is
            appended to the message: where to list them).
        StorageError: the state folder is full or read-only (nothing was recorded).
    """
    with store.tx() as db:
        rows = db.execute("SELECT id, status FROM submissions WHERE session_id=? ORDER BY id",
                          (session_id,)).fetchall()
        _check(rows, submission_id, how)
        newest = db.execute("SELECT submission_id, at, (SELECT COUNT(*) FROM final_choices WHERE session_id=?) AS n "
                            "FROM final_choices WHERE session_id=? ORDER BY id DESC LIMIT 1",
                            (session_id, session_id)).fetchone()
        if newest is not None and newest["submission_id"] == submission_id:  # already final: nothing to log
            return Final(submission_id=int(submission_id), chosen=True, at=newest["at"])
        if newest is not None and newest["n"] >= MAX_CHOICES:
            raise FinalChoiceError(f"A session may change its final submission at most {MAX_CHOICES} times. Got "
                                   f"{newest['n']} changes already instead; #{newest['submission_id']} stays final.")
        at = datetime.now(UTC).isoformat(timespec="seconds")  # as pitfalls.core.store.now()
        db.execute("INSERT INTO final_choices (session_id, submission_id, at, via) VALUES (?,?,?,?)",
                   (session_id, submission_id, at, via))
        db.execute("INSERT INTO events (session_id, at, kind, data) VALUES (?,?,?,?)",
                   (session_id, at, "final", json.dumps({"submission_id": submission_id, "via": via})))
    return Final(submission_id=int(submission_id), chosen=True, at=at)


def _check(rows: list[Any], submission_id: Any, how: str) -> None:
    """Raise :class:`FinalChoiceError` unless ``submission_id`` is a scored row of ``rows``."""
    scored = [int(r["id"]) for r in rows if r["status"] == "scored"]
    number = isinstance(submission_id, int) and not isinstance(submission_id, bool)
    if number and submission_id in scored:
        return
    status = {int(r["id"]): r["status"] for r in rows}.get(submission_id) if number else None
    why = (WHY.get(status, status) if status else "no submission of this workspace has that number"
           if number else "not a submission number")
    want = (f"one of the scored submissions {', '.join(map(str, scored))}" if scored
            else "a scored submission, and none is scored yet")
    raise FinalChoiceError(f"The final submission must be {want}. Got {submission_id!r} instead ({why}). {how}".strip())

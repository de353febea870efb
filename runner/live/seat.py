"""The interviewer's seat: the candidate's reasoning, hints and the rubric, as the dashboard shows them.

- **Validation**: each submission's own validation score, read from its training log by the
  scaffold's ``[task] validation_pattern`` (runner/library/reasoning.py), or "not reported".
- **Diff**: a submission's snapshot against the previous submission's (the first against the
  starter workspace), bounded (:data:`MAX_LINE_CHARS`, runner/live/report_diffs.py's line cap);
  the dashboard sets it as text, never as markup.
- **Hints**: the scaffold's ladder with the time each rung was given; giving one stores a
  ``hint_given`` event ``{"level", "text", "by": "interviewer"}`` (runner/live/given_hints.py shows it
  to the candidate).
- **Rubric**: its criteria with the newest rating of each; a rating is a ``rubric_rated`` event
  ``{"criterion", "rating", "note"}`` (the report renders them).
- **Presence**: when the candidate's browser last reached its JupyterLab through the candidate port,
  and the newest modification time among the workspace's files.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pitfalls.core.notes import NoteError, validate_note
from pitfalls.core.store import Store
from pitfalls.library.reasoning import reported_validation, rubric_view
from pitfalls.library.scaffold import Scaffold
from pitfalls.live.given_hints import HINT_GIVEN
from pitfalls.live.report_diffs import snapshot_texts, snapshotted, text_diff

RUBRIC_RATED = "rubric_rated"
MAX_LINE_CHARS = 400
CONNECTED_SECONDS = 30.0
"""The candidate counts as connected when its JupyterLab made a request this recently (the lab polls
its kernels and sessions every few seconds while it is open)."""
DIFF_CACHE = 64


class SeatError(ValueError):
    """A hint, rating or diff the seat refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Presence:
    """When the candidate's port last served a request (thread-safe; one per session server)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None
        self._sockets = 0

    def seen(self) -> None:
        """A request reached the candidate's JupyterLab now."""
        with self._lock:
            self._last = time.time()

    def socket(self, delta: int) -> None:
        """A WebSocket (kernel, terminal) opened (+1) or closed (-1)."""
        with self._lock:
            self._sockets = max(0, self._sockets + delta)
            self._last = time.time()

    def view(self, now: float | None = None) -> dict[str, Any]:
        """``{"connected", "last_seen", "sockets"}`` (``last_seen`` ISO or None)."""
        now = time.time() if now is None else now
        with self._lock:
            last, sockets = self._last, self._sockets
        return {"connected": sockets > 0 or (last is not None and now - last <= CONNECTED_SECONDS),
                "last_seen": _iso(last) if last is not None else None, "sockets": sockets}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def last_edit(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest of the workspace's files (from the file listing): ``{"path", "modified"}``."""
    newest = max(files, key=lambda f: f.get("modified") or "", default=None)
    return {"path": newest["path"], "modified": newest["modified"]} if newest else None


class Seat:
    """One session's reasoning view and the interviewer's actions on the record."""

    def __init__(self, *, session_id: str, scaffold: Scaffold) -> None:
        self.session_id = session_id
        self.scaffold = scaffold
        self._diffs: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    # -- what the state shows ------------------------------------------------------------------
    def validation(self, row: dict[str, Any]) -> dict[str, Any]:
        """A submission's own validation score: ``{"value", "line"}``, or ``{"value": None, "why"}``."""
        pattern = self.scaffold.manifest.task.validation_pattern
        if not pattern:
            return {"value": None, "why": "not reported (the scaffold declares no validation_pattern)"}
        got = reported_validation(pattern, row.get("log_tail") or "")
        return got.view() if got else {"value": None, "why": "not reported (train.py printed no line matching "
                                                             f"{pattern!r})"}

    def hints(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ladder: ``{"level", "text", "given_at"}`` (``given_at``: the first time given, or None)."""
        given: dict[int, str] = {}
        for e in events:
            level = e["data"].get("level") if e["kind"] == HINT_GIVEN and isinstance(e["data"], dict) else None
            if isinstance(level, int) and level not in given:
                given[level] = e["at"]
        return [{"level": n, "text": text, "given_at": given.get(n)}
                for n, text in enumerate(self.scaffold.manifest.hints, start=1)]

    def rubric(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The criteria with the newest rating of each: ``rating``, ``note``, ``rated_at`` (None if unrated)."""
        newest: dict[str, dict[str, Any]] = {}
        for e in events:
            if e["kind"] == RUBRIC_RATED and isinstance(e["data"], dict):
                newest[str(e["data"].get("criterion"))] = {**e["data"], "at": e["at"]}
        out = []
        for c in rubric_view(self.scaffold.manifest.rubric):
            got = newest.get(c["criterion"], {})
            out.append({**c, "rating": got.get("rating"), "note": got.get("note", ""), "rated_at": got.get("at")})
        return out

    # -- the interviewer's actions -------------------------------------------------------------
    def give_hint(self, store: Store, level: Any) -> dict[str, Any]:
        """Give rung ``level`` of the ladder (1-based): one ``hint_given`` event; returns it.

        Raises:
            SeatError: not a rung of the ladder (400) or given already (409).
        """
        ladder = self.scaffold.manifest.hints
        if not (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= len(ladder)):
            raise SeatError(f"The hint level must be an integer from 1 to {len(ladder)}. Got {level!r} instead.")
        events = store.events(self.session_id, HINT_GIVEN)
        done = next((e for e in events if e["data"].get("level") == level), None)
        if done:
            raise SeatError(f"Hint {level} must not be given twice. Got it given already at {done['at']}.", 409)
        data = {"level": level, "text": ladder[level - 1], "by": "interviewer"}
        store.add_event(self.session_id, HINT_GIVEN, data)
        return {**data, "at": store.events(self.session_id, HINT_GIVEN)[-1]["at"]}

    def rate(self, store: Store, criterion: Any, rating: Any, note: Any = "") -> dict[str, Any]:
        """Rate one rubric criterion (``rating`` 1..levels), with an optional note: one ``rubric_rated`` event.

        Raises:
            SeatError: an unknown criterion, a rating out of range or a bad note (400).
        """
        criteria = {c.criterion: c for c in self.scaffold.manifest.rubric}
        if criterion not in criteria:
            raise SeatError(f"The criterion must be one of {sorted(criteria)}. Got {criterion!r} instead.")
        levels = criteria[criterion].levels
        if not (isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= len(levels)):
            raise SeatError(f"The rating of {criterion!r} must be an integer from 1 to {len(levels)}. "
                            f"Got {rating!r} instead.")
        try:
            text = validate_note(note if note is not None else "", what="The rating's note")
        except NoteError as exc:
            raise SeatError(str(exc)) from None
        data = {"criterion": criterion, "rating": rating, "level": levels[rating - 1], "note": text}
        store.add_event(self.session_id, RUBRIC_RATED, data)
        return {**data, "at": store.events(self.session_id, RUBRIC_RATED)[-1]["at"]}

    # -- diffs ---------------------------------------------------------------------------------
    def diff(self, store: Store, submission_id: Any) -> dict[str, Any]:
        """Submission ``submission_id``'s snapshot against the previous one's (the first: the starter).

        ``{"submission_id", "since", "lines", "left", "added", "removed"}``; ``left``: diff lines not shown.

        Raises:
            SeatError: not a submission of this session with a snapshot (404).
        """
        rows = [r for r in store.submissions(self.session_id) if r.get("snapshot")]
        at = next((i for i, r in enumerate(rows) if r["id"] == submission_id), None)
        if at is None or isinstance(submission_id, bool):
            raise SeatError(f"The submission must be one of this session's with a snapshot ({[r['id'] for r in rows]})."
                            f" Got {submission_id!r} instead.", 404)
        key = (submission_id, rows[at]["snapshot_sha256"])
        with self._lock:
            if key in self._diffs:
                return self._diffs[key]
        before, since = (snapshot_texts(rows[at - 1]["snapshot"]), f"#{rows[at - 1]['id']}") if at else \
            (snapshotted(self._starter()), "the starter")
        lines, left = text_diff(before, snapshot_texts(rows[at]["snapshot"]), old=since.lstrip("#") if at else "starter",
                                new=str(submission_id))
        lines = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " …" for line in lines]
        out = {"submission_id": submission_id, "since": since, "lines": lines, "left": left,
               "added": sum(1 for x in lines if x.startswith("+") and not x.startswith("+++")),
               "removed": sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))}
        with self._lock:
            self._diffs[key] = out
            while len(self._diffs) > DIFF_CACHE:
                self._diffs.popitem(last=False)
        return out

    def _starter(self) -> dict[str, str]:
        """The starter workspace's small text files (the scaffold's own workspace/ folder)."""
        root: Path = self.scaffold.root / "workspace"
        out = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts \
                    and path.stat().st_size <= 256 * 1024:
                out[path.relative_to(root).as_posix()] = path.read_text(errors="replace")
        return out

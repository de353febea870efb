"""What the session server does, without HTTP: scoring, the dashboard's state, notes, files.

Scoring runs on a single worker thread (one submission at a time per session, in arrival order)
through :func:`pitfalls.service.api.submit`, whose sandboxes are network-less and limited. The answer
goes back once the score is recorded; the bug probes then run in a detached low-priority worker
(runner/probes/worker.py) and each submission's ``probe_status`` in the state says when they are done. Every call opens
its own :class:`~pitfalls.core.store.Store`, so threads never share a SQLite connection.
"""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pitfalls import sched
from pitfalls.core.clock import Clock, clock_of, session_clock
from pitfalls.core.errors import PitfallsError, SessionError, WorkspaceError
from pitfalls.core.finals import FinalChoiceError, final_submission
from pitfalls.core.notes import MAX_NOTE_CHARS, NoteError, validate_note  # noqa: F401 - MAX_NOTE_CHARS re-exported
from pitfalls.core.store import Store
from pitfalls.fs.safefs import Bounds
from pitfalls.fs.workspace_view import NotebookError, list_files, notebook_cells, read_text
from pitfalls.library.brief import scale_line
from pitfalls.library.catalogs import bug_entry
from pitfalls.library.metrics import METRICS
from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.library.variant import quirk_entry_of
from pitfalls.library.workspace import NOT_THE_CANDIDATES
from pitfalls.live import containers, timer
from pitfalls.live.given_hints import HINT_GIVEN, given_hints
from pitfalls.live.sessions import LiveSession, load_session
from pitfalls.scoring.anchors import anchors, cached_anchors
from pitfalls.service import api
from pitfalls.service.preflight import preflight

from .seat_service import SeatService

MAX_QUEUED = 10
MAX_FILE_BYTES = 512 * 1024
FILES_BOUNDS = Bounds(max_entries=5000, max_depth=16, max_seconds=0.5)
"""What one file listing may walk (entries, depth, seconds): it runs on the server's behalf."""
HIDDEN_PARTS = NOT_THE_CANDIDATES


class RequestError(PitfallsError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def request_note(text: Any, *, what: str = "The note", required: bool = False) -> str:
    """``text`` checked by :func:`pitfalls.core.notes.validate_note`; a bad note is a 400 RequestError."""
    try:
        return validate_note(text, what=what, required=required)
    except NoteError as exc:
        raise RequestError(str(exc)) from None


class SessionService(SeatService):
    """One live session's behaviour; the handlers only translate HTTP to these calls."""

    def __init__(self, *, session_id: str) -> None:
        self.live: LiveSession = load_session(session_id)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pitfalls-score")
        self.queued = 0
        self._container_checked: tuple[float, str] = (-1e9, "unknown")
        # The server answers before the scoring libraries load; the scoring thread loads them
        # first, so the first submission does not wait for them either.
        self._executor.submit(self._warm_up)

    @functools.cached_property
    def scaffold(self) -> Scaffold:
        """The session's scaffold (its hooks import pandas and friends: loaded on first use)."""
        return load_scaffold(self.live.scaffold, source=self.live.scaffold_source)

    def _warm_up(self) -> None:
        import sklearn.metrics  # noqa: F401 - scoring's; the scaffold's hooks import the rest

        self.scaffold.dataset()
        try:  # this installation's anchors, before the first submission (which waits in line)
            anchors(self.scaffold)
        except PitfallsError:  # logged by the first submission, which measures them again
            pass

    def close(self) -> None:
        """Finish the submission being scored; drop none (queued ones are already recorded as they run)."""
        self._executor.shutdown(wait=True, cancel_futures=False)

    def _row(self, store: Store) -> dict[str, Any]:
        return store.session(self.live.session_id) or {}

    def clock(self, store: Store) -> Clock:
        """The session's clock as the store holds it now (runner/core/clock.py: from its events)."""
        return session_clock(store, self.live.session_id) or clock_of({})

    def remaining_seconds(self, store: Store) -> float | None:
        """Seconds left on the session's timer (None when untimed)."""
        return self.clock(store).remaining_seconds

    def candidate_status(self) -> dict[str, Any]:
        """What ``pitfalls-submit --status`` shows (and the timer in the candidate's lab): the clock, the
        submission count, and the hints the interviewer gave (:mod:`pitfalls.live.given_hints`)."""
        with closing(Store()) as store:
            clock = self.clock(store)
            count = len(store.submissions(self.live.session_id))
            hints = given_hints(store.events(self.live.session_id, HINT_GIVEN))
        return {"remaining_seconds": clock.remaining_seconds, "clock": clock.state, "submissions": count,
                "metric": self.scaffold.manifest.task.metric, "scoring": self.queued,
                "final": self.final(), "hints_given": hints}

    def change_clock(self, action: Any, minutes: Any = None) -> dict[str, Any]:
        """The interviewer extends (``minutes`` more), pauses or unpauses the clock; logged as an event.

        Raises:
            RequestError: an unknown action or bad minutes (400).
        """
        with closing(Store()) as store:
            try:
                return timer.change(store, self.live.session_id, action, minutes, by="dashboard").view()
            except SessionError as exc:
                raise RequestError(str(exc)) from None

    async def submit(self, note: Any, final: Any = False) -> dict[str, Any]:
        """Score the workspace as it is now; return the candidate's view of the result. ``final``:
        make it the final submission if it scores (``pitfalls-submit --final``).

        Raises:
            RequestError: a bad note (400), too many submissions waiting (429), or a workspace the
                runner will not store (400: over the snapshot limit or the session's storage bound).
        """
        note = request_note(note)
        if not isinstance(final, bool):
            raise RequestError(f"final must be true or false. Got {final!r} instead.")
        if self.queued >= MAX_QUEUED:
            raise RequestError(f"At most {MAX_QUEUED} submissions may wait for scoring. Got {self.queued} waiting "
                               "instead. Wait for the earlier ones to finish, then submit again.", status=429)
        self.queued += 1
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, self._submit_now, note, final)
        except WorkspaceError as exc:  # nothing was stored; the message says how to go on
            raise RequestError(str(exc)) from None
        finally:
            self.queued -= 1
        return result

    def _submit_now(self, note: str, final: bool = False) -> dict[str, Any]:
        store = Store()
        try:
            res = api.submit(directory=self.live.workspace, note=note, session_id=self.live.session_id, store=store,
                             probes="background", final=final)  # a detached worker: it outlives a server restart
            view = res.candidate_view()
            return {**view, "remaining_seconds": self.remaining_seconds(store)}
        finally:
            store.close()

    async def preflight(self) -> dict[str, Any]:
        """Check the workspace as a submission would be checked, without a score or a submission
        (``pitfalls-submit --preflight``; runner/service/preflight.py). It waits on the scoring thread
        like a submission and counts towards the same queue bound.

        Raises:
            RequestError: too many submissions waiting (429), or a workspace over the snapshot limits (400).
        """
        if self.queued >= MAX_QUEUED:
            raise RequestError(f"At most {MAX_QUEUED} submissions and preflights may wait. Got {self.queued} waiting "
                               "instead. Wait for the earlier ones to finish, then try again.", status=429)
        self.queued += 1
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, self._preflight_now)
        except WorkspaceError as exc:  # nothing was run; the message says how to go on
            raise RequestError(str(exc)) from None
        finally:
            self.queued -= 1
        return result

    def _preflight_now(self) -> dict[str, Any]:
        with closing(Store()) as store:
            found = preflight(directory=self.live.workspace, session_id=self.live.session_id, store=store)
            return {**found.view(), "remaining_seconds": self.remaining_seconds(store)}

    def choose_final(self, submission_id: Any) -> dict[str, Any]:
        """The candidate makes scored submission ``submission_id`` final (``pitfalls-submit --set-final N``);
        answers ``{"final": ...}`` once the choice is stored: which one and how, never a score.

        Raises:
            RequestError: not a scored submission of this session (400).
        """
        try:
            with closing(Store()) as store:
                chosen = api.choose_final(directory=self.live.workspace, submission_id=submission_id, store=store,
                                          session_id=self.live.session_id, via="pitfalls-submit --set-final",
                                          how="`pitfalls-submit --status` lists them.")
        except FinalChoiceError as exc:
            raise RequestError(str(exc)) from None
        return {"final": chosen.view()}

    def final(self) -> dict[str, Any] | None:
        """Which submission is final now and how (no score): for ``pitfalls-submit --status``."""
        with closing(Store()) as store:
            got = final_submission(store, self.live.session_id)
        return got.view() if got else None

    def add_note(self, text: Any) -> dict[str, Any]:
        """Record an interviewer's note; return it with its time."""
        text = request_note(text, what="A note", required=True)
        with closing(Store()) as store:
            store.add_event(self.live.session_id, "note", {"text": text})
            event = store.events(self.live.session_id, "note")[-1]
        return {"id": event["id"], "at": event["at"], "text": event["data"]["text"]}

    def state(self) -> dict[str, Any]:
        """Everything the dashboard shows, as one JSON-ready object."""
        with closing(Store()) as store:
            row = self._row(store)
            rows = store.submissions(row["id"])
            final = final_submission(store, row["id"], rows)  # runner/core/finals.py: chosen, else the last scored
            subs = [{**_submission(s), "final": final is not None and s["id"] == final.submission_id} for s in rows]
            events = store.events(row["id"])
        return {"session": self._session_view(row, clock_of(row, events)), "submissions": subs, "bugs": self._bugs(subs),
                "quirks": [_short(quirk_entry_of(self.scaffold, q)) for q in self.scaffold.manifest.quirks],
                "final": final.view() if final else None,
                "notes": [{"id": e["id"], "at": e["at"], "text": e["data"].get("text", "")}
                          for e in events if e["kind"] == "note"],
                "events": [{"id": e["id"], "at": e["at"], "kind": e["kind"], "data": e["data"]}
                           for e in events if e["kind"] != "note"], **self.seat_state(rows, events)}

    def _session_view(self, row: dict[str, Any], clock: Clock) -> dict[str, Any]:
        m = self.scaffold.manifest
        end = clock.closes_at
        return {"id": row["id"], "scaffold": row["scaffold"], "title": m.title, "candidate": row["candidate"],
                "created_at": row["created_at"], "duration_minutes": clock.minutes,
                "closes_at": end.isoformat(timespec="seconds") if end else None, "clock": clock.view(),
                "remaining_seconds": clock.remaining_seconds, "ended_at": row["ended_at"],
                "now": datetime.now(UTC).isoformat(timespec="seconds"),
                "metric": m.task.metric, "higher_is_better": METRICS[m.task.metric].higher_is_better,
                **self._goal_and_scale(), "budgets": asdict(m.budgets),
                "container_state": self.container_state(), "scoring": self.queued,
                "queue": scheduler_queue(self.live.session_id)}

    def _goal_and_scale(self) -> dict[str, Any]:
        """The installation's anchors (None until measured) and the goal in public-slice metric
        units (the chart plots public scores) with its normalized share; ``scale``: the scale in
        the brief's one sentence."""
        cal = cached_anchors(self.scaffold)
        g = self.scaffold.manifest.task.goal_normalized
        return {"calibration": cal.view() if cal else None, "goal_normalized": g,
                "goal": cal.goal_score(g, "public") if cal else None, "scale": scale_line(self.scaffold)}

    def container_state(self, max_age: float = 5.0) -> str:
        """The container's state from ``docker inspect``, at most ``max_age`` seconds old (polls are cheap)."""
        if time.monotonic() - self._container_checked[0] > max_age:
            try:
                found = containers.container_status(name_or_id=self.live.container)
            except containers.ContainerError:  # no docker command here
                found = None
            self._container_checked = (time.monotonic(), found.state if found else "absent")
        return self._container_checked[1]

    def _bugs(self, subs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each planted bug with the verdict of the newest submission whose probes are done (newer
        ones still probing show ``probe_status`` ``pending`` or ``running`` in ``submissions``)."""
        latest = next((s for s in reversed(subs) if s["probes"] and s.get("probe_status", "done") == "done"), None)
        verdicts = {p["bug_id"]: p for p in (latest or {}).get("probes", [])}
        out = []
        for bug in self.scaffold.manifest.bugs:
            v = verdicts.get(bug, {})
            out.append({**_short(bug_entry(bug, self.scaffold.manifest.wording, scaffold=self.scaffold.name)), "status": v.get("status", "not probed yet"),
                        "evidence": v.get("evidence", ""), "submission_id": latest["id"] if latest else None,
                        "self_reported": v.get("self_reported", bool(v)), "tampering": v.get("tampering", [])})
        return out

    def files(self) -> list[dict[str, Any]]:
        """The candidate's files (not data, artifacts or caches), read-only, within :data:`FILES_BOUNDS`."""
        return self.listing()["files"]

    def listing(self) -> dict[str, Any]:
        """``{"files": files(), "truncated": why the listing stopped early, or None}``.

        Race-free and bounded (runner/fs/safefs.py): no link followed, nothing but folders opened,
        at most :data:`FILES_BOUNDS` (5,000 entries, 16 levels, 0.5 s of walking)."""
        found, why = list_files(self.live.workspace, hidden=HIDDEN_PARTS, bounds=FILES_BOUNDS)
        return {"files": found, "truncated": why}

    def file(self, rel: str) -> dict[str, Any]:
        """One file's text; a notebook as its cells (source and text outputs).

        The file is opened once, relative to its folder's descriptor, never through a link and never
        if it is not a regular file (a FIFO cannot block it); at most :data:`MAX_FILE_BYTES` are read.

        Raises:
            RequestError: not one of :meth:`files` (404) or too large (413).
        """
        parts = rel.split("/")
        got = (None if HIDDEN_PARTS & set(parts) or len(parts) > FILES_BOUNDS.max_depth + 1
               else read_text(self.live.workspace, rel, MAX_FILE_BYTES))
        if got is None:
            raise RequestError(f"The file must be one of the workspace's files (GET /pitfalls/api/files). "
                               f"Got {rel!r} instead.", status=404)
        text, size = got
        if size > MAX_FILE_BYTES:
            raise RequestError(f"Files shown must be at most {MAX_FILE_BYTES // 1024} KiB. Got "
                               f"{size // 1024} KiB in {rel}.", status=413)
        if rel.endswith(".ipynb"):
            return {"path": rel, "kind": "notebook", "cells": _cells(text)}
        return {"path": rel, "kind": "text", "content": text}

def _short(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k, "") for k in ("id", "title", "category", "description")}


def _submission(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "created_at", "finished_at", "status", "note", "metric", "score_public", "score_private",
            "norm_public", "norm_private", "params", "message", "violations", "timings", "probes",
            "score_interval", "probe_flags", "probe_status", "probe_message")
    return {k: row[k] for k in keys}


def _cells(text: str) -> list[dict[str, Any]]:
    """A notebook's cells as ``{"type", "source", "outputs"}`` (text outputs only); one raw cell
    saying "cannot display this notebook: ..." (then the text) for anything that is not one."""
    try:
        return notebook_cells(text)
    except NotebookError as exc:
        return [{"type": "raw", "source": f"{exc}\n\n{text}", "outputs": []}]


def scheduler_queue(session_id: str) -> list[dict[str, Any]]:
    """The session's submissions waiting for a CPU slot on the host (runner/sched/): each one's place
    among every waiting job and its seconds in the queue; empty when the scheduler cannot be read."""
    try:
        status = sched.status()
    except (PitfallsError, OSError):
        return []
    return [{"place": e.place, "of": len(status.queue), "job": e.job, "queued_seconds": e.queued_seconds}
            for e in status.waiting_for(session_id)]

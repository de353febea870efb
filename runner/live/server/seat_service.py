"""The session service's part for the interviewer's seat (runner/live/seat.py): the reasoning shown
in the state, the file view's highlighting, and the interviewer-only actions (give a hint, rate the
rubric, a submission's diff). :class:`SeatService` is a mixin of :class:`.service.SessionService`."""

from __future__ import annotations

import functools
import time
from contextlib import closing
from typing import Any

from pitfalls.core.store import Store
from pitfalls.live.highlight import tokens
from pitfalls.live.seat import Presence, Seat, last_edit

LAST_EDIT_SECONDS = 5.0
"""How old the workspace's last edit time may be (it walks the workspace, like the file listing)."""


class SeatService:
    """Mixed into the session service: needs ``live``, ``scaffold`` and ``listing()``."""

    live: Any
    scaffold: Any

    @functools.cached_property
    def seat(self) -> Seat:
        """The seat of this session (its diffs are cached: snapshots never change)."""
        return Seat(session_id=self.live.session_id, scaffold=self.scaffold)

    @functools.cached_property
    def presence(self) -> Presence:
        """Fed by the candidate port's proxy (application.py), read by the dashboard's state."""
        return Presence()

    def seat_state(self, rows: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
        """The state's seat keys: ``validation`` per submission id, ``hints``, ``rubric``, ``presence``."""
        return {"validation": {str(r["id"]): self.seat.validation(r) for r in rows},
                "hints": self.seat.hints(events), "rubric": self.seat.rubric(events),
                "presence": {**self.presence.view(), "last_edit": self._last_edit()}}

    def _last_edit(self) -> dict[str, Any] | None:
        cached = getattr(self, "_last_edit_cache", (-1e9, None))
        if time.monotonic() - cached[0] > LAST_EDIT_SECONDS:
            try:
                found = last_edit(self.listing()["files"])  # type: ignore[attr-defined]
            except OSError:
                found = cached[1]
            self._last_edit_cache = cached = (time.monotonic(), found)
        return cached[1]

    def highlighted(self, data: dict[str, Any]) -> dict[str, Any]:
        """A file view (``file()``'s answer) with ``tokens`` for its text or each notebook code cell."""
        if data.get("kind") == "text":
            return {**data, "tokens": tokens(data["content"], data["path"])}
        if data.get("kind") == "notebook":
            cells = [{**c, "tokens": tokens(c["source"], "cell.py") if c.get("type") == "code" else None}
                     for c in data.get("cells", [])[:500]]
            return {**data, "cells": cells + data.get("cells", [])[500:]}
        return data

    def _seat_call(self, fn: Any, *args: Any) -> dict[str, Any]:
        """``fn(store, *args)`` with a store of its own; a refusal is a :class:`SeatError` (with its status)."""
        with closing(Store()) as store:
            return fn(store, *args)

    def give_hint(self, level: Any) -> dict[str, Any]:
        """The interviewer gives rung ``level`` of the hint ladder (stored as ``hint_given``)."""
        return self._seat_call(self.seat.give_hint, level)

    def rate(self, criterion: Any, rating: Any, note: Any = "") -> dict[str, Any]:
        """The interviewer rates a rubric criterion (stored as ``rubric_rated``)."""
        return self._seat_call(self.seat.rate, criterion, rating, note)

    def diff(self, submission_id: Any) -> dict[str, Any]:
        """A submission's diff against the previous one (the first: against the starter)."""
        return self._seat_call(self.seat.diff, submission_id)

"""``pitfalls preflight`` and ``pitfalls-submit --preflight``: check a workspace before spending a
submission (runner/scoring/preflight.py does the work).

A preflight is not a submission: no row, no snapshot kept, no score. It is recorded as a
``preflight`` event of the session (outcome, problems' constraints, parameters, training seconds),
so the interviewer sees it. It costs a full training run on the host, so it is rate-limited on its
own: at most a quarter of the scaffold's scored submissions (``max_scored // 4``, at least 1) per
the same window (``window_minutes``): 5 per 10 minutes with the shipped manifests. A preflight
refused by that limit or by the session's time runs nothing and is not counted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pitfalls import sched
from pitfalls.core.clock import clock_of
from pitfalls.core.results import Violation
from pitfalls.core.store import Store, now
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.workspace import extract_snapshot, pack_workspace
from pitfalls.sandbox import quota
from pitfalls.scoring.preflight import Preflight, run_preflight
from pitfalls.service.api import _open  # the session, store and scaffold of a workspace, as submit finds them

EVENT = "preflight"
STARTED = "preflight_started"
"""Logged when a preflight is allowed to run; the rate limit counts these (a preflight that ends in
an error is counted all the same)."""


def preflight_limit(scaffold: Scaffold) -> tuple[int, float]:
    """(preflights allowed, per this many minutes) for ``scaffold`` (``Feedback.max_preflights``)."""
    fb = scaffold.manifest.feedback
    return fb.max_preflights, fb.window_minutes


def _refusal(store: Store, session: dict, scaffold: Scaffold) -> Violation | None:
    """Why this preflight must not run now (time up, rate limit), or None."""
    clock = clock_of(session, store.events(session["id"]))  # pauses, stops and extensions counted
    if clock.minutes is not None and clock.expired:
        return Violation(constraint="session_time", limit=f"{clock.minutes:g} min", actual="time is up",
                         message="A preflight must run before the session's time is up. Got this one after it "
                                 "instead; nothing was run. Ask the interviewer for more time if you need it.")
    allowed, minutes = preflight_limit(scaffold)
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    recent = [e for e in store.events(session["id"], STARTED) if datetime.fromisoformat(e["at"]) >= since]
    if len(recent) < allowed:
        return None
    retry = datetime.fromisoformat(recent[0]["at"]) + timedelta(minutes=minutes)
    return Violation(constraint="preflight_rate", limit=f"{allowed} per {minutes:g} min", actual=len(recent),
                     message=f"At most {allowed} preflights are allowed per {minutes:g} minutes. Got {len(recent)} "
                             f"already instead; nothing was run. Preflight again after {retry:%H:%M:%S} UTC, or "
                             "submit (a submission is checked the same way).")


def _reserve(store: Store, session: dict, scaffold: Scaffold) -> Violation | None:
    """Check the limits and take one preflight of the window in one transaction: counted before it
    runs, so one that ends in an error still counts, and two at once cannot both pass the check."""
    with store.tx() as db:
        refused = _refusal(store, session, scaffold)
        if refused is None:
            db.execute("INSERT INTO events (session_id, at, kind, data) VALUES (?,?,?,?)",
                       (session["id"], now(), STARTED, "{}"))
    return refused


def preflight(*, directory: Path, store: Store | None = None, session_id: str | None = None,
              on_wait: Callable[[sched.Waiting], None] | None = None) -> Preflight:
    """Check ``directory`` as a submission would be checked (budgets, the prediction format on a few
    training rows) without scoring it, storing it or using a submission; record a ``preflight`` event.

    Args:
        directory: a practice or session workspace.
        session_id: the live session that owns ``directory`` (default: the workspace's marker).
        on_wait: told the place in the scoring queue while waiting for a CPU slot.

    Raises:
        WorkspaceError: the workspace is over the snapshot limits (a submission would be refused too).
        SchedulerBusy: the host's scoring queue is full; nothing was run.
    """
    store, session, scaffold = _open(directory, store, session_id)
    refused = _reserve(store, session, scaffold)
    if refused is not None:
        return Preflight(outcome="refused", message=refused.message, problems=[refused],
                         max_params=scaffold.manifest.budgets.max_params)
    with tempfile.TemporaryDirectory(prefix=f"{quota.SNAP_PREFIX}{os.getpid()}-") as tmp:  # swept if killed
        packed, source = Path(tmp) / "workspace.tar.gz", Path(tmp) / "workspace"
        with open(packed, "wb") as fh:  # the files a submission's snapshot would hold, kept nowhere
            pack_workspace(directory=directory.resolve(), fileobj=fh)
        source.mkdir()
        extract_snapshot(snapshot=packed, target=source)
        result = run_preflight(scaffold=scaffold, source=source, session_id=session["id"], on_wait=on_wait)
    store.add_event(session["id"], EVENT, {"outcome": result.outcome, "params": result.params,
                                           "problems": [v.constraint for v in result.problems],
                                           "train_seconds": result.timings.get("train_seconds")})
    return result

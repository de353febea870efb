"""The public API: typed, keyword-only functions. The CLI is a thin shell over these."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pitfalls import sched
from pitfalls.core.clock import clock_of
from pitfalls.core.errors import PitfallsError, WorkspaceError, storage_error
from pitfalls.core.notes import validate_note
from pitfalls.core.results import SubmissionResult, Violation
from pitfalls.core.store import Store, closes_at  # noqa: F401 - closes_at: part of the api
from pitfalls.library.catalogs import require_own_ids
from pitfalls.library.metrics import METRICS
from pitfalls.library.scaffold import Scaffold, load_scaffold, scaffold_id, scaffold_names
from pitfalls.library.variant import choose
from pitfalls.library.variant_spec import split_ref
from pitfalls.library.workspace import create_workspace, extract_snapshot, read_marker
from pitfalls.probes import worker
from pitfalls.probes.run import run_probes
from pitfalls.sandbox import quota
from pitfalls.scoring.anchors import Anchors, anchors
from pitfalls.scoring.pipeline import Evaluation, evaluate
from pitfalls.service import finals, probing, unchanged
from pitfalls.service.calibration import calibrate, calibrate_secrets  # noqa: F401 - re-exported: part of the api
from pitfalls.service.reveal_view import REVEAL_WAIT_SECONDS, Reveal, planted_entries, quirk_status  # noqa: F401 - part of the api
from pitfalls.service.storage import MAX_LOG_TAIL_CHARS, ensure_room, store_snapshot
from pitfalls.service.views import public_view, result_from_row, solution_diff


@dataclass
class ScaffoldInfo:
    name: str
    title: str
    difficulty: str
    framework: str
    metric: str
    higher_is_better: bool
    budgets: dict[str, Any]


def list_scaffolds() -> list[ScaffoldInfo]:
    """Every scaffold in the library, with what a user needs to choose one."""
    out = []
    for name in scaffold_names():
        m = load_scaffold(name).manifest
        b = m.budgets
        out.append(ScaffoldInfo(name=name, title=m.title, difficulty=m.difficulty, framework=m.framework,
                                metric=m.task.metric, higher_is_better=METRICS[m.task.metric].higher_is_better,
                                budgets={"max_params": b.max_params, "train_seconds": b.train_seconds,
                                         "memory_mb": b.memory_mb}))
    return out


def start_practice(*, name: str, directory: Path, candidate: str = "",
                   store: Store | None = None, variant: str | None = None) -> dict[str, Any]:
    """Create a practice workspace and its session, or resume the one already in ``directory``.
    ``variant``: an id, ``base`` (the shipped scaffold) or None (drawn: runner/library/variant.py).

    Returns ``{"session_id", "scaffold", "workspace", "resumed"}``.
    """
    store = store or Store()
    directory = directory.resolve()
    if (directory / ".pitfalls.json").exists():
        marker = read_marker(directory)
        if split_ref(marker["scaffold"])[0] not in (name, scaffold_id(name)):
            raise WorkspaceError(f"{directory} must be a workspace of {name!r} to resume it. Got a "
                                 f"workspace of {marker['scaffold']!r} instead. Use another --dir.")
        if store.session(marker["session_id"]) is None:
            raise WorkspaceError(f"The session {marker['session_id']} of {directory} must exist in "
                                 f"{store.path}. Got no such session (was PITFALLS_HOME changed?).")
        return {"session_id": marker["session_id"], "scaffold": marker["scaffold"], "workspace": str(directory),
                "resumed": True}
    base = load_scaffold(name)
    require_own_ids(base.name)  # a pack entry reusing a shipped id would read as the shipped one
    scaffold = choose(base, variant)
    session_id = store.create_session(scaffold=scaffold.name, workspace=directory, mode="practice",
                                      candidate=candidate, scaffold_source=scaffold.source)
    create_workspace(scaffold=scaffold, directory=directory, session_id=session_id)
    return {"session_id": session_id, "scaffold": scaffold.name, "workspace": str(directory), "resumed": False}


def _open(directory: Path, store: Store | None,
          session_id: str | None = None) -> tuple[Store, dict[str, Any], Scaffold]:
    """The store, session row and scaffold of a workspace.

    A live session passes its own ``session_id``: the workspace's marker file is the candidate's
    to edit, so it must not decide which session a submission is recorded in.
    """
    store = store or Store()
    explicit = session_id is not None  # a practice workspace may have moved since it was made
    session_id = session_id or read_marker(directory.resolve())["session_id"]
    session = store.session(session_id)
    if session is None:
        raise WorkspaceError(f"The workspace's session {session_id} must be recorded in "
                             f"{store.path}. Got no such session instead (was PITFALLS_HOME changed?).")
    if explicit and Path(session["workspace"]).resolve() != directory.resolve():
        raise WorkspaceError(f"Session {session_id} must belong to {directory}. Got a session of "
                             f"{session['workspace']} instead.")
    return store, session, load_scaffold(session["scaffold"], source=session.get("scaffold_source"))


def _time_violation(session: dict[str, Any], events: list[dict[str, Any]]) -> Violation | None:
    clock = clock_of(session, events)  # runner/core/clock.py: pauses, stops and extensions counted
    if clock.minutes is None or not clock.expired:
        return None
    late = max(0.0, clock.used_seconds - clock.minutes * 60)
    end = clock.at - timedelta(seconds=late)
    return Violation(constraint="session_time", limit=f"{clock.minutes:g} min",
                     actual=f"{late / 60:.1f} min late",
                     message=f"Submissions must arrive before the session's time is up ({end:%H:%M:%S} "
                             "UTC). Got this one after it instead. It is recorded, unscored and without "
                             "a snapshot (your workspace is unchanged); ask the interviewer for more time "
                             "if you need it.")


def _rate_violation(store: Store, session_id: str, scaffold: Scaffold) -> Violation | None:
    fb = scaffold.manifest.feedback
    since = datetime.now(UTC) - timedelta(minutes=fb.window_minutes)
    recent = [s for s in store.submissions(session_id)
              if s["status"] == "scored" and datetime.fromisoformat(s["created_at"]) >= since]
    if len(recent) < fb.max_scored:
        return None
    retry = datetime.fromisoformat(recent[0]["created_at"]) + timedelta(minutes=fb.window_minutes)
    return Violation(constraint="submission_rate", limit=f"{fb.max_scored} per {fb.window_minutes:g} min",
                     actual=len(recent),
                     message=f"At most {fb.max_scored} scored submissions are allowed per "
                             f"{fb.window_minutes:g} minutes. Got {len(recent)} already instead. This one "
                             f"is recorded, unscored and without a snapshot; submit again after "
                             f"{retry:%H:%M:%S} UTC.")


def _record_unscored(store: Store, scaffold: Scaffold, session_id: str, note: str,
                     violation: Violation) -> SubmissionResult:
    """Record a submission refused before anything was stored or run (time up, rate limit): its row
    and message, so the interviewer sees the attempt, and no snapshot."""
    sub_id = store.insert_submission(session_id=session_id, note=note, metric=scaffold.manifest.task.metric,
                                     snapshot="", snapshot_sha256="")
    store.finish_submission(sub_id, status="rejected", message=violation.message,
                            violations=[violation.__dict__])
    return result_from_row(store.submission(sub_id), scaffold)


ProbeMode = Literal["wait", "background"]
"""When a submission's bug probes run (runner/probes/worker.py): ``wait``, in this process after the
score is recorded, before :func:`submit` returns; ``background``, in a detached low-priority worker
that :func:`submit` starts before it returns the score."""


def submit(*, directory: Path, note: str = "", probes: bool | ProbeMode = True, store: Store | None = None,
           session_id: str | None = None, say: Callable[[str], None] | None = None,
           on_wait: Callable[[sched.Waiting], None] | None = None, final: bool = False) -> SubmissionResult:
    """Check the note, the session's time, rate and storage bound; then snapshot ``directory``,
    record the submission, train, predict and score it.

    Nothing is stored before the checks pass: a submission after the time is up or past the rate
    limit is recorded as a rejected row without a snapshot, and one past the session's storage
    bound (runner/service/storage.py) stores nothing at all. The snapshot is on disk and the row is
    committed before any candidate code runs, so an acknowledged submission survives a crash; see
    :class:`pitfalls.core.store.Store`.

    Args:
        directory: a practice or session workspace.
        note: the candidate's reason for this submission.
        probes: also run the bug probes (recorded for the interviewer and the reveal) after the score
            is recorded: ``True`` or ``"wait"`` before returning (the result carries the verdicts),
            ``"background"`` in a detached worker (the row's ``probe_status`` says when they are
            done; see :func:`probe_status`), ``False`` not at all.
        session_id: the live session that owns ``directory`` (default: the workspace's marker).
        say: told when this installation's anchors must be measured first (runner/scoring/anchors.py).
        on_wait: told the place in the scoring queue while the submission waits for a CPU slot
            (runner/sched/; the training clock starts once it holds one).
        final: make this submission the final one if it scores (recorded before this returns;
            runner/core/finals.py). The result's ``final`` says whether it is.

    Raises:
        NoteError: the note is not valid text (see :func:`pitfalls.core.notes.validate_note`).
        SchedulerBusy: the host's scoring queue is full; nothing was stored (retry in ``retry_seconds``).
        SessionStorageFull: the session's snapshots and logs reached their bound; nothing was stored.
    """
    store, session, scaffold = _open(directory, store, session_id)
    note = validate_note(note)
    limited = _time_violation(session, store.events(session["id"])) or _rate_violation(store, session["id"], scaffold)
    used = ensure_room(store, session["id"])
    if limited:
        return _record_unscored(store, scaffold, session["id"], note, limited)
    ticket = sched.enqueue(job=f"submit {scaffold.name}", session_id=session["id"])  # busy: nothing stored
    try:
        snapshot, digest = store_snapshot(directory=directory.resolve(), session_id=session["id"], used=used)
        sub_id = store.insert_submission(session_id=session["id"], note=note, metric=scaffold.manifest.task.metric,
                                         snapshot=str(snapshot), snapshot_sha256=digest)
    except BaseException:
        ticket.withdraw()
        raise
    try:
        cal = _scale(scaffold, say)  # its runs go ahead of the ticket, which waits only in evaluate
        ev = _evaluate_snapshot(scaffold, snapshot, ticket=ticket, on_wait=on_wait)
    except BaseException as exc:
        ticket.withdraw()
        full = storage_error(exc, folder=tempfile.gettempdir(), what="The runner's temporary folder (TMPDIR)",
                             how="or set TMPDIR to a folder on another disk")
        store.finish_submission(sub_id, status="failed", message=(
            f"{full} Your snapshot is kept." if full else f"The runner failed: {type(exc).__name__}. "
            "Your snapshot is kept; submit again, and report this if it repeats."))
        if full:
            raise full from exc
        raise
    store.finish_submission(
        sub_id, status=ev.status, **public_view(scaffold, ev.score_public, ev.score_interval),
        score_public_exact=ev.score_public, score_private=ev.score_private,
        norm_private=cal.normalize(ev.score_private, "private") if cal else None,
        params=ev.params, message=ev.message, violations=[v.__dict__ for v in ev.violations],
        timings=ev.timings, log_tail=ev.log_tail, probe_status=_probe_start(probes))
    if final and ev.status == "scored":
        finals.choose_final(store, session["id"], sub_id, via="submit --final")
    if probes == "background":  # committed above, before spawn looks for the session's waiting worker
        worker.spawn(store, sub_id)
    elif probes:
        worker.probe_submission(store, sub_id, claimed=True)
    return finals.mark([result_from_row(store.submission(sub_id), scaffold)],
                       finals.final_submission(store, session["id"]))[0]


def _probe_start(probes: bool | ProbeMode) -> str:
    """A scored row's first probe status: ``pending`` for a background worker to drain; ``running``
    (claimed by this process in the same write, so a worker draining the session leaves it alone)
    when probed here; ``none`` when not asked for."""
    return "pending" if probes == "background" else "running" if probes else "none"


def _scale(scaffold: Scaffold, say: Callable[[str], None] | None) -> Anchors | None:
    """This installation's anchors, measured now if this is the first submission (runner/scoring/anchors.py).
    If they cannot be measured (a very busy machine), the submission is still scored and its
    normalized scores are left out; the next submission measures again."""
    try:
        return anchors(scaffold, say=say)
    except PitfallsError as exc:
        if say is not None:
            say(f"The scoring scale could not be measured, so this submission shows no normalized score: {exc}")
        return None


def _evaluate_snapshot(scaffold: Scaffold, snapshot: Path, *, ticket: sched.Ticket | None = None,
                       on_wait: Callable[[sched.Waiting], None] | None = None) -> Evaluation:
    with tempfile.TemporaryDirectory(prefix=f"{quota.SNAP_PREFIX}{os.getpid()}-") as tmp:  # swept if killed
        source = Path(tmp)
        extract_snapshot(snapshot=snapshot, target=source)
        ev = evaluate(scaffold=scaffold, source=source, ticket=ticket, on_wait=on_wait)
    ev.log_tail = ev.log_tail[-MAX_LOG_TAIL_CHARS:]  # each row's text is bounded (runner/service/storage.py)
    return ev


def probe_status(*, directory: Path, wait_seconds: float = 0.0, store: Store | None = None) -> dict[int, str]:
    """Each submission's probe status (``none``, ``pending``, ``running``, ``done``, ``failed`` or
    ``interrupted``; see :mod:`pitfalls.core.store`) after waiting up to ``wait_seconds`` for the
    unfinished ones (a worker that died is marked ``interrupted`` on the way)."""
    store, session, _ = _open(directory, store)
    probing.wait_session(store, session["id"], wait_seconds)
    return {s["id"]: s["probe_status"] for s in store.submissions(session["id"])}


def history(*, directory: Path, store: Store | None = None) -> list[SubmissionResult]:
    """Every submission of the workspace's session, oldest first."""
    store, session, scaffold = _open(directory, store)
    rows = store.submissions(session["id"])
    return finals.mark([result_from_row(r, scaffold) for r in rows], finals.final_submission(store, session["id"], rows))


def choose_final(*, directory: Path, submission_id: Any, store: Store | None = None, session_id: str | None = None,
                 via: str = "pitfalls final", how: str = finals.PRACTICE_HOW) -> finals.Final:
    """Make scored submission ``submission_id`` the workspace's final one (runner/core/finals.py);
    returns once the choice is stored. Raises FinalChoiceError for anything but a scored submission of
    this workspace's session; StorageError when it cannot be stored."""
    store, session, _ = _open(directory, store, session_id)
    return finals.choose(store, session, submission_id, via=via, how=how)


@dataclass
class Hint:
    level: int
    """1-based position of this hint on the ladder (0 when there is none left)."""
    total: int
    text: str


def hint(*, directory: Path, store: Store | None = None) -> Hint:
    """The next hint on the scaffold's ladder; each call climbs one rung and is recorded."""
    store, session, scaffold = _open(directory, store)
    ladder = scaffold.manifest.hints
    used = len(store.events(session["id"], "hint"))
    if used >= len(ladder):
        return Hint(level=0, total=len(ladder), text=f"No more hints: you have seen all {len(ladder)}. "
                    "`pitfalls reveal` shows everything that was planted.")
    store.add_event(session["id"], "hint", {"level": used + 1})
    return Hint(level=used + 1, total=len(ladder), text=ladder[used])


def reveal(*, directory: Path, store: Store | None = None, wait_seconds: float = REVEAL_WAIT_SECONDS) -> Reveal:
    """What was planted, which bugs this workspace still has (probes), the diff to the reference, and
    the probe verdicts of each submission (waiting up to ``wait_seconds`` for those still running).

    The workspace is probed now unless it holds exactly the files of a submission whose probes are done
    (or finish within ``wait_seconds``): then that submission's verdicts are shown (``verdicts_of``)."""
    store, session, scaffold = _open(directory, store)
    start = time.monotonic()
    try:
        same = unchanged.unchanged_verdicts(store, session["id"], directory.resolve(), scaffold.manifest.bugs,
                                            max(0.0, wait_seconds))
    except Exception:  # noqa: BLE001 - reuse only saves time: anything unexpected means probing afresh
        same = None
    found = same[1] if same else {p.bug_id: p for p in run_probes(scaffold=scaffold, source=directory.resolve(),
                                                                  queue_seconds=max(1.0, wait_seconds))}
    waited = probing.wait_session(store, session["id"], max(0.0, wait_seconds - (time.monotonic() - start)))
    bugs, quirks = planted_entries(scaffold, found)
    rows = store.submissions(session["id"])
    final = finals.final_submission(store, session["id"], rows)
    store.add_event(session["id"], "reveal", {})
    return Reveal(scaffold=scaffold.name, title=scaffold.manifest.title, bugs=bugs, quirks=quirks,
                  diff=solution_diff(scaffold=scaffold, directory=directory.resolve()),
                  final=finals.headline(rows, final, scaffold), scores=finals.scores_view(rows, final, scaffold),
                  submissions=[probing.probe_view(s) for s in store.submissions(session["id"]) if s["probe_status"] != "none"],
                  waited=round(waited, 1), verdicts_of=same[0] if same else None)

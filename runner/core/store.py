"""SQLite persistence for sessions, submissions and events.

Durability: WAL journal with ``synchronous=FULL``; every write is one transaction. A submission
row is inserted (status ``running``) only after its snapshot file is on disk (fsynced, renamed
into place), so an acknowledged submission is never lost; a row left ``running`` by a killed
runner is marked ``failed`` the next time the store opens.

Probes run after the score is recorded (runner/probes/worker.py). Each submission's
``probe_status`` is ``none`` (not asked for), ``pending`` (waiting for its worker), ``running``,
``done``, ``failed`` (the runner could not probe) or ``interrupted`` (its worker died; marked the next
time the store opens, never left ``pending`` or ``running``). ``probe_pid`` is the process that owns
the probes of a ``pending`` or ``running`` row.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from pitfalls.core.clock import closes_at  # noqa: F401 - re-exported: callers import it from here
from pitfalls.core.errors import storage_error
from pitfalls.core.finals import SCHEMA as FINALS_SCHEMA

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    scaffold TEXT NOT NULL,
    workspace TEXT NOT NULL,
    mode TEXT NOT NULL,
    candidate TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    duration_minutes REAL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    created_at TEXT NOT NULL,
    finished_at TEXT,
    note TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('running', 'scored', 'rejected', 'failed')),
    metric TEXT NOT NULL,
    score_public REAL, score_private REAL, norm_public REAL, norm_private REAL,
    feedback_shown INTEGER NOT NULL DEFAULT 1,
    params INTEGER,
    message TEXT NOT NULL DEFAULT '',
    violations TEXT NOT NULL DEFAULT '[]',
    timings TEXT NOT NULL DEFAULT '{}',
    probes TEXT NOT NULL DEFAULT '[]',
    log_tail TEXT NOT NULL DEFAULT '',
    snapshot TEXT NOT NULL,
    snapshot_sha256 TEXT NOT NULL,
    runner_pid INTEGER,
    runner_started TEXT,
    score_public_exact REAL,
    score_interval TEXT NOT NULL DEFAULT 'null',
    probe_flags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS submissions_by_session ON submissions(session_id, id);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, id);
"""

JSON_COLUMNS = ("violations", "timings", "probes", "score_interval", "probe_flags")
ADDED_COLUMNS = {"score_public_exact": "REAL", "score_interval": "TEXT NOT NULL DEFAULT 'null'",
                 "probe_flags": "TEXT NOT NULL DEFAULT '[]'", "probe_status": "TEXT NOT NULL DEFAULT 'none'",
                 "probe_pid": "INTEGER", "probe_pid_started": "TEXT", "probe_finished_at": "TEXT",
                 "probe_message": "TEXT NOT NULL DEFAULT ''", "public_decimals": "INTEGER"}
"""Columns added to ``submissions`` after the first release: :meth:`Store.migrate` adds them to an
older database (``score_public`` then holds the rounded public score, ``score_public_exact`` the full
one; older rows keep their full-precision ``score_public`` and no interval; older rows probed before
they were answered get ``probe_status`` ``done``; ``public_decimals``, the decimals of the public grid
the score was shown on when it was scored, is NULL in older rows: views then use today's grid)."""
SESSION_COLUMNS = {"scaffold_source": "TEXT NOT NULL DEFAULT ''"}
"""Columns added to ``sessions`` later: ``scaffold_source``, the folder its scaffold was loaded from
(a pack's scaffold is found from it in any directory: runner/core/packs.py; empty: look up the id)."""
PROBE_STATUSES = ("none", "pending", "running", "done", "failed", "interrupted")
INTERRUPTED = ("The probe run was interrupted before it finished (its worker process ended). The score "
               "is kept; `pitfalls reveal` probes the workspace again.")
_SCORING: set[int] = set()
"""Submissions this process is scoring now. A ``running`` row of this process outside this set was
abandoned: its outcome could not be written (a full or read-only disk), so it is recovered too."""
_PROBING: set[int] = set()
"""Submissions whose probes this process owns now (``pending`` or ``running``); like :data:`_SCORING`."""
STATE_FOLDER = "The state folder (PITFALLS_HOME)"
ELSEWHERE = "or set PITFALLS_HOME to a folder on another disk"


def _raise_storage(exc: BaseException, folder: Path) -> NoReturn:
    """Raise a clear StorageError for a full or read-only state folder; re-raise anything else."""
    err = storage_error(exc, folder=folder, what=STATE_FOLDER, how=ELSEWHERE)
    if err is None:
        raise exc
    raise err from exc


def now() -> str:
    """UTC timestamp, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def home() -> Path:
    """Where pitfalls keeps state: ``$PITFALLS_HOME`` or ``~/.local/share/pitfalls``."""
    default = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "pitfalls"
    path = Path(os.environ.get("PITFALLS_HOME", default))
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        _raise_storage(exc, path)
    return path


class Store:
    """A handle on the SQLite database. Cheap to open; open one per command."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home() / "pitfalls.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA + FINALS_SCHEMA)  # new tables: created on the first open
            self.migrate()
            self.recover()
        except (OSError, sqlite3.Error) as exc:
            _raise_storage(exc, self.path.parent)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction.

        Raises:
            StorageError: the state folder is full or read-only (nothing of this transaction is kept).
        """
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:  # a COMMIT that failed (SQLite may already have rolled back)
                self.db.execute("ROLLBACK")
            _raise_storage(exc, self.path.parent)

    def migrate(self) -> list[str]:
        """Add the columns of :data:`ADDED_COLUMNS` and :data:`SESSION_COLUMNS` an older database
        lacks; returns their names."""
        tables = {"submissions": ADDED_COLUMNS, "sessions": SESSION_COLUMNS}
        if all(set(cols) <= {r["name"] for r in self.db.execute(f"PRAGMA table_info({t})")} for t, cols in tables.items()):
            return []  # no write lock when there is nothing to add (every open runs this)
        added = []
        with self.tx() as db:
            for table, columns in tables.items():
                have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}  # another process may have
                for name, decl in columns.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                        added.append(name)
            if "probe_status" in added:  # probed before they were answered: their verdicts are all there
                db.execute("UPDATE submissions SET probe_status='done' WHERE probes <> '[]'")
        return added

    def recover(self) -> int:
        """Mark submissions whose runner process died mid-run as failed, and probes whose worker
        died (``pending`` or ``running``) as interrupted. Returns how many rows were mended."""
        rows = self.db.execute("SELECT id, runner_pid, runner_started FROM submissions "
                               "WHERE status='running'").fetchall()
        dead = [r["id"] for r in rows if not _alive(r["runner_pid"], r["runner_started"])
                or (r["runner_pid"] == os.getpid() and r["id"] not in _SCORING)]
        probes = self.db.execute("SELECT id, probe_status, probe_pid, probe_pid_started FROM submissions "
                                 "WHERE probe_status IN ('pending', 'running')").fetchall()
        lost = [r["id"] for r in probes if not _alive(r["probe_pid"], r["probe_pid_started"])  # a pending row of
                or (r["probe_pid"] == os.getpid() and r["id"] not in _PROBING  # this process may be handed to it
                    and r["probe_status"] == "running")]
        if not dead and not lost:
            return 0  # no write lock when there is nothing to mend (every open runs this)
        with self.tx() as db:
            for sid in dead:  # only if still running: its runner may have finished it since the SELECT
                db.execute("UPDATE submissions SET status='failed', finished_at=?, message=? WHERE id=? "
                           "AND status='running'",
                           (now(), "Scoring was interrupted before it finished (the runner process "
                            "ended, or could not record the outcome). Your snapshot is kept; submit "
                            "again to score it.", sid))
            for sid in lost:  # only if still unfinished: its worker may have finished since the SELECT
                db.execute("UPDATE submissions SET probe_status='interrupted', probe_finished_at=?, "
                           "probe_message=? WHERE id=? AND probe_status IN ('pending', 'running')",
                           (now(), INTERRUPTED, sid))
        return len(dead) + len(lost)

    def create_session(self, *, scaffold: str, workspace: Path, mode: str, candidate: str = "",
                       duration_minutes: float | None = None, scaffold_source: str = "") -> str:
        """Insert a session (``scaffold``: its id; ``scaffold_source``: the folder it came from); returns its id."""
        sid = secrets.token_hex(4)
        with self.tx() as db:
            db.execute("INSERT INTO sessions (id, scaffold, workspace, mode, candidate, created_at, "
                       "duration_minutes, scaffold_source) VALUES (?,?,?,?,?,?,?,?)",
                       (sid, scaffold, str(workspace), mode, candidate, now(), duration_minutes, scaffold_source))
        return sid

    def update_session(self, session_id: str, **values: Any) -> None:
        """Set columns of a session (``ended_at``, ``duration_minutes``, ``candidate``) in one transaction."""
        unknown = set(values) - {"ended_at", "duration_minutes", "candidate"}
        if unknown:
            raise ValueError(f"Only ended_at, duration_minutes and candidate can change. Got {sorted(unknown)}.")
        cols = ", ".join(f"{k}=?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE sessions SET {cols} WHERE id=?", (*values.values(), session_id))

    def session(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        return dict(row) if row else None

    def insert_submission(self, *, session_id: str, note: str, metric: str, snapshot: str,
                          snapshot_sha256: str) -> int:
        """Acknowledge a submission (status ``running``); its snapshot must already be on disk."""
        with self.tx() as db:
            cur = db.execute("INSERT INTO submissions (session_id, created_at, note, status, metric, "
                             "snapshot, snapshot_sha256, runner_pid, runner_started) "
                             "VALUES (?,?,?,?,?,?,?,?,?)",
                             (session_id, now(), note, "running", metric, snapshot, snapshot_sha256,
                              os.getpid(), _start_time(os.getpid())))
            _SCORING.add(int(cur.lastrowid))  # before COMMIT: no other connection sees it earlier
            return int(cur.lastrowid)

    def finish_submission(self, submission_id: int, **values: Any) -> None:
        """Write a submission's outcome in one transaction. If that fails, the row is left to
        :meth:`recover` (the next Store opened, in this process or another, marks it failed)."""
        values["finished_at"] = now()
        if values.get("probe_status") in ("pending", "running"):  # owned by this process (until it hands
            # pending ones on to a worker; ``running``: claimed here, so no worker takes them meanwhile)
            values.update(probe_pid=os.getpid(), probe_pid_started=_start_time(os.getpid()))
            _PROBING.add(submission_id)
        for key in JSON_COLUMNS:
            if key in values:
                values[key] = json.dumps(values[key])
        cols = ", ".join(f"{k}=?" for k in values)
        try:
            with self.tx() as db:
                db.execute(f"UPDATE submissions SET {cols} WHERE id=?", (*values.values(), submission_id))
        except BaseException:
            _PROBING.discard(submission_id)
            raise
        finally:
            _SCORING.discard(submission_id)

    def hand_probes(self, submission_id: int, pid: int) -> bool:
        """Give this process's ``pending`` probes of a submission to process ``pid`` (a worker it
        started). False when they are no longer pending (the worker already claimed them)."""
        try:
            with self.tx() as db:
                cur = db.execute("UPDATE submissions SET probe_pid=?, probe_pid_started=? WHERE id=? AND "
                                 "probe_status='pending' AND probe_pid=?",
                                 (pid, _start_time(pid), submission_id, os.getpid()))
        finally:
            _PROBING.discard(submission_id)
        return cur.rowcount == 1

    def claim_probes(self, submission_id: int) -> bool:
        """Mark a submission's ``pending`` probes ``running`` in this process. False when they are
        not pending (done, claimed by another worker, interrupted, or never asked for)."""
        with self.tx() as db:
            cur = db.execute("UPDATE submissions SET probe_status='running', probe_pid=?, probe_pid_started=? "
                             "WHERE id=? AND probe_status='pending'",
                             (os.getpid(), _start_time(os.getpid()), submission_id))
            if cur.rowcount == 1:
                _PROBING.add(submission_id)
        return cur.rowcount == 1

    def pending_probes(self, session_id: str) -> list[int]:
        """The submissions of a session whose probes are ``pending``, oldest first (a worker drains them)."""
        rows = self.db.execute("SELECT id FROM submissions WHERE session_id=? AND probe_status='pending' "
                               "ORDER BY id", (session_id,)).fetchall()
        return [int(r["id"]) for r in rows]

    def finish_probes(self, submission_id: int, *, status: str, probes: list[dict[str, Any]],
                      probe_flags: list[str], message: str = "") -> None:
        """Record the outcome of probes this process ran (``done`` or ``failed``) in one transaction."""
        if status not in ("done", "failed"):
            raise ValueError(f"A probe run must end done or failed. Got {status!r} instead.")
        try:
            with self.tx() as db:
                db.execute("UPDATE submissions SET probe_status=?, probes=?, probe_flags=?, probe_message=?, "
                           "probe_finished_at=? WHERE id=? AND probe_status='running' AND probe_pid=?",
                           (status, json.dumps(probes), json.dumps(probe_flags), message, now(),
                            submission_id, os.getpid()))
        finally:
            _PROBING.discard(submission_id)

    def submissions(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM submissions WHERE session_id=? ORDER BY id",
                               (session_id,)).fetchall()
        return [_decode(r) for r in rows]

    def submission(self, submission_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM submissions WHERE id=?", (submission_id,)).fetchone()
        return _decode(row) if row else None

    def stored_bytes(self, session_id: str) -> int:
        """Bytes of text the session's submission rows hold: notes, messages, log tails, JSON columns."""
        expr = " + ".join(f"LENGTH(CAST({c} AS BLOB))" for c in ("note", "message", "log_tail", *JSON_COLUMNS))
        row = self.db.execute(f"SELECT COALESCE(SUM({expr}), 0) FROM submissions WHERE session_id=?",
                              (session_id,)).fetchone()
        return int(row[0])

    def add_event(self, session_id: str, kind: str, data: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO events (session_id, at, kind, data) VALUES (?,?,?,?)",
                       (session_id, now(), kind, json.dumps(data)))

    def events(self, session_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events WHERE session_id=?", [session_id]
        if kind:
            sql, args = sql + " AND kind=?", args + [kind]
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return [{**dict(r), "data": json.loads(r["data"])} for r in rows]

    def close(self) -> None:
        self.db.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for key in JSON_COLUMNS:
        d[key] = json.loads(d[key])
    return d


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (clock ticks since boot); tells a reused pid apart. Empty
    for a process that is gone or has ended (a zombie its parent has not reaped yet: a probe worker
    SIGKILLed under a long-lived session server is one until the server reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    return "" if fields[0] in ("Z", "X") else fields[19]


def _alive(pid: int | None, started: str | None) -> bool:
    if not pid:
        return False
    current = _start_time(pid)
    return bool(current) and (not started or current == started)

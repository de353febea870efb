"""Bounded storage per session (issue 19 item 5), notes validated once (issue 11 item 11) and the disk
verdict on a nearly full job folder (issue 11 item 12).

- A submission that will not be scored (time up, rate limit) is recorded without a snapshot; nothing
  is stored before those checks pass.
- A session stores at most $PITFALLS_SESSION_STORAGE_MB (default 512) MiB of snapshots and row text;
  past it nothing is stored and the message says so; what was acknowledged before stays intact.
- Any note (CLI argument, JSON value) gets a clear refusal or is recorded as written.
- A training run that stops 1.1 MiB short of a full disk is told it hit max_disk_mb.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, run_cli
from pitfalls.core.errors import WorkspaceError
from pitfalls.core.notes import MAX_NOTE_CHARS, NoteError, validate_note
from pitfalls.core.store import Store, home
from pitfalls.library.scaffold import _load
from pitfalls.live import sessions
from pitfalls.live.server.service import RequestError, SessionService
from pitfalls.sandbox import quota
from pitfalls.scoring import verdicts
from pitfalls.service import api
from pitfalls.service.storage import LIMIT_ENV, SessionStorageFull, limit_mb, stored_bytes


def snapshot_files(session_id: str) -> list[Path]:
    folder = home() / "snapshots" / session_id
    return sorted(folder.iterdir()) if folder.is_dir() else []


def session_of(ws: Path) -> str:
    return api.read_marker(ws)["session_id"]


def blob(ws: Path, mib: float, name: str = "blob.bin") -> None:
    """An incompressible file: its snapshot is about as large as the file."""
    (ws / name).write_bytes(os.urandom(int(mib * 2**20)))


# --- checks before storage ---------------------------------------------------------------------------

def test_a_submission_after_the_time_is_up_is_recorded_without_a_snapshot(workspace):
    ws = workspace("tumor_triage")
    sid = session_of(ws)
    Store().update_session(sid, duration_minutes=1e-6)  # the time was up 60 microseconds after it began
    time.sleep(0.05)
    blob(ws, 2)  # a large workspace: the attack stored it again on every late submission
    for i in range(3):
        result = api.submit(directory=ws, note=f"late {i}", probes=False)
        assert result.status == "rejected" and result.score is None
        assert [v.constraint for v in result.violations] == ["session_time"]
        assert "without a snapshot" in result.message and "ask the interviewer" in result.message
    assert snapshot_files(sid) == []
    rows = Store().submissions(sid)
    assert [(r["note"], r["status"], r["snapshot"]) for r in rows] == [(f"late {i}", "rejected", "") for i in range(3)]


def test_a_rate_limited_submission_stores_no_snapshot(workspace):
    ws = workspace("tumor_triage")
    sid = session_of(ws)
    store = Store()
    max_scored = api.load_scaffold("tumor_triage").manifest.feedback.max_scored
    for _ in range(max_scored):  # the window's scored submissions, as the store holds them
        sub = store.insert_submission(session_id=sid, note="", metric="balanced_accuracy", snapshot="-",
                                      snapshot_sha256="-")
        store.finish_submission(sub, status="scored", score_public=0.9, score_private=0.9)
    result = api.submit(directory=ws, note="one too many", probes=False)
    assert [v.constraint for v in result.violations] == ["submission_rate"]
    assert "without a snapshot" in result.message and "submit again after" in result.message
    assert snapshot_files(sid) == []
    assert store.submissions(sid)[-1]["note"] == "one too many"


# --- the per-session bound ------------------------------------------------------------------------------

def test_the_bound_defaults_to_512_mib_and_refuses_nonsense(monkeypatch):
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    assert limit_mb() == 512
    for bad in ("0", "-5", "1.5", "lots"):
        monkeypatch.setenv(LIMIT_ENV, bad)
        with pytest.raises(WorkspaceError, match=f"{LIMIT_ENV} must be a positive whole number of MiB"):
            limit_mb()


def test_the_per_session_bound_stores_nothing_past_it_and_keeps_what_was_stored(workspace, monkeypatch):
    ws = workspace("tumor_triage")
    sid = session_of(ws)
    blob(ws, 1.5)

    monkeypatch.setenv(LIMIT_ENV, "1")  # a snapshot that would take the session past the bound
    with pytest.raises(SessionStorageFull) as refused:
        api.submit(directory=ws, note="too big", probes=False)
    msg = str(refused.value)
    assert msg.startswith("A session may store at most 1 MiB of snapshots and logs. Got 0.0 MiB already")
    assert "needs 1.5 MiB more" in msg and "nothing of it was stored" in msg and "Delete large files" in msg
    assert snapshot_files(sid) == [] and Store().submissions(sid) == []

    monkeypatch.setenv(LIMIT_ENV, "2")  # under the bound: stored and scored as before
    kept = api.submit(directory=ws, note="fits", probes=False)
    assert kept.status == "scored", kept.message
    [snap] = snapshot_files(sid)
    digest = hashlib.sha256(snap.read_bytes()).hexdigest()
    used = stored_bytes(Store(), sid)
    assert 1.5 * 2**20 < used < 2 * 2**20

    monkeypatch.setenv(LIMIT_ENV, "1")  # the bound reached: nothing more, not even a late row
    Store().update_session(sid, duration_minutes=1e-6)
    time.sleep(0.05)
    (ws / "blob.bin").unlink()
    for note in ("small now", "late too"):
        with pytest.raises(SessionStorageFull, match=r"Got 1\.\d MiB already; this submission was not stored"):
            api.submit(directory=ws, note=note, probes=False)
    assert snapshot_files(sid) == [snap] and hashlib.sha256(snap.read_bytes()).hexdigest() == digest
    assert [r["note"] for r in Store().submissions(sid)] == ["fits"]
    assert stored_bytes(Store(), sid) == used


def test_stored_log_tails_are_bounded(workspace):
    """Training that prints megabytes: the row keeps a tail of a few KiB."""
    ws = workspace("tumor_triage")
    (ws / "train.py").write_text((ws / "train.py").read_text() + "\nprint('x' * 2**20)\nprint('é' * 2**20)\n")
    result = api.submit(directory=ws, note="chatty", probes=False)
    assert len(result.log_tail) <= 8192 and len(result.log_tail.encode()) <= 3 * 8192
    assert Store().stored_bytes(session_of(ws)) < 64 * 1024


# --- notes -------------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=MAX_NOTE_CHARS + 5) | st.binary(max_size=50).map(lambda b: b.decode("utf-8", "surrogateescape"))
       | st.none() | st.integers() | st.lists(st.text(max_size=3), max_size=2), required=st.booleans())
def test_any_note_is_recorded_as_written_or_refused_clearly(text, required):
    try:
        kept = validate_note(text, what="A note" if required else "The note", required=required)
    except NoteError as exc:
        msg = str(exc)
        assert msg.startswith("A note must be non-empty text" if required else "The note must be text")
        assert "Got " in msg and " instead." in msg and len(msg) < 400
        return
    kept.encode("utf-8")  # SQLite and every view can hold it
    assert len(kept) <= MAX_NOTE_CHARS and not any(ord(c) < 32 and c not in "\t\n" for c in kept)
    assert kept == (text.replace("\r\n", "\n").strip() if required else text.replace("\r\n", "\n"))


@pytest.mark.parametrize("note, said", [("\udcff", "undecodable byte"), ("red \x1b[31m", "U+001B"),
                                        ("a\u202etxt.exe", "U+202E"), ("x" * 2001, "2,001 characters"),
                                        (None, "type NoneType")])
def test_a_bad_note_stores_nothing(workspace, note, said):
    ws = workspace("tumor_triage")
    with pytest.raises(NoteError, match=re.escape(said)):
        api.submit(directory=ws, note=note, probes=False)
    assert snapshot_files(session_of(ws)) == [] and Store().submissions(session_of(ws)) == []


def test_the_cli_refuses_an_undecodable_note_without_a_traceback(workspace):
    ws = workspace("tumor_triage")
    proc = run_cli("submit", "--dir", str(ws), "--note", os.fsdecode(b"caf\xe9 latin-1"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "must be text of at most 2000 characters (valid UTF-8" in proc.stderr + proc.stdout
    assert Store().submissions(session_of(ws)) == []


@pytest.fixture
def service(pitfalls_home) -> SessionService:
    live = sessions._create(Store(), scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    svc = SessionService(session_id=live.session_id)
    yield svc
    svc.close()


def test_the_session_server_answers_bad_notes_and_a_full_session_with_400(service, monkeypatch):
    for bad in ("\udc80", "\x00", 7):
        with pytest.raises(RequestError) as exc:
            asyncio.run(service.submit(bad))
        assert exc.value.status == 400 and str(exc.value).startswith("The note must be text")
    for bad in ("\x1b]0;owned\x07", "  ", "\ud800"):
        with pytest.raises(RequestError) as exc:
            service.add_note(bad)
        assert exc.value.status == 400 and str(exc.value).startswith("A note must be non-empty text")
    assert service.add_note("  tab\tand\r\nnewline ")["text"] == "tab\tand\nnewline"
    blob(service.live.workspace, 1.5)
    monkeypatch.setenv(LIMIT_ENV, "1")
    with pytest.raises(RequestError) as exc:
        asyncio.run(service.submit("big"))
    assert exc.value.status == 400 and str(exc.value).startswith("A session may store at most 1 MiB")
    assert Store().submissions(service.live.session_id) == [] and snapshot_files(service.live.session_id) == []


# --- the disk verdict --------------------------------------------------------------------------------------

needs_quota = pytest.mark.skipif(not quota.available(), reason="bounded folders need root and loop devices")


def fill(folder: Path, leave: float) -> None:
    """Write files until ``leave`` MiB are free (as a careful candidate would, never hitting ENOSPC)."""
    n = 0
    while (free := shutil.disk_usage(folder).free) > leave * 2**20:
        with open(folder / f"fill-{n}.bin", "wb") as fh:
            fh.write(b"\1" * min(2**20, int(free - leave * 2**20)))
        n += 1


@needs_quota
def test_a_folder_filled_to_1_1_mib_short_is_a_disk_violation():
    with quota.bounded_folder(size_mb=48) as folder:
        assert verdicts.disk_violation(folder, phase="training", max_disk_mb=16) is None  # empty: a crash
        fill(folder, leave=1.1)
        v = verdicts.disk_violation(folder, phase="training", max_disk_mb=16)
        assert v is not None and v.constraint == "max_disk_mb" and v.limit == 16
        assert "must write at most 16 MiB" in v.message and "nearly full folder (1.1 MiB free of" in v.message
        for f in sorted(folder.glob("fill-*"))[:8]:  # freed 8 MiB again, then died on ENOSPC
            f.unlink()
        assert verdicts.disk_violation(folder, phase="training", max_disk_mb=16) is None
        said = "OSError: [Errno 28] No space left on device: 'ckpt.bin'"
        v = verdicts.disk_violation(folder, phase="training", max_disk_mb=16, log_tail=said)
        assert v is not None and "failed with No space left on device" in v.message


def test_an_unbounded_folder_never_gives_a_disk_violation(tmp_path):
    said = "OSError: [Errno 28] No space left on device"
    assert verdicts.disk_violation(tmp_path, phase="training", max_disk_mb=16, log_tail=said) is None


@pytest.fixture
def small_disk(tmp_path, monkeypatch) -> str:
    """tumor_triage with max_disk_mb = 16 (a modified copy in the scaffold pack ``small``)."""
    root = tmp_path / "small"
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", root / "tumor_triage",
                    ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    toml = root / "tumor_triage" / "scaffold.toml"
    toml.write_text(toml.read_text().replace("max_file_mb = 64\n", "max_file_mb = 64\nmax_disk_mb = 16\n"))
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(root))
    _load.cache_clear()
    yield "small/tumor_triage"
    _load.cache_clear()


@needs_quota
@pytest.mark.parametrize("ending", ["exit", "enospc_then_free"])
def test_training_that_stops_short_of_a_full_disk_gets_the_disk_verdict(workspace, small_disk, ending):
    """The attack: fill to 1.1 MiB short and crash (was "must exit cleanly"), or hit ENOSPC, free some
    space and crash on the error (the log says so)."""
    body = {"exit": ("import shutil, sys\nn = 0\nwhile (free := shutil.disk_usage('.').free) > 1.1 * 2**20:\n"
                     "    open(f'fill-{n}.bin', 'wb').write(b'1' * min(2**20, int(free - 1.1 * 2**20)))\n"
                     "    n += 1\nprint('stopped', free, 'short', flush=True)\nsys.exit(1)\n"),
            "enospc_then_free": ("import glob, os\ntry:\n    for n in range(10**6):\n"
                                 "        open(f'fill-{n}.bin', 'wb').write(b'1' * 2**20)\n"
                                 "except OSError:\n    for f in sorted(glob.glob('fill-*'))[:10]:\n"
                                 "        os.remove(f)\n    raise\n")}[ending]
    ws = workspace(small_disk, files={"train.py": body})
    result = api.submit(directory=ws, note=ending, probes=False)
    assert result.status == "rejected", result.message
    assert [v.constraint for v in result.violations] == ["max_disk_mb"], result.message
    assert "must write at most 16 MiB (max_disk_mb)" in result.message
    assert ("nearly full folder" if ending == "exit" else "No space left on device") in result.message


def test_a_crash_with_room_left_is_still_a_crash(workspace):
    ws = workspace("tumor_triage", files={"train.py": "import sys\nprint('bye')\nsys.exit(3)\n"})
    result = api.submit(directory=ws, note="crash", probes=False)
    assert result.status == "failed" and "must exit cleanly" in result.message and not result.violations

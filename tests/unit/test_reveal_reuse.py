"""`pitfalls reveal` shows the verdicts of a probed submission when the workspace holds exactly its
files, instead of probing the same files again (minutes on the torch scaffolds), and never for
changed files: the comparison is over every path, mode and byte, not times, and a stored snapshot
that no longer matches its recorded digest is not trusted.

No probe runs here (a unit test may not start a sandbox): the stored verdicts are written through the
Store as the probe worker writes them, all "fixed" on the starter whose bugs are all present, so a
reveal that shows "fixed" used them, and one that probed (refused here) cannot show "fixed".
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pitfalls.cli import render
from pitfalls.core.results import ProbeResult
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import pack_workspace, read_marker
from pitfalls.service import api, unchanged
from pitfalls.service.storage import store_snapshot

NAME = "tumor_triage"
BUGS = load_scaffold(NAME).manifest.bugs


def _probed(ws: Path, probe_status: str = "done") -> tuple[Store, str, int]:
    """A scored submission of ``ws`` as it is now, its probes recorded ``probe_status`` with every
    verdict "fixed" (the starter has every bug: only a reveal that reuses them can say fixed)."""
    store, sid = Store(), read_marker(ws)["session_id"]
    snapshot, digest = store_snapshot(directory=ws, session_id=sid, used=0)
    sub = store.insert_submission(session_id=sid, note="starter", metric="roc_auc", snapshot=str(snapshot),
                                  snapshot_sha256=digest)
    store.finish_submission(sub, status="scored", score_public=0.9, probe_status="running")
    store.finish_probes(sub, status="done" if probe_status == "done" else "failed",
                        probes=[ProbeResult(b, "fixed", "stored verdict").__dict__ for b in BUGS]
                        if probe_status == "done" else [], probe_flags=[])
    return store, sid, sub


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    api.start_practice(name=NAME, directory=tmp_path / "ws", variant="base")
    return tmp_path / "ws"


def test_an_unchanged_workspace_shows_the_submission_s_verdicts_without_probing(ws):
    store, _, sub = _probed(ws)
    for path in ws.rglob("*.py"):  # newer times, same files: still unchanged
        os.utime(path, (1e9, 1e9))
    (ws / "artifacts").mkdir(exist_ok=True)
    (ws / "artifacts" / "model.bin").write_bytes(b"trained since")  # not what a submission snapshots
    rv = api.reveal(directory=ws, store=store, wait_seconds=0)
    assert {b["id"]: (b["status"], b["evidence"]) for b in rv.bugs} == {b: ("fixed", "stored verdict") for b in BUGS}
    assert rv.verdicts_of == sub
    text = render.reveal(rv)
    assert f"verdicts of submission #{sub}: the workspace is unchanged since" in text


def _same_size_and_time(ws: Path) -> None:
    path = ws / "model.py"
    st, text = path.stat(), path.read_text()
    i = next(i for i, c in enumerate(text) if c.isalpha())
    path.write_text(text[:i] + ("b" if text[i] != "b" else "c") + text[i + 1:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


CHANGES = {
    "one byte, same size and time": _same_size_and_time,
    "a new file": lambda ws: (ws / "helpers.py").write_text("X = 1\n"),
    "a file removed": lambda ws: (ws / "model.py").unlink(),
    "a mode changed": lambda ws: (ws / "model.py").chmod(0o755),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_changed_files_are_probed_again_never_given_the_stale_verdicts(ws, change):
    store, sid, _ = _probed(ws)
    CHANGES[change](ws)
    assert unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0) is None
    rv = api.reveal(directory=ws, store=store, wait_seconds=0)  # its probe run is refused in a unit test
    assert not any(b["status"] == "fixed" for b in rv.bugs) and rv.verdicts_of is None
    assert "the workspace is unchanged since" not in render.reveal(rv)


def test_a_snapshot_rewritten_to_match_changed_code_is_not_trusted(ws):
    """Adversarial: change the code, then overwrite the stored snapshot with the changed files."""
    store, sid, sub = _probed(ws)
    (ws / "model.py").write_text((ws / "model.py").read_text() + "\n# tuned\n")
    with open(store.submission(sub)["snapshot"], "wb") as snap:
        pack_workspace(directory=ws, fileobj=snap)
    assert unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0) is None


def test_probes_that_failed_are_not_reused(ws):
    store, sid, _ = _probed(ws, probe_status="failed")
    assert unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0) is None


def test_the_newest_matching_submission_is_named_after_an_edit_and_its_undo(ws):
    store, sid, first = _probed(ws)
    original = (ws / "model.py").read_text()
    (ws / "model.py").write_text(original + "\n# tried something\n")
    _, _, second = _probed(ws)
    (ws / "model.py").write_text(original)  # undone: the first submission's files again
    found = unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0)
    assert found is not None and found[0] == first and second != first


def test_a_matching_submission_still_probing_is_waited_for(ws):
    """Probes of the same files finishing within the reveal's wait are used (not run a second time)."""
    store, sid = Store(), read_marker(ws)["session_id"]
    snapshot, digest = store_snapshot(directory=ws, session_id=sid, used=0)
    sub = store.insert_submission(session_id=sid, note="n", metric="roc_auc", snapshot=str(snapshot),
                                  snapshot_sha256=digest)
    store.finish_submission(sub, status="scored", score_public=0.9, probe_status="running")  # probed by this process

    def finish() -> None:
        time.sleep(1.0)
        Store().finish_probes(sub, status="done", probe_flags=[],
                              probes=[ProbeResult(b, "fixed", "stored verdict").__dict__ for b in BUGS])

    threading.Thread(target=finish).start()
    start = time.monotonic()
    found = unchanged.unchanged_verdicts(store, sid, ws, BUGS, 30)
    assert found is not None and found[0] == sub and 0.9 < time.monotonic() - start < 20
    assert {b: r.status for b, r in found[1].items()} == {b: "fixed" for b in BUGS}


def test_a_file_name_that_is_not_utf8_neither_crashes_the_reveal_nor_stops_the_reuse(ws):
    """Was: UnicodeEncodeError out of `pitfalls reveal`, for good once such a name was snapshotted."""
    (ws / os.fsdecode(b"bad\xff.py")).write_text("X = 1\n")
    store, sid, sub = _probed(ws)
    found = unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0)
    assert found is not None and found[0] == sub
    assert api.reveal(directory=ws, store=store, wait_seconds=0).verdicts_of == sub


def test_verdicts_that_decided_nothing_are_probed_again(ws):
    """A background probe that timed out or failed in the runner is stored done with 'unknown' verdicts."""
    store, sid = Store(), read_marker(ws)["session_id"]
    snapshot, digest = store_snapshot(directory=ws, session_id=sid, used=0)
    sub = store.insert_submission(session_id=sid, note="n", metric="roc_auc", snapshot=str(snapshot),
                                  snapshot_sha256=digest)
    store.finish_submission(sub, status="scored", score_public=0.9, probe_status="running")
    store.finish_probes(sub, status="done", probe_flags=[],
                        probes=[ProbeResult(b, "unknown", "the probes did not run: timed out").__dict__ for b in BUGS])
    assert unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0) is None


def test_of_two_submissions_of_the_same_files_the_newest_is_named(ws):
    store, sid, first = _probed(ws)
    _, _, second = _probed(ws)
    found = unchanged.unchanged_verdicts(store, sid, ws, BUGS, 0)
    assert found is not None and found[0] == second != first


def test_the_probe_sandbox_leaves_out_what_snapshots_leave_out(ws, tmp_path):
    """Reused verdicts are of a snapshot, which has no .git or .venv: a fresh probe of the workspace
    must not see them either, or code there could make the two disagree."""
    from pitfalls.scoring.jobs import copy_workspace

    for tool in (".venv", ".git"):
        (ws / tool).mkdir()
        (ws / tool / "impl.py").write_text("BUGGY = True\n")
    copy_workspace(ws, tmp_path / "copy")
    assert (tmp_path / "copy" / "model.py").is_file()
    assert not (tmp_path / "copy" / ".venv").exists() and not (tmp_path / "copy" / ".git").exists()

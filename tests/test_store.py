"""Durability: nothing acknowledged is lost, even when the runner is killed mid-scoring.

These score real submissions; the store on its own is tests/unit/test_core_store.py."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from conftest import run_cli, submit_json
from pitfalls.core.store import Store, home

SLOW_TRAIN = "import time\ntime.sleep(30)\n"


def _wait_for_running(store_path: Path, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_path.exists():
            store = Store(store_path)
            rows = store.db.execute("SELECT * FROM submissions WHERE status='running'").fetchall()
            store.close()
            if rows:
                return dict(rows[0])
        time.sleep(0.2)
    raise AssertionError("no running submission appeared")


def _sandbox_processes() -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes().replace(b"\0", b" ").startswith(b"bwrap"):
                    found.append(d.name)
            except OSError:
                pass
    return found


def test_killed_runner_loses_nothing(workspace, pitfalls_home):
    """SIGKILL the runner while it trains: the submission and its snapshot survive, the row is
    marked failed (not left half-written), no sandbox process survives, and the session goes on."""
    ws = workspace("tumor_triage")
    original_train = (ws / "train.py").read_text()
    (ws / "train.py").write_text(SLOW_TRAIN + original_train)
    before = set(_sandbox_processes())
    proc = subprocess.Popen([sys.executable, "-m", "pitfalls", "submit", "--dir", str(ws), "--note", "slow one",
                             "--no-probes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    row = _wait_for_running(pitfalls_home / "pitfalls.sqlite")
    time.sleep(2)  # inside training now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1)
    assert set(_sandbox_processes()) <= before, "a sandbox outlived its runner"

    store = Store(pitfalls_home / "pitfalls.sqlite")  # opening recovers interrupted rows
    rows = store.submissions(row["session_id"])
    store.close()
    assert [r["status"] for r in rows] == ["failed"]
    assert "interrupted" in rows[0]["message"] and rows[0]["note"] == "slow one"
    snap = Path(rows[0]["snapshot"])
    assert hashlib.sha256(snap.read_bytes()).hexdigest() == rows[0]["snapshot_sha256"]
    with tarfile.open(snap) as tar:
        assert tar.extractfile("train.py").read().decode().startswith(SLOW_TRAIN)

    (ws / "train.py").write_text(original_train)
    again = submit_json(ws, "--note", "after the crash", "--no-probes")
    assert again["status"] == "scored"
    hist = json.loads(run_cli("history", "--dir", str(ws), "--json", check=True).stdout)
    assert [h["note"] for h in hist] == ["slow one", "after the crash"]


def test_rate_limit_rejects_but_records(workspace, monkeypatch, tmp_path):
    """Past the scaffold's scored-submission limit, a submission is recorded and rejected unscored."""
    import shutil

    from pitfalls.library.scaffold import _load

    root = tmp_path / "strict"  # a scaffold pack: strict/tumor_triage
    shutil.copytree(Path(__file__).resolve().parent.parent / "scaffolds" / "tumor_triage", root / "tumor_triage")
    toml = root / "tumor_triage" / "scaffold.toml"
    toml.write_text(toml.read_text().replace("max_scored = 20", "max_scored = 1"))
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(root))
    _load.cache_clear()
    ws = workspace("strict/tumor_triage")
    assert submit_json(ws, "--no-probes")["status"] == "scored"
    second = submit_json(ws, "--no-probes", "--note", "too soon")
    assert second["status"] == "rejected" and second["score"] is None
    assert second["violations"][0]["constraint"] == "submission_rate"
    assert "At most 1 scored submissions" in second["message"] and "without a snapshot" in second["message"]
    [sid] = {r["session_id"] for r in Store().db.execute("SELECT session_id FROM submissions")}
    assert len(list((home() / "snapshots" / sid).iterdir())) == 1  # the rejected one stored none
    hist = json.loads(run_cli("history", "--dir", str(ws), "--json", check=True).stdout)
    assert [h["status"] for h in hist] == ["scored", "rejected"]
    _load.cache_clear()

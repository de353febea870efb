"""Prepared variants (runner/live/prepared.py, issue 18 item 2): the host server draws the next variant
of a recently used scaffold and measures its scale ahead, so a new session with a newly drawn variant
starts without two training runs. No Docker: the sessions are records, the host server is real."""

from __future__ import annotations

import time

import pytest

from pitfalls.core.store import Store
from pitfalls.library import workspace
from pitfalls.library.manifest import load_manifest
from pitfalls.library.scaffold import load_scaffold, scaffold_path
from pitfalls.live import prepared, sessions
from pitfalls.live.host import process as host
from pitfalls.live.jupyter import free_port
from pitfalls.scoring import anchors

SPEC = load_manifest(scaffold_path("tumor_triage") / "scaffold.toml").variants


def _new_session(candidate: str, variant: str | None = None) -> sessions.LiveSession:
    return sessions._create(Store(), scaffold="tumor_triage", candidate=candidate, duration_minutes=30,
                            host="127.0.0.1", port=free_port(0), interviewer_port=free_port(0), url_host="",
                            memory_mb=2048, cpus=1.0, disk_mb=0, fill=False, variant=variant)


def _put(vid: str) -> None:
    folder = prepared._folder("tumor_triage")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / vid).touch()
    time.sleep(0.01)  # mtimes order them


def test_a_start_takes_each_prepared_variant_once_and_only_when_none_is_asked_for(pitfalls_home, monkeypatch):
    monkeypatch.delenv("PITFALLS_VARIANT")
    _put("v7")
    _put("v3")
    assert prepared.take("tumor_triage", SPEC, "v2") is None and prepared.take("tumor_triage", None, None) is None
    monkeypatch.setenv("PITFALLS_VARIANT", "base")
    assert prepared.take("tumor_triage", SPEC, None) is None  # pinned: nothing is taken
    monkeypatch.delenv("PITFALLS_VARIANT")
    assert _new_session("A").scaffold == "tumor_triage@v7"  # the oldest first
    assert _new_session("B", variant="base").scaffold == "tumor_triage"
    assert prepared.prepared("tumor_triage") == ["v3"]
    assert prepared.take("tumor_triage", SPEC, None) == "v3" and prepared.take("tumor_triage", SPEC, None) is None


def test_recent_scaffolds_are_those_of_live_sessions_by_their_shipped_id(pitfalls_home):
    _new_session("A", variant="v2")
    _new_session("B", variant="v5")
    store = Store()
    assert [sid for sid, _ in prepared.recent_scaffolds(store)] == ["tumor_triage"]
    with store.tx() as db:
        db.execute("UPDATE sessions SET created_at='2020-01-01T00:00:00+00:00'")
    assert prepared.recent_scaffolds(store) == []


def test_the_host_server_prepares_the_next_variant_and_its_start_neither_measures_nor_builds(
        pitfalls_home, monkeypatch, tmp_path):
    monkeypatch.delenv("PITFALLS_VARIANT")
    first = _new_session("A")  # a live session of tumor_triage this week: the host server prepares its next
    proc = host.start_detached()
    try:
        deadline = time.monotonic() + 600
        while not prepared.prepared("tumor_triage"):
            assert time.monotonic() < deadline, f"no variant was prepared within 600 s: {host.log_tail(5)}"
            assert proc.poll() is None, host.log_tail(5)
            time.sleep(0.5)
        [vid] = prepared.prepared("tumor_triage")
        live = _new_session("B")
        assert live.scaffold == f"tumor_triage@{vid}" and first.scaffold != "tumor_triage"
        before = anchors.runs
        sessions.prepare_scale(live, progress=pytest.fail)  # cached: nothing measured, nothing said
        assert anchors.runs == before
        assert workspace.cached_starter(live.scaffold, build=False) is not None  # its files, built ahead
        sessions.fill_workspace(live)
        assert workspace.cached_starter(live.scaffold, build=False) is None  # taken: one session per variant
        workspace.create_workspace(scaffold=load_scaffold(live.scaffold), directory=tmp_path / "cold", session_id="x",
                                   live=True)  # the copy is what a start without it would have written
        for name in ("data/train.csv", "train.py", "BRIEF.md"):
            assert (live.workspace / name).read_bytes() == (tmp_path / "cold" / name).read_bytes(), name
    finally:
        host.stop()
        proc.wait(timeout=120)


def test_a_variant_loaded_without_hooks_does_not_stand_in_for_one_with_them(pitfalls_home):
    assert load_scaffold("tumor_triage@v3", hooks=False).hooks is None
    assert load_scaffold("tumor_triage@v3").hooks is not None

"""A new live session whose server dies before it answers (its port taken between the claim and
the bind, a crash at import) must not leave its container running or the session open to resume:
found after a failed `session start` kept its container up for 35 minutes (2026-12-05)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.live import containers, process, sessions
from pitfalls.live.process import SessionError, spawn_server, stop_server, wait_for_server, wait_moving_ports

pytestmark = pytest.mark.docker


def test_a_new_session_whose_server_dies_is_ended_and_leaves_no_container(pitfalls_home: Path, monkeypatch):
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    real_wait = process.wait_for_server
    seen: dict[str, object] = {}

    def server_dies(live: sessions.LiveSession, proc: subprocess.Popen) -> None:
        """The real server, SIGKILLed before it answered; the real wait then reports it."""
        seen["container"], seen["id"] = live.container, live.session_id
        seen["state"] = containers.container_status(name_or_id=live.container)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        real_wait(live, proc)

    monkeypatch.setattr(process, "wait_for_server", server_dies)
    with pytest.raises(SessionError, match="must keep running"):
        sessions.start_session(scaffold="tumor_triage", candidate="Ada", duration_minutes=30)
    assert seen["state"] is not None, "the container was up when the server died"
    assert containers.container_status(name_or_id=str(seen["container"])) is None, "its container is gone"
    row = Store().session(str(seen["id"]))
    assert row is not None and row["ended_at"], row  # ended: a later start makes a new session


def test_a_state_folder_too_deep_for_the_session_sockets_is_refused_first(tmp_path: Path, monkeypatch):
    """Was: `session start` under a deep PITFALLS_HOME (a long pytest tmp path under xdist) ran the
    container, then failed after 90 s with "Jupyter ... must answer ... Got no answer" (the host could
    not connect to a socket path over 107 bytes). Now: refused before any image, row or container."""
    deep = tmp_path / ("d" * 60)
    monkeypatch.setenv("PITFALLS_HOME", str(deep))
    with pytest.raises(SessionError, match=r"^A session's socket paths must be at most 107 bytes .* Got \d+ bytes "
                                           r"for .*session\.sock instead\. Fix: set PITFALLS_HOME to a shorter"):
        sessions.start_session(scaffold="tumor_triage", candidate="Ada", duration_minutes=30)
    assert not (deep / "pitfalls.sqlite").exists()


def test_a_port_taken_between_the_claim_and_the_bind_is_replaced_unless_given(pitfalls_home: Path):
    """Was: the full run's tests/test_faults.py claimed port 8891 in its own PITFALLS_HOME, trained
    the scoring scale for a minute, and meanwhile another worker's session server bound 8891; the
    server then died with "Address already in use" (CI, 2026-12-05). The ports are claimed in
    session.json, which another program never reads: they are checked again just before the bind."""
    store = Store()
    live = sessions._create(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    store.close()
    taken = live.interviewer_port
    with socket.socket() as squatter:  # another program, listening on the claimed port
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(SessionError, match=rf"^Port {taken} must be free for the session server\. Got it in "
                                               r"use by another program\. Fix: .* pass another --interviewer-port"):
            spawn_server(live, fixed=frozenset({taken}))
        proc = spawn_server(live)
        try:
            assert proc is not None and live.interviewer_port not in (taken, live.port)
            assert sessions.load_session(live.session_id).interviewer_port == live.interviewer_port  # saved
            wait_for_server(live, proc)  # it answers on the new port
        finally:
            stop_server(live)


def test_a_port_bound_by_another_process_during_the_server_start_moves_and_the_start_succeeds(pitfalls_home: Path):
    """Was: the full run's session_hardening fixture failed with "Address already in use": another
    worker's session (another PITFALLS_HOME) bound 8891 after this one's check and before its server's
    own bind, which comes a second or more later, after its imports."""
    store = Store()
    live = sessions._create(store, scaffold="tumor_triage", candidate="Ada", duration_minutes=30,
                            host="127.0.0.1", port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    store.close()
    try:
        proc = spawn_server(live)
        taken = live.interviewer_port
        with socket.socket() as squatter:  # bound while the new server is still importing: the race
            squatter.bind(("127.0.0.1", taken))
            squatter.listen()
            wait_moving_ports(live, proc)
            assert live.interviewer_port != taken
            assert sessions.load_session(live.session_id).interviewer_port == live.interviewer_port
        stop_server(live)
        proc = spawn_server(live)
        given = live.interviewer_port
        with socket.socket() as squatter:  # the same race on a port given on the command line
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # its polls' connections wait in TIME_WAIT
            squatter.bind(("127.0.0.1", given))
            squatter.listen()
            with pytest.raises(SessionError, match=rf"^Port {given} must be free for the session server\. Got it in "
                                                   r"use by another program\. Fix: "):
                wait_moving_ports(live, proc, fixed=frozenset({given}))  # never moved; said clearly
    finally:
        stop_server(live)

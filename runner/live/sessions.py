"""Live interview sessions: the candidate's container plus a host-side session server.

A session lives in ``$PITFALLS_HOME/sessions/<id>/``:

- ``session.json`` (mode 0600): scaffold, the two ports (candidate's and interviewer's: two origins,
  so no script of the candidate's ever runs where the interviewer's token is), the two tokens,
  container name, server pid;
- ``workspace/``: the candidate's files, bind-mounted into the container, kept by ``stop``;
  while the session runs, a size-limited file system (``workspace.img``, see runner/sandbox/quota.py);
- ``run/``: mounted at /run/pitfalls: ``jupyter.sock`` (the candidate's JupyterLab) and
  ``session.sock`` (``pitfalls-submit``, served by the session server);
- ``server.log``: the session server's log (rotated: ``server.log.1`` ...);
- ``jp.sock``: the session server's jupyter-server itself (mode 0600, for the host only).

Submissions, notes and events are rows of the SQLite store, so nothing is lost when the kernel,
the container or the session server dies; ``start_session`` on the same session resumes it.

A new session with the default limits claims a warm container when the host server keeps one
(runner/live/pool.py): its folder (workspace, run folder, disk image) becomes the session's folder
and its lab's token the candidate's, so the start writes the starting files and attaches.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pitfalls.core.clock import session_clock
from pitfalls.core.errors import SessionError
from pitfalls.core.packs import locate
from pitfalls.core.store import Store, now
from pitfalls.library.catalogs import require_own_ids
from pitfalls.library.manifest import load_manifest
from pitfalls.library.variant import pick
from pitfalls.library.variant_spec import split_ref
from pitfalls.library.workspace import create_workspace_cached
from pitfalls.live import containers, pool, prepared, timer
from pitfalls.live.process import (
    port_lock,
    server_running,
    spawn_server,
    stop_server,
    unclaimed_port,
    wait_for_server,  # noqa: F401 - re-exported (tests/test_faults.py)
    wait_moving_ports,
)
from pitfalls.live.record import (  # the record; re-exported here
    CANDIDATE_PREFIX,
    LiveSession,
    SessionInfo,
    check_socket_room,
    load_session,
    sessions_dir,
)
from pitfalls.sandbox import quota

DEFAULT_MINUTES = 60.0
"""A new session's length when ``session start`` gets no ``--duration`` (a resumed one keeps its own)."""


def _find_open(store: Store, scaffold: str, candidate: str) -> str | None:
    """The newest open live session of ``scaffold`` (any of its variants, ``scaffold@vN``) and ``candidate``."""
    rows = store.db.execute("SELECT id FROM sessions WHERE mode='live' AND (scaffold=? OR scaffold GLOB ?) AND "
                            "candidate=? AND ended_at IS NULL ORDER BY created_at DESC",
                            (scaffold, f"{scaffold}@v[0-9]*", candidate)).fetchall()
    return next((r["id"] for r in rows if (sessions_dir() / r["id"] / "session.json").is_file()), None)


def _create(store: Store, *, scaffold: str, candidate: str, duration_minutes: float | None, host: str,
            port: int | None, url_host: str, memory_mb: int, cpus: float, disk_mb: int,
            fill: bool = True, interviewer_port: int | None = None, variant: str | None = None,
            image: str = "") -> LiveSession:
    """A new session's folder and record; its workspace is filled unless ``fill`` is False. ``variant``:
    an id, ``base`` or None (drawn when the scaffold declares variants: runner/library/variant.py).
    ``image``: the candidate image's tag; given, a warm container of it with these limits is claimed
    when one is ready (runner/live/pool.py): the folder is then the warm entry's, its lab running."""
    name, source = locate(scaffold)  # its id and folder; the hooks load in fill_workspace
    require_own_ids(name)  # a pack entry reusing a shipped id would read as the shipped one
    spec = load_manifest(source / "scaffold.toml").variants  # a broken manifest stops here
    name = pick(name, spec, prepared.take(name, spec, variant) or variant)  # one whose scale is measured, if any
    session_id = store.create_session(scaffold=name, workspace=Path("/pending"), mode="live", candidate=candidate,
                                      duration_minutes=duration_minutes or None, scaffold_source=str(source))
    timer.set_length(store, session_id, duration_minutes, by="start")  # the clock waits for the lab
    with port_lock(sessions_dir()):  # the ports are claimed by session.json: concurrent starts never share one
        port = port or unclaimed_port(sessions_dir(), preferred=8890, taken={interviewer_port or 0})
        live = LiveSession(session_id=session_id, scaffold=name, scaffold_source=str(source), candidate=candidate,
                           host=host, port=port,
                           interviewer_port=interviewer_port or unclaimed_port(sessions_dir(), preferred=8891,
                                                                               taken={port}),
                           candidate_token=secrets.token_urlsafe(24), interviewer_token=secrets.token_urlsafe(24),
                           container=f"pitfalls-session-{session_id}", memory_mb=memory_mb, cpus=cpus,
                           url_host=url_host, disk_mb=disk_mb, ready=False)
        _check_ports(live)
        warm = pool.claim(live.dir, image=image, limits=pool.Limits(memory_mb, cpus, disk_mb)) if image else None
        if warm is None:
            live.dir.mkdir(mode=0o700)
        else:  # its lab answers this token, which nobody has seen: the candidate's from now on
            live.candidate_token = warm.token
            if not containers.rename_container(old=warm.container, new=live.container):
                live.container = warm.container
        # Saved under the lock: a warm container no session records is an orphan (pool.sweep_orphans).
        live.save()
    if warm is None:
        live.run_dir.mkdir(mode=0o755)
        live.workspace.mkdir()
    if fill:
        fill_workspace(live)
    with store.tx() as db:
        db.execute("UPDATE sessions SET workspace=? WHERE id=?", (str(live.workspace.resolve()), session_id))
    live.save()
    return live


def _check_ports(live: LiveSession) -> None:
    if live.port == live.interviewer_port:
        raise SessionError(f"The candidate's and the interviewer's ports must differ (two origins). Got "
                           f"{live.port} for both. Fix: pass different --port and --interviewer-port.")


def _claim_interviewer_port(live: LiveSession) -> None:
    """A session saved before the ports were split gets its interviewer's port now, once."""
    if live.interviewer_port:
        return
    with port_lock(sessions_dir()):
        live.interviewer_port = unclaimed_port(sessions_dir(), preferred=8891, taken={live.port})
        live.save()


def fill_workspace(live: LiveSession) -> None:
    """Write a new session's starting files into its workspace, owned by the candidate; then mark it
    ready. A workspace not marked ready was never shown to anyone: what a killed start left in it
    is cleared first."""
    for entry in [] if live.ready else list(live.workspace.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    create_workspace_cached(scaffold=live.scaffold, directory=live.workspace, session_id=live.session_id, live=True,
                            source=live.scaffold_source or None)
    containers.hand_to_candidate(live.workspace)
    live.ready = True
    live.save()


def _bound_workspace(live: LiveSession) -> None:
    """Put the workspace on its size-limited file system (runner/sandbox/quota.py), unless a running
    container still holds it as a plain folder (a session from before quotas): that waits for
    the container's next start."""
    if not (live.disk_mb and quota.available()) or quota.is_mounted(live.workspace):
        return
    state = containers.container_status(name_or_id=live.container)
    if state is None or state.state != "running":
        quota.bound(live.workspace, live.dir / "workspace.img", size_mb=live.disk_mb, owner=containers.CANDIDATE_UID)


def start_session(*, scaffold: str, candidate: str = "", duration_minutes: float | None = None,
                  port: int | None = None, host: str = "127.0.0.1", url_host: str = "",
                  session_id: str | None = None, memory_mb: int = 4096, cpus: float = 2.0,
                  disk_mb: int = 2048, interviewer_port: int | None = None,
                  progress: Callable[[str], None] | None = None, variant: str | None = None) -> SessionInfo:
    """Start a live session of ``scaffold``, or resume one (``session_id``, or the open session of
    the same scaffold and candidate): the image (built first if needed, reporting to ``progress``),
    the container, then the session server. The clock starts (or resumes) once the candidate's
    JupyterLab answers through the server, never earlier.

    ``duration_minutes``: None keeps a resumed session's length (a new one gets :data:`DEFAULT_MINUTES`);
    0 makes the session untimed; a number sets its length (a resumed one keeps the time already used).

    Raises:
        SessionError: the session cannot start; ContainerError: Docker failed.
    """
    check_socket_room()
    image = containers.ensure_image(progress=progress)  # before any session row: a build is nobody's time
    store = Store()
    live, resumed = open_session(store, scaffold=scaffold, candidate=candidate, duration_minutes=duration_minutes,
                                 session_id=session_id, host=host, port=port, url_host=url_host, memory_mb=memory_mb,
                                 cpus=cpus, disk_mb=disk_mb, interviewer_port=interviewer_port, variant=variant,
                                 image=image)
    session_id = live.session_id if resumed else None
    try:
        prepare_scale(live, progress)  # before the lab answers: the candidate's clock does not run yet
    except BaseException:  # interrupted: a new session (and the warm container it claimed) goes
        _abandon(live, store, new=not resumed)
        raise
    fixed = frozenset(p for p in (port, interviewer_port) if p)
    server = _start_parts(live, store, new=not session_id, fixed=fixed)
    if server is not None:
        try:
            wait_moving_ports(live, server, fixed=fixed)  # a port bound by another program meanwhile moves
        except BaseException:
            _abandon(live, store, new=not session_id)
            raise
    timer.mark_up(store, live.session_id)  # the candidate's lab answers through the server: time counts
    return session_info(live, store=store, resumed=bool(session_id))


def prepare_scale(live: LiveSession, progress: Callable[[str], None] | None = None) -> None:
    """Measure the session's scoring scale now unless cached (runner/scoring/anchors.py): a newly
    drawn variant's takes two training runs, which must not run on the candidate's clock nor hold
    up their first submission. A failure is reported to ``progress`` and left to the session
    server, which measures again. A cached scale is found without importing the scaffold's hooks."""
    from pitfalls.core.errors import PitfallsError
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.scoring.anchor_cache import cached_anchors

    source = live.scaffold_source or None
    try:
        if cached_anchors(load_scaffold(live.scaffold, source=source, hooks=False)) is not None:
            return
        from pitfalls.scoring.anchors import anchors

        anchors(load_scaffold(live.scaffold, source=source), say=progress)
    except PitfallsError as exc:
        if progress is not None:
            progress(f"warning: the scoring scale could not be measured ({exc}); the session server tries again.")


def open_session(store: Store, *, scaffold: str, candidate: str, duration_minutes: float | None,
                 session_id: str | None, host: str = "127.0.0.1", port: int | None = None, url_host: str = "",
                 memory_mb: int = 4096, cpus: float = 2.0, disk_mb: int = 2048,
                 interviewer_port: int | None = None, variant: str | None = None,
                 image: str = "") -> tuple[LiveSession, bool]:
    """The record half of :func:`start_session` (no Docker but a warm container's claim, given
    ``image``: see :func:`_create`): the session to resume (``session_id``, or the open one of the
    same scaffold and candidate) with its length set only if ``duration_minutes`` is given, else a
    new one of ``duration_minutes`` or :data:`DEFAULT_MINUTES`. Returns (it, resumed)."""
    if not session_id:  # by its id: given by folder or id, the same open session resumes
        session_id = _find_open(store, locate(scaffold)[0], candidate)
    if not session_id:  # as given: a folder's id (`lib/_draft`) may be no id to look up again
        minutes = DEFAULT_MINUTES if duration_minutes is None else duration_minutes
        return _create(store, scaffold=scaffold, candidate=candidate, duration_minutes=minutes, host=host,
                       port=port, url_host=url_host, memory_mb=memory_mb, cpus=cpus, disk_mb=disk_mb, fill=False,
                       interviewer_port=interviewer_port, variant=variant, image=image), False
    live = load_session(session_id)
    if split_ref(live.scaffold)[0] not in (scaffold, locate(scaffold, live.scaffold_source or None)[0]):
        raise SessionError(f"Session {session_id} must be of scaffold {scaffold!r} to resume it. Got "
                           f"{live.scaffold!r} instead. Run `pitfalls session start {live.scaffold} "
                           f"--session {session_id}`.")
    _claim_interviewer_port(live)
    store.update_session(session_id, ended_at=None)
    if duration_minutes is not None:
        timer.set_length(store, session_id, duration_minutes, by="resume")
    return live, True


def _start_parts(live: LiveSession, store: Store, *, new: bool,
                 fixed: frozenset[int] = frozenset()) -> subprocess.Popen | None:
    """The workspace's file system, then the server, the container and (unless ready) the starting
    files at once. A new session that cannot start is ended, not left to be resumed. ``fixed``: the
    ports given on the command line (never moved)."""
    with ThreadPoolExecutor(1) as pool:
        server = None
        try:
            _bound_workspace(live)
            filler = None if live.ready else pool.submit(fill_workspace, live)
            server = spawn_server(live, fixed=fixed)  # the proxy answers 502 until the container is up
            ensure_container(live)
            if filler is not None:
                filler.result()
        except BaseException:
            _abandon(live, store, new=new)
            raise
    return server


def _abandon(live: LiveSession, store: Store, *, new: bool) -> None:
    """After a failed start: stop the server; a new session also loses its container and is ended
    (not left to be resumed), its workspace's file system released."""
    stop_server(live)
    if not new:
        return
    containers.stop_container(name_or_id=live.container)
    store.update_session(live.session_id, ended_at=now())
    try:
        quota.release(live.workspace, live.dir / "workspace.img")
    except (OSError, quota.QuotaError):
        pass  # the start's own error is the one to report


def _jupyter_answers(live: LiveSession) -> bool:
    sock = live.run_dir / containers.JUPYTER_SOCKET
    try:
        status, _ = containers.unix_http(socket_path=sock, method="GET", path=f"{CANDIDATE_PREFIX}api/status",
                                         token=live.candidate_token, timeout=5)
    except (OSError, containers.ContainerError, Exception):  # noqa: BLE001 - any failure means "start it again"
        return False
    return status == 200


def ensure_container(live: LiveSession) -> None:
    """Keep the candidate's container if its Jupyter answers; else (re)create it on the same workspace."""
    state = containers.container_status(name_or_id=live.container)
    if state and state.state == "running" and _jupyter_answers(live):
        return
    containers.stop_container(name_or_id=live.container)
    containers.run_candidate_container(
        name=live.container, workspace=live.workspace, socket_dir=live.run_dir, token=live.candidate_token,
        memory_mb=live.memory_mb, cpus=live.cpus, base_url=CANDIDATE_PREFIX)
    containers.wait_for_jupyter(container=live.container, socket_dir=live.run_dir, token=live.candidate_token,
                                base_url=CANDIDATE_PREFIX)


def session_info(live: LiveSession, *, store: Store | None = None, resumed: bool = False) -> SessionInfo:
    """The session's URLs, container and server state, timer and submission count."""
    store = store or Store()
    row = store.session(live.session_id) or {}
    clock = session_clock(store, live.session_id)
    state = containers.container_status(name_or_id=live.container) if containers.engine_ready() else None
    return SessionInfo(
        session_id=live.session_id, scaffold=live.scaffold, candidate=live.candidate,
        candidate_url=live.candidate_url, interviewer_url=live.interviewer_url, container=live.container,
        container_state=state.state if state else "absent", server_running=server_running(live),
        workspace=str(live.workspace), created_at=row.get("created_at", ""),
        duration_minutes=clock.minutes if clock else None, remaining_seconds=clock.remaining_seconds if clock else None,
        submissions=len(store.submissions(live.session_id)), ended_at=row.get("ended_at"), resumed=resumed,
        clock=clock.state if clock else "")


def list_sessions() -> list[SessionInfo]:
    """Every live session of this host, newest first."""
    store = Store()
    found = [load_session(p.name) for p in sessions_dir().iterdir() if (p / "session.json").is_file()]
    infos = [session_info(s, store=store) for s in found]
    return sorted(infos, key=lambda i: i.created_at, reverse=True)


def stop_session(*, session_id: str) -> SessionInfo:
    """Stop the container and the server; keep the workspace, submissions and notes."""
    live = load_session(session_id)
    containers.stop_container(name_or_id=live.container)
    stop_server(live)
    if containers.container_status(name_or_id=live.container) is not None:
        raise SessionError(f"Container {live.container} must be gone before its workspace is released. Got it "
                           f"still there. Fix: docker rm -f {live.container}, then stop the session again.")
    quota.release(live.workspace, live.dir / "workspace.img")  # a plain folder again, files kept
    store = Store()
    timer.mark_down(store, session_id, "stopped")  # a stopped session's time does not count
    if not (store.session(session_id) or {}).get("ended_at"):
        store.update_session(session_id, ended_at=now())
    return session_info(live, store=store)

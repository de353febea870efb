"""The scorer as a JupyterHub service (``python -m pitfalls.live.hub``, started by the hub).

JupyterHub spawns the candidate image per user (deploy/jupyterhub/); this process, outside every
candidate container, scores each user's workspace with the same runner and sandbox.

- Who: the request's JupyterHub token (``Authorization: token $JUPYTERHUB_API_TOKEN``) goes to the
  hub (``GET /hub/api/user``); it must hold ``access:services!service=NAME``. Group ``candidates``
  submits; group ``interviewers`` and hub admins read every session.
- Which session: one store session (mode ``hub``) per hub user name, its workspace
  ``$PITFALLS_HUB_USERS/<folder>`` (bind-mounted into the user's container); never the marker file.
- Endpoints under ``$JUPYTERHUB_SERVICE_PREFIX``: ``POST submit {"note"}``, ``GET status`` (the
  answers of ``pitfalls-submit``'s socket protocol) and ``GET sessions`` (interviewers).
- Scoring: one worker thread per user (arrival order), ``PITFALLS_HUB_PARALLEL`` users at once; the
  answer goes back once the score is recorded, the bug probes run afterwards in a detached low-priority
  worker (runner/probes/worker.py), one per user at a time.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import string
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuth, HubAuthenticated, HubOAuth, HubOAuthCallbackHandler, UserNotAllowed
from tornado import httpserver, web

from pitfalls.core.clock import remaining_seconds
from pitfalls.core.errors import PitfallsError, WorkspaceError
from pitfalls.core.finals import FinalChoiceError, final_submission
from pitfalls.core.store import Store, now
from pitfalls.fs.safecopy import hand_over
from pitfalls.library.catalogs import require_own_ids
from pitfalls.library.metrics import METRICS, best_of
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import create_workspace
from pitfalls.live.containers import CANDIDATE_UID
from pitfalls.live.server.service import MAX_QUEUED, RequestError, request_note
from pitfalls.sched import SchedulerBusy
from pitfalls.service import api
from pitfalls.service.preflight import preflight as run_preflight

SAFE_CHARS = frozenset(string.ascii_lowercase + string.digits)
LOCK_FILE = ".pitfalls-hub.lock"
ROUTES = {"submit": ("POST", "candidate"), "status": ("GET", "candidate"), "final": ("POST", "candidate"),
          "preflight": ("POST", "candidate"), "sessions": ("GET", "interviewer")}
log = logging.getLogger("pitfalls.live.hub")


@dataclass(frozen=True)
class HubSettings:
    """What the hub's config and this service agree on: both read ``PITFALLS_HUB_<FIELD>`` (else these defaults)."""

    scaffold: str = "tumor_triage"
    users: Path = Path("/srv/pitfalls/users")  # one workspace folder per hub user
    candidates: str = "candidates"
    interviewers: str = "interviewers"
    minutes: float | None = 60.0  # each session's timer, from the user's first spawn (0: untimed)
    parallel: int = max(1, (os.cpu_count() or 2) // 2)  # users scored at once on this host
    max_queued: int = MAX_QUEUED  # submissions waiting per user

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSettings:
        """The settings of ``env`` (default ``os.environ``); PitfallsError for a bad number."""
        env, types = (os.environ if env is None else env), {"users": Path, "minutes": float, "parallel": int,
                                                             "max_queued": int}
        raw = {f.name: env[k] for f in fields(cls) if (k := f"PITFALLS_HUB_{f.name.upper()}") in env}
        try:
            got: HubSettings | None = cls(**{k: types.get(k, str)(v) for k, v in raw.items()})
        except ValueError:
            got = None
        if got is None or (got.minutes or 0) < 0 or got.parallel < 1 or got.max_queued < 1:
            raise PitfallsError(f"PITFALLS_HUB_MINUTES must be a number >= 0, PITFALLS_HUB_PARALLEL and "
                                f"PITFALLS_HUB_MAX_QUEUED whole numbers >= 1. Got {raw} instead.")
        return replace(got, minutes=got.minutes or None)


@dataclass(frozen=True)
class HubUser:
    """A hub user's pitfalls session and the host folder mounted as their workspace."""

    name: str
    session_id: str
    workspace: Path


def workspace_folder(username: str) -> str:
    """The user's folder name: ``[a-z0-9]`` kept, every other byte as ``-xx`` (distinct names never collide)."""
    return "".join(chr(b) if chr(b) in SAFE_CHARS else f"-{b:02x}" for b in username.encode())


def prepare_user(name: str, settings: HubSettings) -> HubUser:
    """The user's session, made with its workspace on first sight (idempotent; one process at a time).

    WorkspaceError when the user's folder holds files but the store has no session for it.
    """
    root = settings.users.resolve()
    root.mkdir(parents=True, exist_ok=True)
    with closing(Store()) as store, open(root / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the hub's pre_spawn_hook and this service both come here
        scaffold = load_scaffold(settings.scaffold)
        require_own_ids(scaffold.name)  # a pack entry reusing a shipped id would read as the shipped one
        row = store.db.execute("SELECT id, workspace FROM sessions WHERE mode='hub' AND candidate=? AND "
                               "scaffold=? AND ended_at IS NULL ORDER BY created_at DESC LIMIT 1",
                               (name, scaffold.name)).fetchone()
        if row:
            return HubUser(name=name, session_id=row["id"], workspace=Path(row["workspace"]))
        directory = root / workspace_folder(name)
        if directory.exists() and any(directory.iterdir()):
            raise WorkspaceError(f"{directory} must be new or empty for {name!r}'s first session. Got files "
                                 f"without a session in {store.path} instead (was PITFALLS_HOME changed?). "
                                 "Fix: move the folder away, or point PITFALLS_HOME back.")
        sid = store.create_session(scaffold=scaffold.name, workspace=directory, mode="hub", candidate=name,
                                   duration_minutes=settings.minutes, scaffold_source=scaffold.source)
        try:
            create_workspace(scaffold=scaffold, directory=directory, session_id=sid, live=True)
            hand_over(directory, CANDIDATE_UID)  # to the container's candidate, race-free; no link followed
        except BaseException:
            store.update_session(sid, ended_at=now())
            shutil.rmtree(directory, ignore_errors=True)
            raise
        log.info("session %s for hub user %r in %s", sid, name, directory)
        return HubUser(name=name, session_id=sid, workspace=directory)


async def prepare_spawn(spawner: Any, settings: HubSettings) -> HubUser:
    """For ``Spawner.pre_spawn_hook``: refuse non-candidates (PitfallsError), prepare the workspace off the loop."""
    groups = sorted(g.name for g in spawner.user.groups)
    if settings.candidates not in groups:
        raise PitfallsError(f"A pitfalls server is for members of group {settings.candidates!r}. Got user "
                            f"{spawner.user.name!r} in groups {groups} instead. Fix: an admin adds the user "
                            "to the group (hub admin page, or POST /hub/api/groups/NAME/users).")
    return await asyncio.get_running_loop().run_in_executor(None, prepare_user, spawner.user.name, settings)


def landing_url(handler: Any, *, settings: HubSettings, service: str) -> str:
    """For ``JupyterHub.default_url`` (with functools.partial): where a login lands. Interviewers (and
    admins outside ``candidates``) on the scorer's sessions view, since they get no server (the
    pre_spawn_hook refuses them); candidates on their JupyterLab (``/hub/spawn``)."""
    user = handler.current_user
    groups = {g.name for g in user.groups} if user else set()
    if user and settings.candidates not in groups and (settings.interviewers in groups or user.admin):
        return f"/services/{service}/sessions"
    return "/hub/spawn"


@cache
def _metric(scaffold: str) -> str:
    return load_scaffold(scaffold).manifest.task.metric


class Scorers:
    """Every hub user's session, made on first sight, scored on one worker thread per user (arrival order)."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.parallel)  # users scored at once on this host
        self._users: dict[str, tuple[HubUser, ThreadPoolExecutor]] = {}
        self.queued: dict[str, int] = {}

    async def user(self, name: str) -> HubUser:
        """The hub user's session (made with its workspace if missing)."""
        if name not in self._users:
            user = await asyncio.get_running_loop().run_in_executor(None, prepare_user, name, self.settings)
            self._users.setdefault(name, (user, ThreadPoolExecutor(1, thread_name_prefix="score")))
        return self._users[name][0]

    async def submit(self, user: HubUser, note: Any, final: Any = False) -> dict[str, Any]:
        """Score the workspace as it is now: the candidate's view; RequestError for a bad note or a full queue."""
        waiting = self.queued.get(user.name, 0)
        note = request_note(note)
        if not isinstance(final, bool):
            raise RequestError(f"final must be true or false. Got {final!r} instead.")
        if waiting >= self.settings.max_queued:
            raise RequestError(f"At most {self.settings.max_queued} submissions may wait for scoring. Got {waiting} "
                               "waiting instead. Wait for the earlier ones to finish, then submit again.", status=429)
        self.queued[user.name] = waiting + 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._users[user.name][1], self._score, user, note,
                                                                    final)
        except WorkspaceError as exc:  # over the snapshot limit or the session's storage bound: nothing stored
            raise RequestError(str(exc)) from None
        finally:
            self.queued[user.name] -= 1

    async def preflight(self, user: HubUser) -> dict[str, Any]:
        """``pitfalls-submit --preflight``: check the workspace as a submission would be checked (no
        score, no submission; runner/service/preflight.py), on the user's scoring thread and queue."""
        waiting = self.queued.get(user.name, 0)
        if waiting >= self.settings.max_queued:
            raise RequestError(f"At most {self.settings.max_queued} submissions and preflights may wait. Got "
                               f"{waiting} waiting instead. Wait for the earlier ones to finish, then try again.",
                               status=429)
        self.queued[user.name] = waiting + 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._users[user.name][1], self._preflight, user)
        except WorkspaceError as exc:  # nothing was run; the message says how to go on
            raise RequestError(str(exc)) from None
        finally:
            self.queued[user.name] -= 1

    def _preflight(self, user: HubUser) -> dict[str, Any]:
        with self._slots, closing(Store()) as store:
            found = run_preflight(directory=user.workspace, session_id=user.session_id, store=store)
            return {**found.view(), "remaining_seconds": remaining_seconds(store.session(user.session_id))}

    def _score(self, user: HubUser, note: str, final: bool = False) -> dict[str, Any]:
        with self._slots, closing(Store()) as store:
            res = api.submit(directory=user.workspace, note=note, session_id=user.session_id, store=store,
                             probes="background", final=final)  # after the score, in a detached low-priority worker
            return {**res.candidate_view(), "remaining_seconds": remaining_seconds(store.session(user.session_id))}

    def status(self, user: HubUser) -> dict[str, Any]:
        """What ``pitfalls-submit --status`` shows."""
        with closing(Store()) as store:
            return {"remaining_seconds": remaining_seconds(store.session(user.session_id)),
                    "submissions": len(store.submissions(user.session_id)),
                    "metric": _metric(self.settings.scaffold), "scoring": self.queued.get(user.name, 0),
                    "final": (f.view() if (f := final_submission(store, user.session_id)) else None)}

    def choose_final(self, user: HubUser, submission_id: Any) -> dict[str, Any]:
        """``pitfalls-submit --set-final N``: ``{"final": ...}`` once stored (no score); RequestError otherwise."""
        try:
            with closing(Store()) as store:
                return {"final": api.choose_final(directory=user.workspace, submission_id=submission_id, store=store,
                                                  session_id=user.session_id, via="pitfalls-submit --set-final",
                                                  how="`pitfalls-submit --status` lists them.").view()}
        except FinalChoiceError as exc:
            raise RequestError(str(exc)) from None

    def sessions(self) -> list[dict[str, Any]]:
        """Per hub session: user, timer, submissions, the best public and private scores, the last submission
        and the final one (the candidate's choice, else the last scored) with its scores."""
        out = []
        with closing(Store()) as store:
            for row in map(dict, store.db.execute("SELECT * FROM sessions WHERE mode='hub' ORDER BY created_at, id")):
                subs, metric = store.submissions(row["id"]), _metric(row["scaffold"])
                scored, best = [s for s in subs if s["status"] == "scored"], METRICS[metric].higher_is_better
                mine = self._users.get(row["candidate"], (None,))[0]
                out.append({"user": row["candidate"], "session_id": row["id"], "metric": metric,
                            **{k: row[k] for k in ("scaffold", "created_at", "ended_at")},
                            "remaining_seconds": remaining_seconds(row), "submissions": len(subs), "scored": len(scored),
                            **{f"best_{k}": best_of((s[c] for s in scored),  # normalized: 1 = reference
                                                    higher_is_better=best or c == "norm_private")
                               for k, c in (("public", "score_public"), ("private", "score_private"),
                                            ("private_normalized", "norm_private"))},
                            "last": {k: subs[-1][k] for k in ("id", "created_at", "status", "note")} if subs else None,
                            "final": _final_scores(store, row["id"], subs),
                            "scoring": self.queued.get(row["candidate"], 0) if mine and mine.session_id == row["id"]
                            else 0})
        return out


def _final_scores(store: Store, session_id: str, subs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The final submission with its public and private scores (interviewers only)."""
    final = final_submission(store, session_id, subs)
    if final is None:
        return None
    row = next(s for s in subs if s["id"] == final.submission_id)
    return {**final.view(), "public": row["score_public"], "private": row["score_private"],
            "private_normalized": row["norm_private"]}


class Handler(HubAuthenticated, web.RequestHandler):
    """One route of :data:`ROUTES`: token-authenticated JSON (GET sessions also takes the hub login cookie: see the OAuth handler)."""

    def initialize(self, *, hub_auth: HubAuth, scorers: Scorers, route: str) -> None:
        self.hub_auth, self.scorers, self.route = hub_auth, scorers, route

    async def prepare(self) -> None:
        """Who is asking (the hub tells), then whether their group may use this route; else 403 or 405."""
        if self.request.method != (method := ROUTES[self.route][0]):
            raise web.HTTPError(405, log_message=f"{self.route} must be {method}. Got {self.request.method} instead.")
        role = ROUTES[self.route][1]
        model = await self.hub_auth.get_user(self, sync=False)
        if not model and self._browser_login():
            return self.redirect(self.get_login_url())  # the hub's OAuth: login page, then back here with a cookie
        if not model:
            raise _refused("a JupyterHub token (Authorization: token $JUPYTERHUB_API_TOKEN)", "no valid token")
        try:
            self.check_hub_user(model)  # the token's scopes against hub_auth.access_scopes
        except UserNotAllowed:
            raise _refused(f"a token with scope {' or '.join(sorted(self.hub_scopes or ()))}",
                           f"a token of {model.get('kind', 'user')} {model.get('name')!r} without it") from None
        groups, s = sorted(model.get("groups") or ()), self.scorers.settings
        allowed, needs = {"candidate": (s.candidates in groups, f"a user in group {s.candidates!r}"),
                          "interviewer": (s.interviewers in groups or model.get("admin"),
                                          f"a user in group {s.interviewers!r} or a hub admin")}[role]
        if not allowed or model.get("kind", "user") != "user":
            raise _refused(needs, f"{model.get('kind', 'user')} {model.get('name')!r} in groups {groups}")
        if not getattr(self, "_token_authenticated", False) and self.route != "sessions":  # a browser's cookie
            raise _refused("a JupyterHub token (Authorization: token $JUPYTERHUB_API_TOKEN); a browser's login "
                           "cookie reads only sessions", "the cookie of a browser login")
        self.current_user = model

    def _browser_login(self) -> bool:
        """A browser (no token) asking for ``sessions``, and the hub gave this service an OAuth client."""
        return (self.route == "sessions" and isinstance(self.hub_auth, HubOAuth)
                and "Authorization" not in self.request.headers)

    async def get(self) -> None:
        """GET status (candidates) or sessions (interviewers)."""
        if self.route == "sessions":
            return self._answer({"sessions": self.scorers.sessions()})
        self._answer(self.scorers.status(await self.scorers.user(self.current_user["name"])))

    async def post(self) -> None:
        """POST submit {"note"}: score the caller's workspace now."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        user = await self.scorers.user(self.current_user["name"])
        try:  # a body that is not a JSON object has no note: 400, as on the session socket
            if self.route == "final":
                pick = body.get("submission_id") if isinstance(body, dict) else None
                return self._answer(self.scorers.choose_final(user, pick))
            if self.route == "preflight":
                return self._answer(await self.scorers.preflight(user))
            self._answer(await self.scorers.submit(user, body.get("note", "") if isinstance(body, dict) else None,
                                                   body.get("final", False) if isinstance(body, dict) else False))
        except RequestError as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None
        except SchedulerBusy as exc:  # the host's scoring queue is full: nothing was stored
            self.set_status(503)
            self.set_header("Retry-After", str(exc.retry_seconds))
            self._answer({"status": 503, "message": str(exc), "retry_seconds": exc.retry_seconds})

    def _answer(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        message = str(exc) if isinstance(exc, PitfallsError) else getattr(exc, "log_message", None) or self._reason
        self.finish(json.dumps({"status": status_code, "message": message}))


def _refused(needs: str, got: str) -> web.HTTPError:
    return web.HTTPError(403, log_message=f"This endpoint needs {needs}. Got {got} instead.")


class OAuthCallback(HubOAuthCallbackHandler):
    """``oauth_callback``: the end of a browser's login through the hub (then a cookie names the user)."""

    def initialize(self, *, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth


def make_app(*, settings: HubSettings, hub_auth: HubAuth, prefix: str) -> web.Application:
    """The service's application: :data:`ROUTES` under ``prefix`` (the hub's ``/services/NAME/``).

    With a :class:`HubOAuth` (the hub gave the service an OAuth client), a browser may also read
    ``sessions`` after logging in through the hub: ``oauth_callback`` sets the service's cookie.
    """
    scorers, prefix = Scorers(settings), "/" + prefix.strip("/") + "/"
    routes: list[Any] = [(prefix + route, Handler, {"hub_auth": hub_auth, "scorers": scorers, "route": route})
                         for route in ROUTES]
    if isinstance(hub_auth, HubOAuth):
        routes.append((prefix + "oauth_callback", OAuthCallback, {"hub_auth": hub_auth}))
    return web.Application(routes, cookie_secret=os.urandom(32))


async def serve() -> None:
    """Listen where the hub says (``$JUPYTERHUB_SERVICE_URL``) until the process is stopped."""
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", "pitfalls")
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
    if not url.hostname or not url.port:
        raise SystemExit(f"JUPYTERHUB_SERVICE_URL must be http://HOST:PORT (the hub sets it from the service's "
                         f"'url'). Got {url.geturl()!r} instead. Fix: give the service a url in jupyterhub_config.py.")
    # $JUPYTERHUB_API_URL, $JUPYTERHUB_API_TOKEN, $JUPYTERHUB_OAUTH_ACCESS_SCOPES (+ $JUPYTERHUB_CLIENT_ID and
    # $JUPYTERHUB_OAUTH_CALLBACK_URL: the hub's OAuth client for this service, which lets browsers log in)
    hub_auth = HubOAuth() if os.environ.get("JUPYTERHUB_CLIENT_ID") else HubAuth()
    hub_auth.access_scopes = hub_auth.access_scopes or {f"access:services!service={name}"}
    app = make_app(settings=HubSettings.from_env(), hub_auth=hub_auth,
                   prefix=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/"))
    httpserver.HTTPServer(app, max_body_size=2**20).listen(url.port, os.environ.get("PITFALLS_HUB_BIND", url.hostname))
    log.info("pitfalls scorer on %s (hub API %s)", url.geturl(), hub_auth.api_url)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s pitfalls.live.hub] %(message)s")
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:  # the hub stops its managed services with SIGINT: a clean exit, no traceback
        log.info("pitfalls scorer stopped")

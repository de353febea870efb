"""The JupyterHub deployment (deploy/jupyterhub/) and its scorer service, without a running hub.

tests/test_hub_e2e.py runs a real hub (proxy, DockerSpawner, logins, a browser); this file checks
what is cheaper or impossible to reach through one (every refusal, bad bodies, the queue limit):

- the config files load with traitlets; every setting names a real trait of JupyterHub,
  DockerSpawner or KubeSpawner, every role scope exists, and the pre-spawn hook runs on a real
  DockerSpawner with real JupyterHub user objects (no container is started);
- the scorer runs exactly as the hub starts a managed service (``python -m
  pitfalls.live.hub`` with the ``JUPYTERHUB_*`` environment) and is called over loopback HTTP,
  also by ``docker/pitfalls-submit`` in its HTTP mode. The hub itself is a stand-in: a small HTTP
  server answering ``GET /hub/api/user`` the way JupyterHub does (the token owner's name, groups
  and the token's scopes; 403 for an unknown token), which is all the service asks the hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("jupyterhub")

from pitfalls.core.errors import PitfallsError  # noqa: E402
from pitfalls.core.store import Store  # noqa: E402
from pitfalls.live import hub as hub_service  # noqa: E402 - after the skip: hub_service imports jupyterhub
from pitfalls.service import api

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "jupyterhub"
SUBMIT = REPO / "docker" / "pitfalls-submit"
SERVICE_SCOPE = "access:services!service=pitfalls"


def _model(name: str, groups: list[str], *, admin: bool = False, scopes: list[str] | None = None,
           kind: str = "user") -> dict[str, Any]:
    """What JupyterHub's GET /hub/api/user answers for a user's token (SelfAPIHandler)."""
    return {"kind": kind, "name": name, "admin": admin, "groups": groups, "session_id": None, "token_id": "a1",
            "scopes": scopes if scopes is not None else [f"access:servers!server={name}/", SERVICE_SCOPE,
                                                         f"users:activity!user={name}"]}


TOKENS = {
    "tok-ada": _model("ada", ["candidates"]),
    "tok-grace": _model("grace", ["candidates"]),
    "tok-ivy": _model("ivy", ["interviewers"]),
    "tok-root": _model("root", [], admin=True),
    "tok-bob": _model("bob", ["students"]),
    "tok-noscope": _model("ada", ["candidates"], scopes=["access:servers!server=ada/", "users:activity!user=ada"]),
    "tok-service": {"kind": "service", "name": "other", "scopes": [SERVICE_SCOPE], "session_id": None},
}


class _Hub(BaseHTTPRequestHandler):
    """The stand-in hub: GET /hub/api/user identifies the token in the Authorization header."""

    asked: list[str] = []

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("token ")
        self.asked.append(token)
        known = self.path == "/hub/api/user" and token in TOKENS
        body = json.dumps(TOKENS[token] if known else {"status": 403, "message": "Forbidden"}).encode()
        self.send_response(200 if known else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hub.asked = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return tmp_path / "users"


@pytest.fixture
def scorer(hub: str, users: Path, tmp_path: Path) -> Iterator[str]:
    """``python -m pitfalls.live.hub`` with the environment a hub gives a managed service; its base URL."""
    port = _free_port()
    env = {**os.environ, "JUPYTERHUB_API_URL": f"{hub}/hub/api", "JUPYTERHUB_API_TOKEN": "the-services-own-token",
           "JUPYTERHUB_SERVICE_NAME": "pitfalls", "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
           "JUPYTERHUB_SERVICE_PREFIX": "/services/pitfalls/",
           "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps(["access:services", SERVICE_SCOPE]),
           "PITFALLS_HUB_USERS": str(users), "PITFALLS_HUB_MINUTES": "30", "PITFALLS_HUB_MAX_QUEUED": "1"}
    log = open(tmp_path / "scorer.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "pitfalls.live.hub"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/services/pitfalls"
    deadline = time.monotonic() + 60
    while _call("GET", f"{base}/status")[0] == 0:
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "scorer.log").read_text()
        time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def _call(method: str, url: str, *, token: str = "", body: Any = None, raw: bytes | None = None,
          timeout: float = 300) -> tuple[int, dict[str, Any]]:
    """One request: (status, JSON answer); status 0 when nothing listens."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (ConnectionError, urllib.error.URLError):
        return 0, {}


def _submit_cli(base: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PITFALLS_SUBMIT_URL": base, "JUPYTERHUB_API_TOKEN": token}
    return subprocess.run([sys.executable, str(SUBMIT), *args], capture_output=True, text=True, timeout=300, env=env)


# ---- settings and folders ------------------------------------------------------------------------

def test_workspace_folders_are_safe_and_distinct_for_any_user_name():
    names = ["ada", "Ada", "a-b", "a_b", "a.b", "../x", "ä", "a/b", "a-2db"]
    folders = [hub_service.workspace_folder(n) for n in names]
    assert folders[0] == "ada" and len(set(folders)) == len(names)
    assert all(f and "/" not in f and "." not in f and f.isascii() for f in folders)


def test_settings_come_from_the_environment_and_refuse_bad_numbers(tmp_path):
    s = hub_service.HubSettings.from_env({"PITFALLS_HUB_USERS": str(tmp_path), "PITFALLS_HUB_MINUTES": "0",
                                          "PITFALLS_HUB_PARALLEL": "3", "PITFALLS_HUB_SCAFFOLD": "digits_budget"})
    assert (s.users, s.minutes, s.parallel, s.scaffold, s.candidates) == (tmp_path, None, 3, "digits_budget",
                                                                          "candidates")
    assert hub_service.HubSettings.from_env({}).minutes == 60
    for bad in ({"PITFALLS_HUB_PARALLEL": "0"}, {"PITFALLS_HUB_MINUTES": "soon"}, {"PITFALLS_HUB_MAX_QUEUED": "-1"}):
        with pytest.raises(PitfallsError, match="must be a number >= 0.*Got"):
            hub_service.HubSettings.from_env(bad)


def test_sessions_overview_picks_the_best_scores_in_the_metrics_direction(tmp_path):
    """bike_demand's RMSE: lower is better for the scores; the normalized score is always higher-better."""
    store = Store()
    sid = store.create_session(scaffold="bike_demand", workspace=tmp_path, mode="hub", candidate="zoe")
    for status, public, private, norm in [("scored", 10.0, 11.0, 0.2), ("scored", 8.0, 9.0, 0.7),
                                          ("failed", None, None, None)]:
        sub = store.insert_submission(session_id=sid, note=status, metric="rmse", snapshot="-", snapshot_sha256="-")
        store.finish_submission(sub, status=status, score_public=public, score_private=private, norm_private=norm)
    store.create_session(scaffold="bike_demand", workspace=tmp_path / "p", mode="practice", candidate="zoe")
    [row] = hub_service.Scorers(hub_service.HubSettings(users=tmp_path)).sessions()
    assert (row["user"], row["metric"], row["submissions"], row["scored"]) == ("zoe", "rmse", 3, 2)
    assert (row["best_public"], row["best_private"], row["best_private_normalized"]) == (8.0, 9.0, 0.7)
    assert row["last"]["status"] == "failed" and row["remaining_seconds"] is None and row["scoring"] == 0


# ---- the config files ----------------------------------------------------------------------------

def _load(name: str, monkeypatch, users: Path, **env: str):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("PITFALLS_HUB_USERS", str(users))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader(name, path=str(DEPLOY)).load_config()


def _assert_known_traits(cfg, classes) -> None:
    """Every configured setting is a configurable trait of its class (a typo would be ignored by the hub)."""
    for section in cfg:
        cls = classes[section]
        unknown = set(cfg[section]) - set(cls.class_trait_names(config=True))
        assert not unknown, f"{section}: {unknown}"


def _assert_roles(cfg) -> None:
    from jupyterhub.scopes import _check_scopes_exist

    roles = {r["name"]: r for r in cfg.JupyterHub.load_roles}
    assert roles["pitfalls-candidate"]["scopes"] == [SERVICE_SCOPE]
    assert roles["pitfalls-candidate"]["groups"] == ["candidates"]
    assert SERVICE_SCOPE in roles["pitfalls-interviewer"]["scopes"] and roles["pitfalls-interviewer"]["groups"] == [
        "interviewers"]
    assert SERVICE_SCOPE in cfg.Spawner.server_token_scopes  # the container's token may call the scorer
    for role in roles.values():
        _check_scopes_exist(role["scopes"])
    _check_scopes_exist(cfg.Spawner.server_token_scopes)
    [service] = cfg.JupyterHub.services
    assert service["name"] == "pitfalls" and service["command"][1:] == ["-m", "pitfalls.live.hub"]
    assert service["environment"]["PITFALLS_HOME"] == os.environ["PITFALLS_HOME"]
    assert cfg.Spawner.environment["PITFALLS_SUBMIT_URL"] == service["url"] + "/services/pitfalls"


def test_docker_config_spawns_the_candidate_image_locked_down_with_the_scorer_as_a_service(monkeypatch, users):
    dockerspawner = pytest.importorskip("dockerspawner")
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator
    from jupyterhub.spawner import Spawner

    from pitfalls.live import containers

    cfg = _load("jupyterhub_config.py", monkeypatch, users, PITFALLS_HUB_CANDIDATE_USERS="ada, grace")
    _assert_known_traits(cfg, {"JupyterHub": JupyterHub, "Authenticator": Authenticator, "Spawner": Spawner,
                               "DockerSpawner": dockerspawner.DockerSpawner})
    _assert_roles(cfg)
    assert cfg.JupyterHub.spawner_class == "dockerspawner.DockerSpawner"
    assert cfg.DockerSpawner.image == containers.image_tag().replace("pitfalls-candidate:",
                                                                     "pitfalls-candidate-singleuser:")
    assert cfg.DockerSpawner.cmd == ["jupyterhub-singleuser"] and cfg.Spawner.notebook_dir == "/home/candidate/work"
    assert cfg.DockerSpawner.extra_create_kwargs["user"] == "1000:1000"
    assert cfg.DockerSpawner.extra_host_config["cap_drop"] == ["ALL"]
    assert cfg.JupyterHub.load_groups["candidates"]["users"] == ["ada", "grace"]
    assert cfg.JupyterHub.services[0]["environment"]["PITFALLS_HUB_USERS"] == str(users)
    docker = pytest.importorskip("docker")  # docker-py validates the host config without an engine
    client = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
    host = client.create_host_config(mem_limit=cfg.DockerSpawner.mem_limit, **cfg.DockerSpawner.extra_host_config)
    assert host["CapDrop"] == ["ALL"] and host["PidsLimit"] == 512 and host["Init"] is True


def test_singleuser_image_adds_only_jupyterhub_to_the_candidate_image():
    """Nothing of the repository enters the image: no COPY or ADD, FROM the candidate image, same user."""
    lines = [ln.split()[0] for ln in (DEPLOY / "Dockerfile.singleuser").read_text().splitlines()
             if ln.strip() and not ln.startswith(("#", " "))]
    assert not {"COPY", "ADD"} & set(lines) and lines.count("FROM") == 1
    text = (DEPLOY / "Dockerfile.singleuser").read_text()
    assert "FROM ${CANDIDATE_IMAGE}" in text and '"jupyterhub==${JUPYTERHUB_VERSION}"' in text
    assert text.rstrip().splitlines()[-3:] == ["USER candidate", "WORKDIR /home/candidate/work",
                                               'CMD ["jupyterhub-singleuser"]']


def _hub_user(name: str, groups: list[str]):
    """A real JupyterHub user (ORM row in an in-memory hub database, with its groups)."""
    from jupyterhub import orm
    from jupyterhub.user import User

    db = orm.new_session_factory("sqlite:///:memory:")()
    row = orm.User(name=name)
    db.add(row)
    for group in groups:
        row.groups.append(orm.Group(name=group))
    db.commit()
    return User(row, settings={}), db


def test_pre_spawn_hook_makes_the_workspace_and_mounts_it_on_a_real_docker_spawner(monkeypatch, users):
    dockerspawner = pytest.importorskip("dockerspawner")
    cfg = _load("jupyterhub_config.py", monkeypatch, users)
    user, db = _hub_user("Ada.L", ["candidates"])
    spawner = dockerspawner.DockerSpawner(user=user, config=cfg, db=db)
    asyncio.run(spawner.pre_spawn_hook(spawner))
    folder = users / "-41da-2e-4c"  # [a-z0-9] kept, every other byte escaped
    assert spawner.volume_binds == {str(folder.resolve()): {"bind": "/home/candidate/work", "mode": "rw"}}
    assert {"train.py", "BRIEF.md", "eda.ipynb", ".pitfalls.json"} <= {p.name for p in folder.iterdir()}
    assert (folder / "data" / "train.csv").is_file()
    [row] = Store().db.execute("SELECT * FROM sessions").fetchall()
    assert (row["mode"], row["candidate"], row["scaffold"], row["duration_minutes"]) == ("hub", "Ada.L",
                                                                                         "tumor_triage", 60)
    if os.geteuid() == 0:
        assert (folder / "train.py").stat().st_uid == 1000
    asyncio.run(spawner.pre_spawn_hook(spawner))  # a second spawn finds the same session
    assert len(Store().db.execute("SELECT * FROM sessions").fetchall()) == 1

    other, db2 = _hub_user("ivy", ["interviewers"])
    with pytest.raises(PitfallsError, match="for members of group 'candidates'. Got user 'ivy' in groups"):
        asyncio.run(spawner.pre_spawn_hook(dockerspawner.DockerSpawner(user=other, config=cfg, db=db2)))
    assert not (users / "ivy").exists()


def test_kubespawner_config_mounts_only_the_users_folder_of_the_shared_claim(monkeypatch, users):
    kubespawner = pytest.importorskip("kubespawner")
    from jupyterhub.app import JupyterHub
    from jupyterhub.spawner import Spawner

    cfg = _load("kubespawner_config.py", monkeypatch, users, PITFALLS_HUB_IMAGE="registry.example/pitfalls:1")
    _assert_known_traits(cfg, {"JupyterHub": JupyterHub, "Spawner": Spawner, "KubeSpawner": kubespawner.KubeSpawner})
    _assert_roles(cfg)
    assert (cfg.KubeSpawner.image, cfg.KubeSpawner.uid, cfg.KubeSpawner.storage_pvc_ensure) == (
        "registry.example/pitfalls:1", 1000, False)
    assert cfg.KubeSpawner.volumes[0]["persistentVolumeClaim"]["claimName"] == "pitfalls-workspaces"
    # KubeSpawner itself needs a cluster's config to construct; the hook reads only .user and sets a mount.
    user, _db = _hub_user("grace", ["candidates"])
    spawner = SimpleNamespace(user=user)
    asyncio.run(cfg.Spawner.pre_spawn_hook(spawner))
    assert spawner.volume_mounts == [{"name": "pitfalls-workspaces", "mountPath": "/home/candidate/work",
                                      "subPath": "grace"}]
    assert (users / "grace" / "train.py").is_file()
    assert cfg.JupyterHub.services[0]["oauth_no_confirm"] is True


@pytest.mark.parametrize("config", ["jupyterhub_config.py", "kubespawner_config.py"])
def test_a_login_lands_interviewers_on_the_sessions_view_and_candidates_on_their_lab(config, monkeypatch, users):
    pytest.importorskip("kubespawner" if config.startswith("kube") else "dockerspawner")
    cfg = _load(config, monkeypatch, users, PITFALLS_HUB_IMAGE="registry.example/pitfalls:1")
    for name, groups, landing in [("ada", ["candidates"], "/hub/spawn"),
                                  ("ivy", ["interviewers"], "/services/pitfalls/sessions"),
                                  ("both", ["candidates", "interviewers"], "/hub/spawn"),
                                  ("nobody", [], "/hub/spawn")]:
        user, _db = _hub_user(name, groups)
        assert cfg.JupyterHub.default_url(SimpleNamespace(current_user=user)) == landing, name
    assert cfg.JupyterHub.default_url(SimpleNamespace(current_user=None)) == "/hub/spawn"


# ---- the scorer service --------------------------------------------------------------------------

def test_requests_without_a_valid_token_or_the_service_scope_are_refused(scorer):
    for token, got in [("", "Got no valid token instead"), ("forged", "Got no valid token instead"),
                       ("tok-noscope", f"or {SERVICE_SCOPE}. Got a token of user 'ada' without it instead"),
                       ("tok-service", "Got service 'other' in groups [] instead")]:
        for method, route in [("POST", "submit"), ("POST", "preflight"), ("GET", "status"), ("GET", "sessions")]:
            code, answer = _call(method, f"{scorer}/{route}", token=token, body={"note": "x"} if method == "POST"
                                 else None)
            assert code == 403 and got in answer["message"], (token, route, answer)
    assert Store().db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert "the-services-own-token" not in _Hub.asked  # the hub is asked about the caller's token


def test_groups_decide_who_submits_and_who_reads_and_each_user_has_a_session(scorer, users):
    code, answer = _call("POST", f"{scorer}/submit", token="tok-bob", body={"note": "x"})
    assert code == 403 and answer["message"] == ("This endpoint needs a user in group 'candidates'. Got user "
                                                 "'bob' in groups ['students'] instead.")
    assert _call("POST", f"{scorer}/submit", token="tok-ivy", body={"note": "x"})[0] == 403
    code, answer = _call("GET", f"{scorer}/sessions", token="tok-ada")
    assert code == 403 and "in group 'interviewers' or a hub admin. Got user 'ada'" in answer["message"]
    assert _call("GET", f"{scorer}/submit", token="tok-ada")[0] == 405
    assert _call("GET", f"{scorer}/sessions", token="tok-ivy") == (200, {"sessions": []})

    ada = _call("GET", f"{scorer}/status", token="tok-ada")
    grace = _call("GET", f"{scorer}/status", token="tok-grace")
    assert ada[0] == grace[0] == 200 and ada[1]["submissions"] == 0 and ada[1]["metric"] == "balanced_accuracy"
    assert 29 * 60 < ada[1]["remaining_seconds"] <= 30 * 60
    rows = {r["user"]: r for r in _call("GET", f"{scorer}/sessions", token="tok-root")[1]["sessions"]}
    assert set(rows) == {"ada", "grace"} and rows["ada"]["session_id"] != rows["grace"]["session_id"]
    assert (users / "ada" / "train.py").is_file() and (users / "grace" / "train.py").is_file()


def test_bad_bodies_and_notes_are_refused_without_recording(scorer):
    for kw in ({"body": {"note": 5}}, {"body": {"note": "x" * 2001}}, {"body": {"note": "\x1b[2J"}},
               {"body": ["note"]}, {"raw": b"{not json"}):
        code, answer = _call("POST", f"{scorer}/submit", token="tok-ada", **kw)
        assert code == 400 and answer["message"].startswith("The note must be text of at most 2000 characters")
    [session] = Store().db.execute("SELECT id FROM sessions").fetchall()
    assert Store().submissions(session["id"]) == []


def _ended(proc: subprocess.Popen) -> tuple[str, str]:
    """What ``proc`` printed, after ending it (a failed wait must not leave it running)."""
    proc.kill()
    return proc.communicate(timeout=30)


def test_pitfalls_submit_scores_for_real_under_the_hub_users_session_not_the_marker(scorer, users, tmp_path):
    assert _call("GET", f"{scorer}/status", token="tok-ada")[0] == 200  # first sight: session and workspace
    [[ada_session]] = Store().db.execute("SELECT id FROM sessions WHERE candidate='ada'").fetchall()
    decoy = api.start_practice(name="tumor_triage", directory=tmp_path / "decoy")["session_id"]
    (users / "ada" / ".pitfalls.json").write_text(json.dumps({"session_id": decoy, "scaffold": "tumor_triage"}))

    env = {**os.environ, "PITFALLS_SUBMIT_URL": scorer, "JUPYTERHUB_API_TOKEN": "tok-ada"}
    proc = subprocess.Popen([sys.executable, str(SUBMIT), "--json", "--note", "starter as is"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _call("GET", f"{scorer}/status", token="tok-ada")[1]["scoring"] == 0:
        assert proc.poll() is None and time.monotonic() < deadline, _ended(proc)
        time.sleep(0.1)
    code, answer = _call("POST", f"{scorer}/submit", token="tok-ada", body={"note": "again"})
    assert code == 429 and answer["message"] == ("At most 1 submissions may wait for scoring. Got 1 waiting instead. "
                                                 "Wait for the earlier ones to finish, then submit again.")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    view = json.loads(out)
    assert view["status"] == "scored" and view["note"] == "starter as is" and 0 <= view["score"] <= 1
    assert 0 < view["remaining_seconds"] <= 1800 and not {"private_score", "probes"} & set(view)

    [sub] = Store().submissions(ada_session)
    assert sub["note"] == "starter as is" and sub["score_public"] == view["score"]
    assert Store().submissions(decoy) == []
    [row] = _call("GET", f"{scorer}/sessions", token="tok-ivy")[1]["sessions"]
    assert (row["user"], row["submissions"], row["scored"], row["best_public"]) == ("ada", 1, 1, view["score"])
    assert row["best_private"] == sub["score_private"] is not None and row["scoring"] == 0

    status = _submit_cli(scorer, "tok-ada", "--status")
    assert status.returncode == 0 and "submissions: 1" in status.stdout and "time left:" in status.stdout
    refused = _submit_cli(scorer, "tok-bob", "because")
    assert refused.returncode == 2 and "refused (HTTP 403)" in refused.stderr and "'candidates'" in refused.stderr

    checked = _submit_cli(scorer, "tok-ada", "--preflight", "--json")  # trains and checks; uses no submission
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["outcome"] == "ready" and len(Store().submissions(ada_session)) == 1
    assert [e["kind"] for e in Store().events(ada_session, "preflight")] == ["preflight"]
    assert _call("POST", f"{scorer}/preflight", token="tok-bob", body={})[0] == 403

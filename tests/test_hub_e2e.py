"""A real JupyterHub end to end (deploy/jupyterhub/): hub, configurable-http-proxy, DockerSpawner.

One hub for the whole module, started with deploy/jupyterhub/testing/jupyterhub_test_config.py (the
production config loaded unchanged, plus a DummyAuthenticator password, the proxy of scripts/hub.sh
and free ports). The candidates' containers run the single-user image (the candidate image plus
jupyterhub, deploy/jupyterhub/build-singleuser.sh) on an internal user-defined docker network that
this module creates with its own subnet: the engine of scripts/docker.sh has no default bridge, but
user-defined bridge networks work, and an internal one has no route out while its gateway (this
host) is reachable. The hub API and the scorer listen on that gateway address, as in production.

- ada and grace (group ``candidates``) log in through the hub's login form, get a token, start their
  servers, run a notebook cell through the proxy (Jupyter's REST and kernel WebSocket APIs) that
  lists the workspace and runs ``pitfalls-submit``, scored for real by the ``pitfalls`` service;
- ivy (group ``interviewers``) sees both sessions at ``GET /services/pitfalls/sessions``;
- from inside ada's container: grace's workspace, the labels, the scorer's store and the pitfalls
  package are not there, grace's server and the hub API refuse ada's token, ``sessions`` too;
- Chromium (Playwright) logs ada in through the real login page to JupyterLab, and ivy to the
  sessions view.

Marked ``hub`` (``pytest -m hub`` runs exactly these). Skips only without a Docker engine or node;
with both, everything missing is made here (proxy: scripts/hub.sh; image: build-singleuser.sh).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyterhub")
pytest.importorskip("dockerspawner")
import requests  # noqa: E402 - a dependency of jupyterhub
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from pitfalls.live import containers  # noqa: E402

pytestmark = [pytest.mark.hub, pytest.mark.docker]

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "jupyterhub"
PROXY = Path(sys.prefix) / "hub-node" / "node_modules" / ".bin" / "configurable-http-proxy"  # scripts/hub.sh
PASSWORD = "test-only-" + uuid.uuid4().hex[:12]
CANDIDATES, INTERVIEWER = ("ada", "grace"), "ivy"
START_TIMEOUT = 180  # a container of the 1.6 GB image answers in a few seconds; a loaded CI host is slower


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready() -> None:
    """Skip without a Docker engine or node; install the pinned proxy if node is here but it is not."""
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"the hub tests need a Docker engine (sudo bash scripts/docker.sh). Got none: {exc}")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the hub tests need node and npm for configurable-http-proxy (apt-get install nodejs npm, "
                    "then bash scripts/hub.sh). Got none on PATH.")
    if not PROXY.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "hub.sh")], check=True, env={**os.environ, "VENV": sys.prefix})


def _network(name: str) -> str:
    """An internal docker network with a free 172.29.x.0/24 subnet; its gateway address (this host's)."""
    for third in random.sample(range(100, 250), 20):
        gateway = f"172.29.{third}.1"
        made = subprocess.run(["docker", "network", "create", "--internal", "--subnet", f"172.29.{third}.0/24",
                               "--gateway", gateway, name], capture_output=True, text=True)
        if made.returncode == 0:
            return gateway
    raise AssertionError(f"docker network create must find a free 172.29.x.0/24. Got: {made.stderr}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running hub (proxy on a loopback port) with ada, grace in candidates and ivy in interviewers."""
    _ready()
    built = subprocess.run(["bash", str(DEPLOY / "build-singleuser.sh"), sys.executable], capture_output=True,
                           text=True, timeout=1800)
    assert built.returncode == 0, f"build-singleuser.sh failed:\n{built.stderr[-3000:]}"
    image = built.stdout.split()[-1]
    root = tmp_path_factory.mktemp("hub")
    suffix = uuid.uuid4().hex[:8]
    net, prefix = f"pitfalls-hubtest-{suffix}", f"pitfalls-hubtest-{suffix}"
    gateway = _network(net)
    public, api, hub_port, service = (_free_port() for _ in range(4))
    env = {**os.environ, "PITFALLS_HOME": str(root / "state"), "PITFALLS_HUB_USERS": str(root / "users"),
           "PITFALLS_HUB_NETWORK": net, "PITFALLS_HUB_IP": gateway, "PITFALLS_HUB_SERVICE_PORT": str(service),
           "PITFALLS_HUB_PUBLIC_URL": f"http://127.0.0.1:{public}", "PITFALLS_HUB_IMAGE": image,
           "PITFALLS_HUB_MINUTES": "0", "PITFALLS_HUB_PARALLEL": "2", "PITFALLS_HUB_MEMORY_MB": "2048",
           "PITFALLS_HUB_CPUS": "1",
           "PITFALLS_HUB_CANDIDATE_USERS": ",".join(CANDIDATES), "PITFALLS_HUB_INTERVIEWER_USERS": INTERVIEWER,
           "PITFALLS_HUB_ADMINS": "", "PITFALLS_HUB_TEST_PASSWORD": PASSWORD, "PITFALLS_HUB_TEST_PROXY": str(PROXY),
           "PITFALLS_HUB_TEST_PORTS": f"{api},{hub_port}", "PITFALLS_HUB_TEST_PREFIX": prefix}
    (root / "state").mkdir()
    (root / "users").mkdir(mode=0o711)
    log = open(root / "hub.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                             str(DEPLOY / "testing" / "jupyterhub_test_config.py")],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{public}"
    info = {"base": base, "root": root, "gateway": gateway, "service_port": service, "hub_port": hub_port,
            "proxy_api": api, "prefix": prefix, "log": root / "hub.log", "proc": proc}
    try:
        _wait(lambda: proc.poll() is None and _answers(f"{base}/hub/health"), 90, info, "the hub's health check")
        _wait(lambda: _answers(f"http://{gateway}:{service}/services/pitfalls/status", ok=(403,)), 60, info,
              "the pitfalls service")
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"name={prefix}"], capture_output=True, text=True)
        if left.stdout.split():
            subprocess.run(["docker", "rm", "-f", *left.stdout.split()], capture_output=True)
        subprocess.run(["docker", "network", "rm", net], capture_output=True)


def _answers(url: str, ok: tuple[int, ...] = (200,)) -> bool:
    try:
        return requests.get(url, timeout=5).status_code in ok
    except requests.RequestException:
        return False


def _wait(cond: Any, seconds: float, hub: dict[str, Any], what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} must answer within {seconds} s. Got nothing; the hub's log ends:\n"
                         f"{Path(hub['log']).read_text()[-4000:]}")


def login(hub: dict[str, Any], name: str, password: str = PASSWORD) -> requests.Session:
    """Log in through the hub's login form (its _xsrf field included), as a browser would."""
    s = requests.Session()
    page = s.get(f"{hub['base']}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
    assert xsrf, f"the login page must carry an _xsrf field. Got:\n{page.text[:2000]}"
    s.post(f"{hub['base']}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf.group(1)},
           timeout=60, allow_redirects=False)
    return s


def token_of(hub: dict[str, Any], s: requests.Session, name: str) -> str:
    """A token of the logged-in user, asked for with the session's cookie (and the hub's _xsrf)."""
    r = s.post(f"{hub['base']}/hub/api/users/{name}/tokens", json={"note": "hub e2e test", "expires_in": 3600},
               headers={"X-XSRFToken": s.cookies.get("_xsrf", path="/hub/") or s.cookies.get("_xsrf") or ""},
               timeout=30)
    assert r.status_code == 201, f"{name}'s token request must succeed. Got {r.status_code}: {r.text[:500]}"
    return r.json()["token"]


def api(hub: dict[str, Any], method: str, path: str, token: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{hub['base']}{path}", headers={"Authorization": f"token {token}"},
                            timeout=kw.pop("timeout", 60), **kw)


@pytest.fixture(scope="module")
def users(hub: dict[str, Any]) -> dict[str, str]:
    """Every test user logged in through the form, with a token; ada's and grace's servers running."""
    tokens = {}
    for name in (*CANDIDATES, INTERVIEWER):
        s = login(hub, name)
        assert "jupyterhub-session-id" in s.cookies or any(c.name.startswith("jupyterhub-hub-login")
                                                           for c in s.cookies), f"{name} must be logged in"
        tokens[name] = token_of(hub, s, name)
    for name in CANDIDATES:
        r = api(hub, "POST", f"/hub/api/users/{name}/server", tokens[name])
        assert r.status_code in (201, 202), f"{name}'s spawn must start. Got {r.status_code}: {r.text[:500]}"
    for name in CANDIDATES:
        _wait(lambda n=name: (api(hub, "GET", f"/hub/api/users/{n}", tokens[n]).json().get("servers", {})
                              .get("", {}).get("ready")), START_TIMEOUT, hub, f"{name}'s server")
    return tokens


def run_cell(hub: dict[str, Any], name: str, token: str, code: str, timeout: float = 300) -> str:
    """Start a kernel in NAME's server through the proxy, run CODE, return its stdout (errors fail)."""
    r = api(hub, "POST", f"/user/{name}/api/kernels", token, json={"name": "python3"})
    assert r.status_code == 201, f"{name}'s kernel must start. Got {r.status_code}: {r.text[:500]}"
    kernel = r.json()["id"]
    url = hub["base"].replace("http", "ws", 1) + f"/user/{name}/api/kernels/{kernel}/channels"

    async def go() -> str:
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": name, "session": uuid.uuid4().hex,
                       "version": "5.3"}, "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, done = [], False
        while not done:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError(f"the cell must run. Got {msg['content']['ename']}: {msg['content']['evalue']}")
            done = kind == "status" and msg["content"]["execution_state"] == "idle"
        ws.close()
        return "".join(out)

    try:
        return asyncio.run(asyncio.wait_for(go(), timeout))
    finally:
        api(hub, "DELETE", f"/user/{name}/api/kernels/{kernel}", token)


CELL = """
import json, pathlib, subprocess
print(json.dumps(sorted(p.name for p in pathlib.Path('.').iterdir())))
done = subprocess.run(['pitfalls-submit', '--json', 'from NAME notebook'], capture_output=True, text=True)
try:
    answer = json.loads(done.stdout)
except ValueError:
    answer = {'stdout': done.stdout, 'stderr': done.stderr, 'exit': done.returncode}
print(json.dumps(answer))
"""


def test_two_candidates_run_a_cell_and_submit_and_the_interviewer_sees_both(hub, users) -> None:
    answers = {}
    with ThreadPoolExecutor(len(CANDIDATES)) as pool:  # both at once: two containers, two scorings
        outs = dict(zip(CANDIDATES, pool.map(lambda n: run_cell(hub, n, users[n], CELL.replace("NAME", n)),
                                             CANDIDATES)))
    for name in CANDIDATES:
        out = outs[name].strip().splitlines()
        files, answers[name] = json.loads(out[0]), json.loads(out[-1])
        assert {"train.py", "model.py", ".pitfalls.json"} <= set(files), files
        assert answers[name].get("status") == "scored", answers[name]
        assert isinstance(answers[name]["score"], float) and "private" not in json.dumps(answers[name]).lower()
    r = api(hub, "GET", "/services/pitfalls/sessions", users[INTERVIEWER])
    assert r.status_code == 200, r.text
    rows = {row["user"]: row for row in r.json()["sessions"]}
    assert set(rows) == set(CANDIDATES), rows
    for name in CANDIDATES:
        assert rows[name]["scored"] == 1 and rows[name]["last"]["note"] == f"from {name} notebook", rows[name]
        assert rows[name]["best_public"] == pytest.approx(answers[name]["score"]), rows[name]
        assert rows[name]["best_private"] is not None
    assert rows["ada"]["session_id"] != rows["grace"]["session_id"]
    refused = api(hub, "GET", "/services/pitfalls/sessions", users["ada"])
    assert refused.status_code == 403 and "interviewers" in refused.json()["message"], refused.text


ATTACK = r"""
import json, os, sys, urllib.request, urllib.error
found = {}
def get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception as e:
        return type(e).__name__
tok = os.environ["JUPYTERHUB_API_TOKEN"]
marks = []
for top, dirs, files in os.walk("/"):
    if top in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    marks += [os.path.join(top, f) for f in files if f in (".pitfalls.json", "store.sqlite", "jupyterhub.sqlite")]
    marks += [os.path.join(top, d) for d in dirs if d in ("scaffolds", "heldout")
              or (d == "pitfalls" and os.listdir(os.path.join(top, d)))]  # /run/pitfalls: an empty mount point
found["marks"] = marks
found["paths"] = {p: os.path.exists(p) for p in sys.argv[1:]}
base = os.environ["PITFALLS_SUBMIT_URL"]
found["sessions"] = get(base + "/sessions", tok)
found["hub_grace"] = get(os.environ["JUPYTERHUB_API_URL"] + "/users/grace", tok)
found["grace_server"] = get(sys.argv[-1].replace("IP", os.environ["GRACE_IP"]), tok)
found["grace_server_no_token"] = get(sys.argv[-1].replace("IP", os.environ["GRACE_IP"]))
found["internet"] = get("http://151.101.0.223/")
found["proxy_api"] = get(os.environ["PROXY_API"])  # the proxy's routing API listens on the host's loopback only
try:
    import pitfalls  # noqa
    found["pitfalls"] = True
except ImportError:
    found["pitfalls"] = False
print(json.dumps(found))
"""


def test_candidate_a_cannot_reach_b_the_labels_or_the_store(hub, users) -> None:
    root: Path = hub["root"]
    ada, grace = (f"{hub['prefix']}-{n}" for n in CANDIDATES)
    grace_ip = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                               grace], capture_output=True, text=True, check=True).stdout.strip()
    secret_paths = [str(root / "state"), str(root / "users"), str(REPO / "scaffolds")]
    grace_contents = "http://IP:8888/user/grace/api/contents"
    proxy_api = f"http://{hub['gateway']}:{hub['proxy_api']}/api/routes"
    done = subprocess.run(["docker", "exec", "-e", f"GRACE_IP={grace_ip}", "-e", f"PROXY_API={proxy_api}", ada,
                           "python3", "-c", ATTACK, *secret_paths, grace_contents],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    ada_marker = "/home/candidate/work/.pitfalls.json"
    assert [m for m in found["marks"] if m != ada_marker] == [], found["marks"]
    assert not any(found["paths"].values()), found["paths"]
    assert found["pitfalls"] is False
    assert found["sessions"] == 403, found
    assert found["hub_grace"] in (403, 404), found
    assert found["grace_server"] in (403, 302), found  # ada's token is not grace's: the server refuses it
    assert found["grace_server_no_token"] in (403, 302), found
    assert found["internet"] not in (200, 301, 302), found  # internal network: no route out
    assert found["proxy_api"] == "URLError", found  # connection refused: it listens on 127.0.0.1 only
    # through the proxy: neither grace's token nor the interviewer's opens anything of ada's server (an
    # interviewer in a candidate's lab, on the hub's one origin, would run the candidate's JavaScript with
    # the interviewer's cookies: deploy/jupyterhub/jupyterhub_config.py)
    for other in ("grace", INTERVIEWER):
        seen = api(hub, "GET", "/user/ada/api/contents", users[other], allow_redirects=False)
        assert seen.status_code in (302, 403), (other, seen.status_code, seen.text[:300])
    # the login form: a wrong password, or a name outside the allowed users, gets no hub cookie
    for name, password in (("ada", "wrong-" + PASSWORD), ("mallory", PASSWORD)):
        cookies = {c.name for c in login(hub, name, password).cookies}
        assert not any(c.startswith("jupyterhub-hub-login") for c in cookies), (name, cookies)
    # grace's token still reads her own status (nothing above touched her session)
    mine = api(hub, "GET", "/services/pitfalls/status", users["grace"])
    assert mine.status_code == 200 and mine.json()["metric"] == "balanced_accuracy", mine.text


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _shot(page: Any, name: str) -> None:
    folder = Path(os.environ.get("PITFALLS_SCREENSHOTS") or REPO / "test-results" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"hub-{name}.png"))


def _browser_login(page: Any, hub: dict[str, Any], name: str) -> None:
    """The hub's real login page: type the name and password, press Sign in."""
    page.goto(f"{hub['base']}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")


def test_browser_candidate_reaches_jupyterlab_and_interviewer_the_sessions(hub, users) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright drives the hub's pages (pip install "
                                   "playwright; never `playwright install`)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} must exist for the browser part. Got none. Fix: sudo bash scripts/browser.sh.")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ada = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            _browser_login(ada, hub, "ada")  # lands on /hub/spawn: her server runs, so on to her JupyterLab
            ada.wait_for_url(re.compile(r"/user/ada/lab"), timeout=120_000)
            item = ada.locator(".jp-DirListing-item", has_text="train.py")
            sync_api.expect(item.first).to_be_visible(timeout=120_000)
            _shot(ada, "candidate-lab")
            ada.goto(f"{hub['base']}/services/pitfalls/sessions")  # her cookie is not an interviewer's
            assert "interviewers" in ada.locator("body").inner_text(), ada.content()[:2000]
            # her browser now holds the service's login cookie: it reads nothing else and submits nothing
            for method, route in (("GET", "status"), ("POST", "submit")):
                got = ada.evaluate("([m, r]) => fetch('/services/pitfalls/' + r, {method: m, body: m === 'POST' ? "
                                   "'{}' : undefined}).then(a => a.status)", [method, route])
                assert got == 403, (method, route, got)

            ivy = browser.new_context().new_page()
            _browser_login(ivy, hub, INTERVIEWER)  # an interviewer lands on the sessions view (OAuth, no prompt)
            ivy.wait_for_url(re.compile(r"/services/pitfalls/sessions"), timeout=120_000)
            sync_api.expect(ivy.locator("body")).to_contain_text("grace", timeout=60_000)
            _shot(ivy, "interviewer-sessions")
            rows = {row["user"]: row for row in json.loads(ivy.locator("body").inner_text())["sessions"]}
            assert set(rows) == set(CANDIDATES), rows
        finally:
            browser.close()

# JupyterHub for pitfalls on one Docker host: one candidate container per hub user (DockerSpawner),
# the scorer as a hub-managed service outside every container. README.md beside this file explains
# when to use it, the architecture and how to run it:
#
#   jupyterhub -f deploy/jupyterhub/jupyterhub_config.py     # as root, in the venv that has pitfalls
#
# Everything site-specific comes from the environment (defaults in brackets):
#   PITFALLS_HOME               the scorer's state: SQLite store and snapshots [/srv/pitfalls/state]
#   PITFALLS_HUB_USERS          one workspace folder per hub user [/srv/pitfalls/users]
#   PITFALLS_HUB_SCAFFOLD       the exercise every candidate gets [tumor_triage]
#   PITFALLS_HUB_MINUTES        each candidate's timer, from their first spawn; 0 = untimed [60]
#   PITFALLS_HUB_PARALLEL       users scored at once on this host [half the cores]
#   PITFALLS_HUB_MAX_QUEUED     submissions waiting per user [10]
#   PITFALLS_HUB_CANDIDATES / PITFALLS_HUB_INTERVIEWERS   group names [candidates / interviewers]
#   PITFALLS_HUB_NETWORK        the docker network of the candidates [pitfalls-hub]
#   PITFALLS_HUB_IP             this host's address on that network [172.29.0.1]
#   PITFALLS_HUB_SERVICE_PORT   where the scorer listens on that address [10101]
#   PITFALLS_HUB_IMAGE          the single-user image [pitfalls-candidate-singleuser:<candidate image hash>]
#   PITFALLS_HUB_MEMORY_MB / PITFALLS_HUB_CPUS   each candidate container's limits [4096 / 2]
#   PITFALLS_HUB_AUTHENTICATOR  who may log in [pam]; PITFALLS_HUB_ADMINS, PITFALLS_HUB_CANDIDATE_USERS,
#                               PITFALLS_HUB_INTERVIEWER_USERS: comma-separated user names loaded at start
import functools
import os
import sys

from pitfalls.live import containers
from pitfalls.live import hub as hub_service

c = get_config()  # noqa: F821 - provided by JupyterHub's config loader

SERVICE = "pitfalls"
os.environ.setdefault("PITFALLS_HOME", "/srv/pitfalls/state")
SETTINGS = hub_service.HubSettings.from_env()  # the scorer reads the same PITFALLS_HUB_* (passed on below)
HUB_IP = os.environ.get("PITFALLS_HUB_IP", "172.29.0.1")
SERVICE_URL = f"http://{HUB_IP}:{int(os.environ.get('PITFALLS_HUB_SERVICE_PORT', '10101'))}"
MEMORY_MB = int(os.environ.get("PITFALLS_HUB_MEMORY_MB", "4096"))


def _names(variable: str) -> set[str]:
    return {n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()}


def _default_image() -> str:
    """The image built by Dockerfile.singleuser FROM the candidate image of this checkout (same hash)."""
    return f"{containers.IMAGE_NAME}-singleuser:{containers.image_tag().split(':', 1)[1]}"


# ---- the hub ---------------------------------------------------------------------------------
# The hub's API (8081) listens on this host's address on the candidates' network only: the
# single-user servers reach it there; the public proxy (8000) is where browsers come in.
c.JupyterHub.hub_ip = HUB_IP
c.JupyterHub.bind_url = os.environ.get("PITFALLS_HUB_PUBLIC_URL", "http://:8000")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(os.environ["PITFALLS_HOME"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(os.environ["PITFALLS_HOME"], "jupyterhub_cookie_secret")

# ---- who logs in, and in which group ----------------------------------------------------------
# Use your organisation's authenticator (oauthenticator for GitHub/Google/Azure AD, LDAP, ...); PAM
# (this host's Unix accounts) is JupyterHub's default. Group membership decides everything below:
# "candidates" get a server and submit; "interviewers" (and admins) read every session's scores.
# Admins can also add users to groups later (admin page, or POST /hub/api/groups/NAME/users).
c.JupyterHub.authenticator_class = os.environ.get("PITFALLS_HUB_AUTHENTICATOR", "pam")
c.Authenticator.admin_users = _names("PITFALLS_HUB_ADMINS")
c.Authenticator.allowed_users = _names("PITFALLS_HUB_CANDIDATE_USERS") | _names("PITFALLS_HUB_INTERVIEWER_USERS")
c.Authenticator.allow_existing_users = True  # users an admin adds later on the admin page may log in too
c.JupyterHub.load_groups = {
    SETTINGS.candidates: {"users": sorted(_names("PITFALLS_HUB_CANDIDATE_USERS"))},
    SETTINGS.interviewers: {"users": sorted(_names("PITFALLS_HUB_INTERVIEWER_USERS"))},
}

# ---- roles: who may call the scorer ------------------------------------------------------------
# A JupyterHub >= 2 service accepts a token only if it holds access:services!service=pitfalls (the
# service checks the "scopes" the hub returns for the token). The scorer itself needs no scope: it
# sends the caller's token to GET /hub/api/user, which any token may call about its own owner, and
# the answer always carries the owner's name and groups.
# Interviewers do NOT get "access:servers": every single-user server is served on the hub's own origin
# (no subdomain_host), and a candidate controls what her JupyterLab runs (a labextension in her home,
# a trusted notebook). An interviewer opening it would run her JavaScript with the interviewer's
# cookies: reading GET sessions (every candidate's private scores), asking the hub for a token with
# the interviewer's scopes, opening other candidates' servers. Interviewers read the scorer's sessions
# view instead. Opening candidates' labs needs c.JupyterHub.subdomain_host (one origin per server, a
# wildcard DNS name and certificate) first; then add "access:servers" here. (The filtered
# "access:servers!group=candidates" does not work: a single-user server cannot resolve a group filter.)
# Hub admins hold access:servers through JupyterHub's admin role: they must not open candidates' labs
# on a hub without subdomain_host either.
c.JupyterHub.load_roles = [
    {"name": "pitfalls-candidate", "description": "Submit to the pitfalls scorer",
     "scopes": [f"access:services!service={SERVICE}"], "groups": [SETTINGS.candidates]},
    {"name": "pitfalls-interviewer", "description": "Read every pitfalls session",
     "scopes": [f"access:services!service={SERVICE}",
                f"read:users!group={SETTINGS.candidates}", f"list:users!group={SETTINGS.candidates}"],
     "groups": [SETTINGS.interviewers]},
]
# The token in each container ($JUPYTERHUB_API_TOKEN, used by pitfalls-submit) gets the server role's
# two scopes plus the scorer's; the hub grants only the part its owner holds (candidates do).
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                 f"access:services!service={SERVICE}"]

# ---- the scorer: a managed service, on this host, outside every container --------------------------
# It alone holds the scaffolds, held-out labels and reference solutions (the pitfalls package and
# $PITFALLS_HOME); it retrains each submission in its bubblewrap sandbox like `pitfalls session`.
c.JupyterHub.services = [{
    "name": SERVICE,
    "url": SERVICE_URL,
    "command": [sys.executable, "-m", "pitfalls.live.hub"],
    "environment": {"PITFALLS_HOME": os.environ["PITFALLS_HOME"],
                    **{k: v for k, v in os.environ.items() if k.startswith("PITFALLS_HUB_")}},
    "display": False,  # an API, not a page: no entry in the hub's Services menu
    # Interviewers may open GET sessions in a browser: the hub logs them in (OAuth) without asking them
    # to authorize the organisation's own scorer first. The scorer accepts the cookie only on GET.
    "oauth_no_confirm": True,
}]


# Where a login lands: interviewers on the scorer's sessions view (they get no server), candidates on
# their JupyterLab.
c.JupyterHub.default_url = functools.partial(hub_service.landing_url, settings=SETTINGS, service=SERVICE)

# ---- the candidates' containers -------------------------------------------------------------
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = os.environ.get("PITFALLS_HUB_IMAGE") or _default_image()
c.DockerSpawner.pull_policy = "never"  # built locally (README.md); never fetched from a registry
c.DockerSpawner.prefix = "pitfalls-hub"
c.DockerSpawner.remove = True  # a new container per start; the workspace lives in the host folder
# An internal docker network (no route out): the container reaches this host's HUB_IP (hub API,
# scorer) and nothing else; the proxy reaches the container at its internal address.
c.DockerSpawner.network_name = os.environ.get("PITFALLS_HUB_NETWORK", "pitfalls-hub")
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]  # the image's default CMD is the socket-only `jupyter lab`
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = containers.CONTAINER_WORK
c.Spawner.args = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  "--LabApp.extension_manager=readonly"]
c.Spawner.environment = {"PITFALLS_SUBMIT_URL": f"{SERVICE_URL}/services/{SERVICE}"}
# The same lock-down as runner/live/containers.py gives `pitfalls session` containers.
c.DockerSpawner.mem_limit = f"{MEMORY_MB}M"
c.DockerSpawner.cpu_limit = float(os.environ.get("PITFALLS_HUB_CPUS", "2"))
c.DockerSpawner.extra_create_kwargs = {"user": f"{containers.CANDIDATE_UID}:{containers.CANDIDATE_UID}",
                                       "hostname": "candidate"}
c.DockerSpawner.extra_host_config = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "init": True,
                                     "pids_limit": 512, "memswap_limit": f"{MEMORY_MB}M",
                                     "shm_size": f"{max(64, MEMORY_MB // 8)}M"}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90


async def pre_spawn_hook(spawner) -> None:
    """Before the container starts: the user's session and workspace, mounted at /home/candidate/work."""
    user = await hub_service.prepare_spawn(spawner, SETTINGS)
    spawner.volumes = {str(user.workspace): {"bind": containers.CONTAINER_WORK, "mode": "rw"}}


c.Spawner.pre_spawn_hook = pre_spawn_hook

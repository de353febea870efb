# JupyterHub for pitfalls on Kubernetes: the same single-user image per candidate (KubeSpawner) and
# the same scorer as a hub-managed service in the hub's pod. Load it as the hub's config file, or
# with zero-to-jupyterhub put it in hub.extraFiles and load it from hub.extraConfig. NOT tested
# here (no cluster); README.md beside this file says what was.
#
# The one real constraint: the scorer must read each candidate's workspace, as it is at submit time.
# Chosen: every workspace lives on ONE ReadWriteMany volume (NFS, CephFS, EFS, Azure Files,
# Filestore, ...): the hub pod mounts all of it at $PITFALLS_HUB_USERS, and each candidate pod
# mounts only its own folder (subPath) at /home/candidate/work. Why not a per-user PVC (KubeSpawner's
# default)? A ReadWriteOnce claim is bound to the node of the candidate's pod, so the hub pod could
# not mount it, and mounting a new claim into the hub pod per new user means restarting the hub.
# Why not fetch a snapshot through the Jupyter contents API with the user's token? The scorer would
# need access:servers on every candidate (that token can also start kernels, i.e. run code in each
# candidate pod), it would read through a server the candidate controls, file by file as JSON, not
# as the files are on disk (the snapshot's rules: regular files only, no links followed, a size
# limit), and nothing could be scored or reviewed once the candidate's server has stopped.
#
# Same environment variables as jupyterhub_config.py, plus:
#   PITFALLS_HUB_IMAGE (required)   the single-user image in your registry (Dockerfile.singleuser)
#   PITFALLS_HUB_CLAIM              the ReadWriteMany PersistentVolumeClaim [pitfalls-workspaces]
#   PITFALLS_HUB_SERVICE_HOST       the hub pod's name in cluster DNS [hub]
#
# The cluster side (zero-to-jupyterhub values, in words):
# - hub.image: JupyterHub plus this repository installed (`pip install .`), bubblewrap from apt;
#   the hub pod mounts the claim (hub.extraVolumes / hub.extraVolumeMounts) at $PITFALLS_HUB_USERS
#   and a volume for $PITFALLS_HOME, and may create user namespaces (bubblewrap): on most clusters
#   hub.containerSecurityContext needs seccompProfile Unconfined and appArmorProfile Unconfined, or
#   run the scorer in its own pod instead (an external service: same `url`, an `api_token`, no
#   `command`, this module started by a Deployment that mounts the claim).
# - hub.service.extraPorts: 10101 (the scorer); hub.networkPolicy.ingress: allow 10101 from the
#   singleuser pods and the proxy.
# - singleuser.networkPolicy.egressAllowRules: nonPrivateIPs false (no internet); egress to the hub
#   pod on 8081 (hub API) and 10101 (scorer) only.
import functools
import os
import sys

from pitfalls.live import containers
from pitfalls.live import hub as hub_service

c = get_config()  # noqa: F821 - provided by JupyterHub's config loader

SERVICE = "pitfalls"
os.environ.setdefault("PITFALLS_HOME", "/srv/pitfalls/state")
SETTINGS = hub_service.HubSettings.from_env()
CLAIM = os.environ.get("PITFALLS_HUB_CLAIM", "pitfalls-workspaces")
SERVICE_URL = f"http://{os.environ.get('PITFALLS_HUB_SERVICE_HOST', 'hub')}:" \
              f"{int(os.environ.get('PITFALLS_HUB_SERVICE_PORT', '10101'))}"
MEMORY_MB = int(os.environ.get("PITFALLS_HUB_MEMORY_MB", "4096"))

# ---- groups and roles: as in jupyterhub_config.py ---------------------------------------------
c.JupyterHub.load_roles = [
    {"name": "pitfalls-candidate", "description": "Submit to the pitfalls scorer",
     "scopes": [f"access:services!service={SERVICE}"], "groups": [SETTINGS.candidates]},
    {"name": "pitfalls-interviewer", "description": "Read every pitfalls session (no access:servers: see jupyterhub_config.py)",
     "scopes": [f"access:services!service={SERVICE}",
                f"read:users!group={SETTINGS.candidates}", f"list:users!group={SETTINGS.candidates}"],
     "groups": [SETTINGS.interviewers]},
]
c.JupyterHub.load_groups = {SETTINGS.candidates: {"users": []}, SETTINGS.interviewers: {"users": []}}
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                 f"access:services!service={SERVICE}"]

# ---- the scorer: managed by the hub, in the hub's pod ------------------------------------------
c.JupyterHub.services = [{
    "name": SERVICE,
    "url": SERVICE_URL,
    "command": [sys.executable, "-m", "pitfalls.live.hub"],
    "environment": {"PITFALLS_HOME": os.environ["PITFALLS_HOME"], "PITFALLS_HUB_BIND": "0.0.0.0",
                    **{k: v for k, v in os.environ.items() if k.startswith("PITFALLS_HUB_")}},
    "display": False,
    # Interviewers open GET sessions in a browser: logged in by the hub (OAuth) without an "authorize"
    # prompt for the organisation's own scorer (as jupyterhub_config.py).
    "oauth_no_confirm": True,
}]
# Where a login lands: interviewers on the scorer's sessions view (they get no server), candidates on
# their JupyterLab.
c.JupyterHub.default_url = functools.partial(hub_service.landing_url, settings=SETTINGS, service=SERVICE)

# ---- the candidates' pods --------------------------------------------------------------------
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.KubeSpawner.image = os.environ.get("PITFALLS_HUB_IMAGE", "")
c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = containers.CONTAINER_WORK
c.Spawner.args = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  "--LabApp.extension_manager=readonly"]
c.Spawner.environment = {"PITFALLS_SUBMIT_URL": f"{SERVICE_URL}/services/{SERVICE}"}
c.KubeSpawner.uid = containers.CANDIDATE_UID
c.KubeSpawner.gid = containers.CANDIDATE_UID
c.KubeSpawner.fs_gid = containers.CANDIDATE_UID
c.KubeSpawner.allow_privilege_escalation = False
c.KubeSpawner.container_security_context = {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                                            "seccompProfile": {"type": "RuntimeDefault"}}
c.KubeSpawner.automount_service_account_token = False  # the candidate gets no Kubernetes API credentials
c.KubeSpawner.mem_limit = f"{MEMORY_MB}M"
c.KubeSpawner.mem_guarantee = f"{MEMORY_MB}M"
c.KubeSpawner.cpu_limit = float(os.environ.get("PITFALLS_HUB_CPUS", "2"))
c.KubeSpawner.storage_pvc_ensure = False  # no claim per user: one ReadWriteMany claim, a folder each
c.KubeSpawner.volumes = [{"name": "pitfalls-workspaces", "persistentVolumeClaim": {"claimName": CLAIM}}]
c.Spawner.start_timeout = 300


async def pre_spawn_hook(spawner) -> None:
    """Before the pod starts: the user's session and workspace on the shared claim; mount only that folder."""
    user = await hub_service.prepare_spawn(spawner, SETTINGS)
    spawner.volume_mounts = [{"name": "pitfalls-workspaces", "mountPath": containers.CONTAINER_WORK,
                              "subPath": hub_service.workspace_folder(user.name)}]


c.Spawner.pre_spawn_hook = pre_spawn_hook

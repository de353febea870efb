"""The candidate's container: a real Docker engine, the image of the project's Dockerfile, JupyterLab.

The container holds the workspace and nothing secret: no pitfalls package, no scaffold, no label.
It runs as the unprivileged user ``candidate`` (uid 1000) with no network (``--network none``), no
capabilities and memory, CPU and process limits. jupyter-server listens on a UNIX socket in a host
folder mounted at ``/run/pitfalls``, so the host reaches JupyterLab through that socket while the
container reaches nothing. Once Jupyter answers, that folder is sealed (the candidate can no longer
add, swap or remove entries); the session server (host side) then puts ``session.sock`` there, mode
0666, for the candidate's ``pitfalls-submit`` command (protocol in ``docker/pitfalls-submit``).

``scripts/docker.sh`` makes the engine and the local base image ready (also on CI).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pitfalls.core.errors import PitfallsError
from pitfalls.core.resources import checkout
from pitfalls.core.store import home
from pitfalls.fs.safecopy import chown_tree

IMAGE_CONTEXT_ENV = "PITFALLS_IMAGE_CONTEXT"
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "docker", "scripts/docker.sh")
"""What a build context must hold: the image is built from a pitfalls checkout, never from an
installed package (its .dockerignore lets in only docker/: nothing of pitfalls reaches the image)."""
IMAGE_NAME = "pitfalls-candidate"
CANDIDATE_UID = 1000
CONTAINER_HOME = "/home/candidate"
CONTAINER_WORK = f"{CONTAINER_HOME}/work"
CONTAINER_RUN = "/run/pitfalls"
JUPYTER_SOCKET = "jupyter.sock"
COOKIE_SECRET = "jupyter_cookie_secret"
_engine_checked = False


class ContainerError(PitfallsError):
    """The Docker engine, the candidate image or a candidate container is not as it must be."""


@dataclass(frozen=True)
class ContainerStatus:
    """What ``docker inspect`` says: ``state`` is ``created``, ``running``, ``exited``, ``dead``, ..."""

    state: str
    exit_code: int
    oom_killed: bool


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ContainerError("The `docker` command must be on PATH. Got none. "
                             "Fix: bash scripts/docker.sh (as root) installs Docker.") from None
    except subprocess.TimeoutExpired:
        raise ContainerError(f"`docker {args[0]}` must finish within {timeout:g} s. Got no answer. "
                             "Fix: check that dockerd runs (docker info).") from None
    if check and proc.returncode != 0:
        err = ((proc.stderr.strip() or proc.stdout.strip()).splitlines() or ["no output"])[-1]
        raise ContainerError(f"`docker {' '.join(args[:2])}` must succeed. Got exit code {proc.returncode}: {err}")
    return proc


def engine_ready() -> bool:
    """True when a Docker engine answers ``docker info`` within 20 seconds."""
    try:
        return subprocess.run(["docker", "info"], check=False, capture_output=True, timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def image_context() -> Path:
    """The candidate image's build context: ``$PITFALLS_IMAGE_CONTEXT``, else the checkout pitfalls
    runs from (an editable install). A wheel install has no checkout, so it must name one.

    Raises:
        ContainerError: no context, or one without the Dockerfile, docker/ or scripts/docker.sh.
    """
    env = os.environ.get(IMAGE_CONTEXT_ENV)
    root = Path(env).expanduser().resolve() if env else checkout()
    missing = [f for f in CONTEXT_FILES if root is None or not (root / f).exists()]
    if root is None or missing:
        got = (f"{root} (without {', '.join(missing)})" if root else
               "none: pitfalls runs from an installed package, which holds no Dockerfile")
        raise ContainerError(
            f"The candidate image must be built from a pitfalls checkout ({', '.join(CONTEXT_FILES)}). Got "
            f"{got} instead. Fix: set {IMAGE_CONTEXT_ENV}=<a clone of the pitfalls repository>, or run "
            "pitfalls from one (pip install -e <clone>).")
    return root


def ensure_engine() -> None:
    """Make the engine, the base image and the staged torch wheel ready (``scripts/docker.sh``).

    Raises:
        ContainerError: the script failed; the message carries its own explanation.
    """
    global _engine_checked
    if _engine_checked and engine_ready():
        return
    script = image_context() / "scripts" / "docker.sh"
    try:
        proc = subprocess.run(["bash", str(script)], check=False, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise ContainerError("scripts/docker.sh must finish within 30 min. Got no end.") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1].removeprefix("docker.sh: error: ")
        raise ContainerError(f"A Docker engine and the base image must be ready. Got a failure of "
                             f"scripts/docker.sh instead: {last}")
    _engine_checked = True


def image_tag() -> str:
    """``pitfalls-candidate:<hash>``: a content hash of the build context, so a change rebuilds.

    Wheels count by name and size (hashing hundreds of megabytes on every call is slow).
    """
    digest, repo = hashlib.sha256(), image_context()
    context = sorted(p for p in (repo / "docker").rglob("*") if p.is_file() and p.suffix != ".part")
    for path in [repo / "Dockerfile", repo / ".dockerignore", *context]:
        if not path.is_file():
            raise ContainerError(f"{path} must exist (the candidate image's build context). Got no such file.")
        digest.update(str(path.relative_to(repo)).encode() + b"\0")
        digest.update(str(path.stat().st_size).encode() if path.suffix == ".whl" else path.read_bytes())
        digest.update(str(path.stat().st_mode & 0o111).encode() + b"\0")
    return f"{IMAGE_NAME}:{digest.hexdigest()[:16]}"


def image_exists(*, tag: str) -> bool:
    """True when the engine has an image ``tag``."""
    return _docker("image", "inspect", "--format", "{{.Id}}", tag, check=False).returncode == 0


def _build_lock() -> IO[bytes]:
    """A file to flock: in the temp folder (shared by all users and homes) if it opens, else in home()."""
    shared = Path(tempfile.gettempdir()) / "pitfalls-docker-build.lock"
    try:
        return os.fdopen(os.open(shared, os.O_RDONLY | os.O_CREAT, 0o644), "rb")
    except OSError:
        return open(home() / "docker-build.lock", "ab")


def ensure_image(*, rebuild: bool = False, progress: Callable[[str], None] | None = None) -> str:
    """Build the candidate image if the engine lacks it (or always, with ``rebuild``); return its tag.

    The build runs ``docker build --network host`` (apt and pip reach their registries) and logs to
    ``$PITFALLS_HOME/logs/docker-build.log``; ``progress`` gets one line when it starts (naming the
    log), one per build step and, while output keeps coming, at most one every
    :data:`BUILD_HEARTBEAT_SECONDS` of a long step.

    Raises:
        ContainerError: no engine, or the build failed (the end of the log is in the message).
    """
    if not rebuild and engine_ready() and image_exists(tag=(tag := image_tag())):
        return tag  # the fast path: no need to run scripts/docker.sh (0.7 s) again
    say = progress or (lambda _: None)
    say("Preparing the Docker engine and the base image (scripts/docker.sh; the first time takes minutes)...")
    ensure_engine()
    tag = image_tag()  # after ensure_engine, which may stage the torch wheel the tag counts
    with _build_lock() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a waiting caller then finds the image
        if not rebuild and image_exists(tag=tag):
            return tag
        log_path = home() / "logs" / "docker-build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        repo = image_context()
        cmd = ["docker", "build", "--network", "host", "--force-rm", "-f", str(repo / "Dockerfile"),
               "--label", f"pitfalls.context={tag.split(':')[1]}", "-t", tag,
               *(["--no-cache"] if rebuild else []), str(repo)]
        say(f"Building the candidate image {tag} (no session clock runs meanwhile; a first build takes "
            f"10-15 minutes). Log: {log_path}")
        code = _build_logged(cmd, log_path, say)
        if code != 0:
            tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-3:])
            raise ContainerError(f"The candidate image {tag} must build. Got exit code {code} instead "
                                 f"({tail[-600:]}). Full log: {log_path}")
        say(f"Built the candidate image {tag}.")
    return tag


BUILD_HEARTBEAT_SECONDS = 30.0
BUILD_STEP = re.compile(r"^(?:#\d+ \[(?:[\w.-]+ )?(\d+)/(\d+)\] |Step (\d+)/(\d+) : )(.*)")
"""A build step's first line: BuildKit's ``#7 [stage 3/12] RUN ...`` or the classic ``Step 3/12 : RUN ...``."""


def _build_logged(cmd: list[str], log_path: Path, say: Callable[[str], None], timeout: float = 3600) -> int:
    """Run ``cmd`` with its output into ``log_path``; tell ``say`` each new step and, during a long one,
    the time spent. Returns the exit code (-9 after ``timeout`` seconds, the build killed)."""
    start = last = time.monotonic()
    step = ""
    with open(log_path, "w") as log, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                      text=True, errors="replace") as proc:
        for line in proc.stdout or ():
            log.write(line)
            found = BUILD_STEP.match(line)
            now = time.monotonic()
            if found:
                n, of = found.group(1) or found.group(3), found.group(2) or found.group(4)
                if f"{n}/{of}" != step:
                    step, last = f"{n}/{of}", now
                    say(f"  image build step {step} ({now - start:.0f} s): {found.group(5).strip()[:100]}")
            if now - last >= BUILD_HEARTBEAT_SECONDS:
                last = now
                say(f"  image build: {now - start:.0f} s so far{f', step {step}' if step else ''} (log: {log_path})")
            if now - start > timeout:
                proc.kill()
        return proc.wait()


def hand_to_candidate(workspace: Path) -> None:
    """As root, make everything in ``workspace`` belong to the container's candidate (uid 1000).

    Walked race-free (runner/fs/safefs.py): folders are opened relative to their parent without
    following links and changed through those descriptors, links are changed themselves; no
    recursion, whatever the depth."""
    if os.geteuid() != 0:
        return
    chown_tree(workspace, CANDIDATE_UID, CANDIDATE_UID)


def _prepare_dirs(*, workspace: Path, socket_dir: Path) -> None:
    """Let uid 1000 write the workspace and create its socket in ``socket_dir``."""
    if not workspace.is_dir():
        raise ContainerError(f"The workspace must be a folder. Got {workspace} (missing) instead.")
    socket_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        hand_to_candidate(workspace)
        os.chown(socket_dir, CANDIDATE_UID, CANDIDATE_UID)
        socket_dir.chmod(0o755)
    elif os.geteuid() != CANDIDATE_UID:
        if (owner := workspace.stat().st_uid) != CANDIDATE_UID:
            raise ContainerError(f"The workspace must be owned by uid {CANDIDATE_UID} (the container's candidate). "
                                 f"Got uid {owner}. Fix: run as root, or sudo chown -R 1000:1000 {workspace}.")
        socket_dir.chmod(0o777)  # keep its parent private; Jupyter's token guards the socket


def run_candidate_container(*, name: str, workspace: Path, socket_dir: Path, token: str,
                            memory_mb: int = 4096, cpus: float = 2.0, pids: int = 512,
                            base_url: str = "/", labels: dict[str, str] | None = None, image: str = "") -> str:
    """Start JupyterLab on ``workspace`` in a new container named ``name``; return its id.

    The workspace is bind-mounted at /home/candidate/work and ``socket_dir`` at /run/pitfalls, where
    jupyter-server listens on ``jupyter.sock`` (token ``token``, URLs under ``base_url``). As root,
    the workspace is handed to uid 1000. The image is read-only; /tmp and the home folder are
    tmpfs of ``memory_mb // 8`` (at least 64 MiB) each; the home folder starts as a copy of the
    image's /opt/home-skeleton. The call returns at once; ``wait_for_jupyter`` waits
    until the API answers. ``image``: the tag to run (default: :func:`ensure_image`'s, built if missing).

    Raises:
        ContainerError: bad arguments, no image, or ``docker run`` failed.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", token):
        raise ContainerError(f"The Jupyter token must be 16-256 of [A-Za-z0-9_-]. Got {len(token)} characters.")
    if memory_mb < 256 or cpus <= 0 or pids < 32:
        raise ContainerError(f"Limits must be memory_mb >= 256, cpus > 0, pids >= 32. Got {memory_mb}, {cpus}, {pids}.")
    workspace, socket_dir = workspace.resolve(), socket_dir.resolve()
    scratch_mb = max(64, memory_mb // 8)
    _prepare_dirs(workspace=workspace, socket_dir=socket_dir)
    (socket_dir / JUPYTER_SOCKET).unlink(missing_ok=True)
    stable_cookie_secret(socket_dir)
    tag = image or ensure_image()
    sock_mode = "0600" if os.geteuid() in (0, CANDIDATE_UID) else "0666"
    cmd = [
        "run", "--detach", "--name", name, "--hostname", "candidate", "--init",
        "--label", "pitfalls.role=candidate",
        *[arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")],
        "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--user", f"{CANDIDATE_UID}:{CANDIDATE_UID}",
        "--memory", f"{memory_mb}m", "--memory-swap", f"{memory_mb}m", "--cpus", f"{cpus:g}",
        "--pids-limit", str(pids), "--shm-size", f"{max(64, memory_mb // 8)}m",
        # Nothing else writable: the image's layer would grow without bound on the host's disk.
        # tmpfs pages count against --memory.
        "--read-only", "--tmpfs", f"/tmp:rw,nosuid,nodev,size={scratch_mb}m",
        "--tmpfs", f"{CONTAINER_HOME}:rw,nosuid,nodev,size={scratch_mb}m,uid={CANDIDATE_UID},gid={CANDIDATE_UID},mode=0755",
        "--mount", f"type=bind,source={workspace},target={CONTAINER_WORK}",
        "--mount", f"type=bind,source={socket_dir},target={CONTAINER_RUN}",
        tag,
        # The home folder is an empty tmpfs: first the image's skeleton (shell files, font cache).
        "sh", "-c", 'cp -a /opt/home-skeleton/. "$HOME"/ 2>/dev/null; exec "$@"', "start",
        "jupyter", "lab", "--no-browser", f"--ServerApp.root_dir={CONTAINER_WORK}",
        f"--ServerApp.base_url={base_url}", "--ServerApp.allow_remote_access=True",
        f"--ServerApp.sock={CONTAINER_RUN}/{JUPYTER_SOCKET}", f"--ServerApp.sock_mode={sock_mode}",
        f"--ServerApp.cookie_secret_file={CONTAINER_RUN}/{COOKIE_SECRET}",
        # jupyter-server >= 2 reads the token from IdentityProvider (ServerApp.token is deprecated).
        f"--IdentityProvider.token={token}",
        # No network: skip the news feed, update checks and the PyPI extension manager.
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    return _docker(*cmd, timeout=120).stdout.strip()


def stable_cookie_secret(socket_dir: Path) -> Path:
    """The lab's cookie secret in ``socket_dir``, made once per session and kept across containers.

    jupyter-server signs the candidate's login cookie with it; its default lives in the container's
    home folder (a tmpfs), so a recreated container (``docker rm -f``, a resume) signed with a new one
    and the candidate's open JupyterLab, whose cookie no longer counted, stayed "Disconnected" until
    a reload. With the same secret, token, base URL and proxied address, the open lab reconnects.
    The file is the host's (root, 0644, in the sealed folder as root): the container reads it and
    cannot change it; it lets nobody do more than the candidate's own token already does."""
    path = socket_dir / COOKIE_SECRET
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()):
        path.unlink()  # not the one this host wrote: a new secret (the open lab then needs one reload)
        st = None
    if st is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
    path.chmod(0o644)
    return path


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def unix_http(*, socket_path: Path, method: str, path: str, token: str | None = None,
              body: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """One HTTP request over a UNIX socket (``token`` as ``Authorization``, ``body`` as JSON): (status, body).

    Raises:
        ContainerError: ``socket_path`` is not a socket (a symlink planted to reach a host socket).
    """
    if not stat.S_ISSOCK(os.lstat(socket_path).st_mode):
        raise ContainerError(f"{socket_path} must be a UNIX socket. Got another kind of file instead.")
    conn = _UnixHTTPConnection(socket_path, timeout)
    headers = ({"Authorization": f"token {token}"} if token else {}) | {"Content-Type": "application/json"}
    payload = None if body is None else json.dumps(body).encode()
    try:
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_for_jupyter(*, container: str, socket_dir: Path, token: str, timeout: float = 90.0,
                     base_url: str = "/") -> float:
    """Wait until Jupyter's ``/api/status`` answers 200 through the socket; return the seconds waited.

    Then seal ``socket_dir``: as root it goes back to root, mode 0755, so the candidate cannot plant
    a symlink there (a host process connecting to it would follow one). A host running as uid 1000
    itself cannot seal it from the candidate, who has the same uid.

    Raises:
        ContainerError: the container stopped, or no answer within ``timeout`` seconds.
    """
    start = time.monotonic()
    sock = socket_dir / JUPYTER_SOCKET
    while time.monotonic() - start < timeout:
        if sock.exists():
            try:
                status, body = unix_http(socket_path=sock, method="GET", path=f"{base_url}api/status",
                                         token=token)
                if status == 200 and isinstance(json.loads(body), dict):
                    if os.geteuid() == 0:
                        os.chown(socket_dir, 0, 0)
                    if socket_dir.stat().st_uid == os.geteuid():
                        socket_dir.chmod(0o755)
                    return time.monotonic() - start
            except (OSError, http.client.HTTPException, ValueError):
                pass
        state = container_status(name_or_id=container)
        if state is None or state.state not in ("created", "running"):
            logs = _docker("logs", "--tail", "5", container, check=False)
            raise ContainerError(f"Container {container} must keep running while Jupyter starts. Got "
                                 f"{state.state if state else 'no container'} instead: "
                                 f"{(logs.stdout + logs.stderr).strip()[-600:]}")
        time.sleep(0.1)
    raise ContainerError(f"Jupyter in {container} must answer on {sock} within {timeout:g} s. Got no answer.")


def container_status(*, name_or_id: str) -> ContainerStatus | None:
    """The container's state, or None when there is no such container."""
    proc = _docker("inspect", "--type", "container", "--format",
                   "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", name_or_id, check=False)
    if proc.returncode != 0:
        return None
    state, code, oom = proc.stdout.split()
    return ContainerStatus(state=state, exit_code=int(code), oom_killed=oom == "true")


def stop_container(*, name_or_id: str, grace_seconds: int = 5) -> None:
    """Stop (SIGTERM, then SIGKILL after ``grace_seconds``) and remove a container; no-op if absent."""
    if container_status(name_or_id=name_or_id) is None:
        return
    _docker("stop", "--time", str(grace_seconds), name_or_id, check=False, timeout=grace_seconds + 60)
    _docker("rm", "--force", name_or_id, check=False, timeout=60)


def remove_container(*, name_or_id: str) -> None:
    """Remove a container at once (SIGKILL), no-op if absent: for one no candidate has used."""
    _docker("rm", "--force", name_or_id, check=False, timeout=60)


def rename_container(*, old: str, new: str) -> bool:
    """Rename a (running) container; False when the engine refused."""
    return _docker("rename", old, new, check=False, timeout=60).returncode == 0


def container_names(*, label: str, running: bool = True) -> set[str]:
    """The names of the containers (only the running ones, unless not ``running``) labelled ``label``
    (``KEY=VALUE``)."""
    proc = _docker("ps", *([] if running else ["--all"]), "--filter", f"label={label}", "--format", "{{.Names}}",
                   timeout=60)
    return set(proc.stdout.split())

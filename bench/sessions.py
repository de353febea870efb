"""How many live sessions one host holds: start time, idle memory, and a burst of submissions.

    $ .venv/bin/python bench/sessions.py [--sessions 4] [--scaffold tumor_triage] [--bare-runs 3] [--no-submit]
                                         [--variant base] [--host-server] [--warm N] [--scoring K]

In one run, on this machine, side by side:

1. a bare `jupyter server` (the host's, on a TCP port) from start to its API answering (median of
   ``--bare-runs``), and a `pitfalls session start` (container + session server) to both URLs
   answering; ratio;
2. for N concurrent sessions: each one's start time, then the idle memory of each (the
   container's cgroup as `docker stats` reports it, plus the session server's RSS), and the
   host's available memory before and after;
3. one kernel started in every session (what a candidate with an open notebook costs);
4. every session submitting at the same moment (`pitfalls-submit` in each container): wall time
   of each, and that every submission is recorded.

Each session of a fresh installation gets a random variant, and the first session of a variant
measures its scoring anchors (two training runs) before it answers; ``--variant base`` pins them
all to one, so the first session pays that and the others start as they do on a host in use.
With ``--host-server`` a `pitfalls server --detach` runs first and every session is served by it
(issue 18): a session's memory is then its container plus an equal share of the one host server
and of its warm containers. It keeps ``--warm`` of them (default 1; 0: every start is cold); each
start then waits until one is ready, as on a host where interviews start minutes apart, and the
time that took (the refill after the previous claim) is printed apart, never counted in the start.
Without ``--variant`` the host server also draws each scaffold's next variant and measures its scale
ahead (runner/live/prepared.py), and each start after the first waits for that too.
It prints the host's load average at the start and after the session starts (read the numbers with
it), uses its own PITFALLS_HOME and stops every session it started.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _cli(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pitfalls", *args], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"pitfalls {' '.join(args)} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout) if "--json" in args else {}


def _answers(url: str, token: str) -> bool:
    try:
        req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def bare_jupyter_start() -> float:
    """Seconds from `jupyter server` to its /api/status answering (host venv, empty folder)."""
    with tempfile.TemporaryDirectory() as root, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        token = secrets.token_hex(16)
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "jupyter", "server", f"--ServerApp.port={port}",
                                 f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
                                 "--ServerApp.allow_root=True", "--ServerApp.open_browser=False"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not _answers(f"http://127.0.0.1:{port}/api/status", token):
                time.sleep(0.05)
            return time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _container_mb(names: list[str]) -> dict[str, float]:
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names],
                         capture_output=True, text=True, timeout=120).stdout
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 2**20}
    mem = {}
    for line in out.splitlines():
        name, usage = line.split(" ", 1)
        value = usage.split("/")[0].strip()
        unit = next(u for u in units if value.endswith(u))
        mem[name] = float(value[: -len(unit)]) * units[unit]
    return mem


def _available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start_kernel(info: dict) -> None:
    base, token = info["candidate_url"].split("/candidate/")[0], info["candidate_url"].rsplit("token=", 1)[1]
    req = urllib.request.Request(f"{base}/candidate/api/kernels", data=b'{"name": "python3"}', method="POST",
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()


def _submit(info: dict) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["docker", "exec", info["container"], "pitfalls-submit", "--json", "burst"],
                          capture_output=True, text=True, timeout=900)
    status = json.loads(proc.stdout)["status"] if proc.stdout.strip() else f"exit {proc.returncode}"
    return time.perf_counter() - start, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--scaffold", default="tumor_triage")
    parser.add_argument("--bare-runs", type=int, default=3, help="bare `jupyter server` starts (median)")
    parser.add_argument("--no-submit", action="store_true", help="skip the simultaneous submissions")
    parser.add_argument("--variant", default="", help="pin every session to this variant (e.g. base): only "
                        "the first session measures its scoring anchors, the others start as on a host in use")
    parser.add_argument("--scoring", type=int, default=0, help="submit in only this many sessions (default: all) "
                        "while every session's dashboard API and lab status are polled; prints the slowest answer")
    parser.add_argument("--host-server", action="store_true", help="serve every session by one host server "
                        "(`pitfalls server --detach`, started before the sessions and not counted in their starts)")
    parser.add_argument("--warm", type=int, default=1, help="with --host-server: warm containers it keeps "
                        "(each start waits for one to be ready; 0: cold starts)")
    args = parser.parse_args()
    if args.variant:
        os.environ["PITFALLS_VARIANT"] = args.variant
    print(f"load average at start: {_loadavg()}", flush=True)
    os.environ["PITFALLS_HOME"] = tempfile.mkdtemp(prefix="pitfalls-bench-sessions-")
    from pitfalls.live import containers

    containers.ensure_image()
    infos: list[dict] = []
    try:
        bare = statistics.median(bare_jupyter_start() for _ in range(max(1, args.bare_runs)))
        warm = args.warm if args.host_server else 0
        if args.host_server:
            _cli("server", "--detach", "--json", "--warm", str(warm))
        free_before = _available_mb()
        starts, refills = [], []
        prepares = args.host_server and not args.variant  # the host server draws each next variant ahead
        for i in range(args.sessions):
            refills.append(_wait_warm(warm, args.scaffold if prepares and i else ""))
            t = time.perf_counter()
            infos.append(_cli("session", "start", args.scaffold, "--candidate", f"bench-{i}", "--json"))
            starts.append(time.perf_counter() - t)
        print(f"bare `jupyter server` start to API ready: {bare:5.2f} s (median of {max(1, args.bare_runs)})")
        print(f"`pitfalls session start` to both URLs ready: first {starts[0]:5.2f} s, median "
              f"{statistics.median(starts):5.2f} s ({statistics.median(starts) / bare:4.2f}x bare); "
              f"each: {', '.join(f'{s:.2f}' for s in starts)}")
        if warm:
            print(f"warm containers kept: {warm}; waited for one{'' if args.variant else ' and a prepared variant'} "
                  "before each start (not counted): first "
                  f"{refills[0]:5.2f} s, then median {statistics.median(refills[1:] or [0.0]):5.2f} s")
        time.sleep(5)
        report_memory("idle", infos, free_before)
        print(f"load average after the starts: {_loadavg()}", flush=True)
        with cf.ThreadPoolExecutor(len(infos)) as pool:
            list(pool.map(_start_kernel, infos))
        time.sleep(5)
        report_memory("one kernel each", infos, free_before)
        if args.no_submit:
            return
        scoring = infos[: args.scoring or len(infos)]
        t = time.perf_counter()
        with cf.ThreadPoolExecutor(len(scoring)) as pool, _PagePoll(infos) as pages:
            results = list(pool.map(_submit, scoring))
        wall = time.perf_counter() - t
        print(f"{len(scoring)} simultaneous submissions ({len(infos)} sessions open): all done in {wall:5.1f} s; "
              "each " + ", ".join(f"{s:4.1f} s {st}" for s, st in results))
        print(f"pages while they scored: {pages.count} answers, slowest {pages.slowest:.3f} s, "
              f"{pages.failed} failed (every session's /pitfalls/api/state and lab status, polled in turn)")
    finally:
        for info in infos:
            _cli("session", "stop", info["session_id"])
        if args.host_server:
            _cli("server", "--stop")


class _PagePoll:
    """Polls every session's dashboard API (``/pitfalls/api/state``, interviewer token) and lab status
    (candidate token) in turn on a thread while the block runs; keeps the slowest answer."""

    def __init__(self, infos: list[dict]) -> None:
        self.urls = []
        for info in infos:
            base_i, token_i = info["interviewer_url"].split("/pitfalls/")[0], info["interviewer_url"].rsplit("token=", 1)[1]
            base_c, token_c = info["candidate_url"].split("/candidate/")[0], info["candidate_url"].rsplit("token=", 1)[1]
            self.urls += [(f"{base_i}/pitfalls/api/state", token_i), (f"{base_c}/candidate/pitfalls-lab/status", token_c)]
        self.count, self.failed, self.slowest = 0, 0, 0.0
        self._stop = False

    def _run(self) -> None:
        while not self._stop:
            for url, token in self.urls:
                t = time.perf_counter()
                ok = _answers(url, token)
                self.slowest = max(self.slowest, time.perf_counter() - t)
                self.count, self.failed = self.count + 1, self.failed + (not ok)

    def __enter__(self) -> _PagePoll:
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=30)


def _wait_warm(count: int, scaffold: str = "", timeout: float = 300) -> float:
    """Seconds until a warm container is ready to claim (0 when none is kept) and, given ``scaffold``,
    a variant of it is prepared (runner/live/prepared.py)."""
    from pitfalls.live.pool import ready_entries
    from pitfalls.live.prepared import prepared

    start = time.perf_counter()
    while (count and not ready_entries()) or (scaffold and not prepared(scaffold)):
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"no warm container was ready within {timeout:g} s (see the host server's log)")
        time.sleep(0.05)
    return time.perf_counter() - start


def report_memory(label: str, infos: list[dict], free_before: float) -> None:
    """Print per-session memory: container (cgroup) + session server RSS (a host server's, and its warm
    containers', split between the sessions)."""
    from pitfalls.live.pool import ready_entries
    from pitfalls.live.sessions import load_session

    spares = [e.container for _, e in ready_entries()]
    mem = _container_mb([i["container"] for i in infos] + spares)
    box = [mem.get(i["container"], 0.0) for i in infos]
    pids = [load_session(i["session_id"]).server_pid for i in infos]
    shared = {pid: pids.count(pid) for pid in pids}  # a host server's pid is every session's: split its RSS
    spare = sum(mem.get(name, 0.0) for name in spares) / len(infos)
    server = [_rss_mb(pid) / shared[pid] + spare for pid in pids]
    per = [b + s for b, s in zip(box, server, strict=True)]
    what = ("its share of the host server" + (f" and of {len(spares)} warm container(s)" if spares else "")
            if len(shared) < len(pids) else "session server")
    print(f"memory per session, {label}: median {statistics.median(per):6.0f} MiB (container "
          f"{statistics.median(box):.0f} + {what} {statistics.median(server):.0f}); "
          f"host available {free_before:7.0f} -> {_available_mb():7.0f} MiB for {len(infos)} sessions", flush=True)


def _loadavg() -> str:
    """The host's /proc/loadavg (1, 5, 15 minutes)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()

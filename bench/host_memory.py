"""Idle memory of the host server (runner/live/host/) with 0, 1, 4 ... attached sessions, against one
per-session server (``python -m pitfalls.live.server``), in one run on this machine.

    $ .venv/bin/python bench/host_memory.py [--sessions 0,1,4] [--scaffold tumor_triage[,other,...]] [--settle 4]

No container is needed: each session is created as `session start` creates it (a real workspace)
and served without one (its candidate proxy would answer 502). For each count it reports the host
server's RSS (VmRSS) and PSS (``/proc/PID/smaps_rollup``: shared pages counted once per sharer),
after each session's warm-up (scoring libraries and the dataset, loaded by its scoring thread) has
settled. Sessions of one scaffold share its loaded dataset in the host process; ``--scaffold a,b``
gives the sessions those scaffolds in turn (each one's scale is measured first). It uses a PITFALLS_HOME of its own (the scale is measured there once first: two trainings),
and stops everything it started. The figures are of the server process only, not the containers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of ``pid`` in MiB."""
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    pss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
               if line.startswith("Pss:"))
    return rss / 1024, pss / 1024


def settled(pid: int, settle: float, timeout: float = 120.0) -> tuple[float, float]:
    """Memory once RSS stayed within 1 MiB for ``settle`` seconds (the scoring threads' warm-ups done)."""
    deadline = time.monotonic() + timeout
    last, since = memory_mib(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = memory_mib(pid)
        if abs(now[0] - last[0]) > 1.0:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            return now
    return memory_mib(pid)


def new_session(scaffold: str, name: str):
    from pitfalls.core.store import Store
    from pitfalls.live import sessions
    from pitfalls.live.jupyter import free_port

    return sessions._create(Store(), scaffold=scaffold, candidate=name, duration_minutes=60, host="127.0.0.1",
                            port=free_port(0), interviewer_port=free_port(0), url_host="", memory_mb=2048,
                            cpus=1.0, disk_mb=0)


def per_session_server(scaffold: str, settle: float) -> tuple[float, float]:
    """RSS and PSS of one session server process of its own (as without a host server)."""
    from pitfalls.live.process import spawn_server, stop_server, wait_for_server

    live = new_session(scaffold, "own-server")
    proc = spawn_server(live)
    try:
        wait_for_server(live, proc)
        return settled(proc.pid, settle)
    finally:
        stop_server(live)
        proc.wait(timeout=60)


def host_series(scaffolds: list[str], counts: list[int], settle: float) -> list[tuple[int, float, float]]:
    """(sessions attached, RSS, PSS) of one host server as sessions are attached up to each count."""
    from pitfalls.live.host import process as host
    from pitfalls.live.process import spawn_server, wait_for_server

    proc = host.start_detached()
    rows, attached = [], 0
    try:
        for count in sorted(counts):
            while attached < count:
                live = new_session(scaffolds[attached % len(scaffolds)], f"host-{attached}")
                wait_for_server(live, spawn_server(live))
                attached += 1
            rows.append((count, *settled(proc.pid, settle)))
    finally:
        host.stop()
        proc.wait(timeout=120)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="0,1,4", help="attached-session counts to measure (comma-separated)")
    parser.add_argument("--scaffold", default="tumor_triage", help="one scaffold, or several (comma-separated) in turn")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds RSS must stay flat before a reading")
    args = parser.parse_args()
    counts = [int(c) for c in args.sessions.split(",")]
    with tempfile.TemporaryDirectory(prefix="hostmem-", dir="/tmp") as folder:
        os.environ["PITFALLS_HOME"] = folder
        os.environ.setdefault("PITFALLS_VARIANT", "base")
        from pitfalls.service import api

        scaffolds = args.scaffold.split(",")
        for name in scaffolds:
            api.calibrate(name=name)  # the scale, so no session's warm-up trains
        own = per_session_server(scaffolds[0], args.settle)
        rows = host_series(scaffolds, counts, args.settle)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.scaffold}; idle, no containers; MiB")
    print("| server | sessions | RSS | PSS | RSS per session |")
    print("|---|---|---|---|---|")
    print(f"| per-session server | 1 | {own[0]:.0f} | {own[1]:.0f} | {own[0]:.0f} |")
    base = next((r for r in rows if r[0] == 0), None)
    for count, rss, pss in rows:
        share = f"{rss / count:.0f}" if count else "-"
        extra = f" (+{(rss - base[1]) / count:.0f} each over 0)" if base and count else ""
        print(f"| host server | {count} | {rss:.0f} | {pss:.0f} | {share}{extra} |")


if __name__ == "__main__":
    sys.exit(main())

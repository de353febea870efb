"""Many sessions submitting at once: submit-to-score latency, queue time, and fair verdicts.

    $ .venv/bin/python bench/load.py [--sessions 1,4,8,16] [--minutes 6] [--rate-seconds 150]
                                     [--bursts 1] [--scaffold tumor_triage]

Mirrors live sessions on one host: one installation (one PITFALLS_HOME, so one store), one
scheduler folder (a private one unless PITFALLS_SCHED_DIR is set), and one practice workspace per
session holding the scaffold's reference solution. After an untimed warm-up submission, a
**lone** run: the same code submitted with nothing else running (``--lone-runs``, median train
time; its verdict is the one every other run must reach). Then, for each N in ``--sessions``, N sessions submit for ``--minutes``:

- **steady**: each session's first submission at a random moment within one interval, then one
  every ``--rate-seconds`` +-20% (default 150 s: one every 2-3 minutes). A session waits for its
  score before it submits again, as a candidate does;
- **bursts**: ``--bursts`` moments, evenly spread over the window, when every session submits at
  once.

Every submission is `pitfalls submit --dir WS --json` with default options (the probes run in the
background, as part of the load). Per submission it records the process's wall time
(submit-to-score latency), ``queued_seconds`` and ``train_seconds`` from the JSON, the status and
the public score. Per N it reports p50/p95 latency and queue time, the median training time and the
largest ratio to the lone one, and how many verdicts (status, score) differed from the lone run
(goal: none). Before the next N it waits for the background probes to finish (shown as "probes
drained"). Compress the schedule for a quick try: ``--minutes 1 --rate-seconds 20``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import _submitting as bench

RATE_LIMITED = "scored submissions are allowed per"
"""In the message of a submission refused by the scaffold's rate limit (a too-compressed schedule)."""


@dataclass
class Record:
    """One submission under load."""

    session: int
    kind: str
    started: float
    got: bench.Submitted
    load: float


def plan(n: int, window: float, rate: float, bursts: int, rng: random.Random) -> list[list[tuple[float, str]]]:
    """Per session, the moments (seconds into the window) it submits at, and why."""
    burst_at = [window * (k + 1) / (bursts + 1) for k in range(bursts)]
    sessions = []
    for _ in range(n):
        times, t = [], rng.uniform(0, rate)
        while t < window:
            times.append((t, "steady"))
            t += rng.uniform(0.8 * rate, 1.2 * rate)
        sessions.append(sorted(times + [(b, "burst") for b in burst_at]))
    return sessions


def run_session(index: int, ws: Path, moments: list[tuple[float, str]], t0: float, window: float,
                out: list[Record], lock: threading.Lock) -> None:
    """Submit at each planned moment (late if the previous submission is still running)."""
    for at, kind in moments:
        if at >= window:
            break
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        started, load = time.monotonic() - t0, bench.loadavg()
        got = bench.submit(ws)
        with lock:
            out.append(Record(session=index, kind=kind, started=started, got=got, load=load))


def lone(name: str, tmp: Path, runs: int) -> tuple[bench.Submitted, float]:
    """The verdict and median training seconds of the reference submitted with nothing else running."""
    bench.submit(bench.reference_workspace(name, tmp / "warm-up"), "--no-probes")  # page cache, bytecode
    results = []
    for i in range(runs):
        ws = bench.reference_workspace(name, tmp / f"lone-{i}")
        results.append(bench.submit(ws))
        bench.wait_probes(ws)  # the next lone run (and the load) starts on a quiet scheduler
    verdicts = {r.verdict for r in results}
    if len(verdicts) != 1 or results[0].status != "scored":
        raise SystemExit(f"The lone runs must all score the same. Got {sorted(map(str, verdicts))} instead: "
                         f"{results[0].message}")
    return results[0], statistics.median(r.timings.get("train_seconds", float("nan")) for r in results)


def sweep_one(name: str, n: int, tmp: Path, args: argparse.Namespace, rng: random.Random) -> list[Record]:
    """N sessions submitting for the window; returns every submission's record."""
    workspaces = [bench.reference_workspace(name, tmp / f"n{n}-s{i}") for i in range(n)]
    window = args.minutes * 60
    records: list[Record] = []
    lock = threading.Lock()
    t0 = time.monotonic() + 1.0
    threads = [threading.Thread(target=run_session, args=(i, ws, moments, t0, window, records, lock))
               for i, (ws, moments) in enumerate(zip(workspaces, plan(n, window, args.rate_seconds,
                                                                        args.bursts, rng), strict=True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain = time.monotonic()
    for ws in workspaces:
        bench.wait_probes(ws)
    print(f"  N={n}: {len(records)} submissions in {time.monotonic() - t0:.0f} s; probes drained "
          f"{time.monotonic() - drain:.0f} s after the last score", flush=True)
    return records


def summarize(n: int, records: list[Record], want: bench.Submitted, lone_train: float) -> list[str]:
    """One table row for N sessions; prints each verdict that differed from the lone run."""
    limited = [r for r in records if RATE_LIMITED in r.got.message]
    judged = [r for r in records if r not in limited]
    differ = [r for r in judged if r.got.verdict != want.verdict]
    for r in differ:
        print(f"  differs: session {r.session} ({r.kind}) at {r.started:.0f} s: {r.got.status} "
              f"{r.got.score} (lone: {want.status} {want.score}): {r.got.message[:200]}")
    if limited:
        print(f"  {len(limited)} refused by the scaffold's rate limit: the schedule is too compressed")
    lat = [r.got.wall for r in judged]
    queued = [r.got.timings.get("queued_seconds", float("nan")) for r in judged]
    train = [r.got.timings["train_seconds"] for r in judged if "train_seconds" in r.got.timings]
    worst = max(train) / lone_train if train else float("nan")
    return [str(n), str(len(judged)), f"{bench.percentile(lat, 50):.1f} s", f"{bench.percentile(lat, 95):.1f} s",
            f"{bench.percentile(queued, 50):.1f} s", f"{bench.percentile(queued, 95):.1f} s",
            f"{statistics.median(train) if train else float('nan'):.2f} s", f"{worst:.2f}x",
            f"{len(differ)}", f"{max((r.load for r in records), default=0.0):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,4,8,16", help="comma-separated session counts to sweep")
    parser.add_argument("--scaffold", default="tumor_triage")
    parser.add_argument("--minutes", type=float, default=6.0, help="submitting window per session count")
    parser.add_argument("--rate-seconds", type=float, default=150.0,
                        help="mean seconds between one session's submissions (+-20%%)")
    parser.add_argument("--bursts", type=int, default=1, help="moments when every session submits at once")
    parser.add_argument("--lone-runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="of the random schedule")
    args = parser.parse_args()
    counts = [int(c) for c in args.sessions.split(",") if c.strip()]
    home, sched_dir = bench.setup_installation("load")
    rng = random.Random(args.seed)
    print(f"PITFALLS_HOME={home} PITFALLS_SCHED_DIR={sched_dir}; {args.scaffold}; {args.minutes:g} min per N, "
          f"one submission per session every {args.rate_seconds:g} s +-20%, {args.bursts} burst(s)", flush=True)
    header = ["sessions", "submissions", "latency p50", "latency p95", "queued p50", "queued p95",
              "train p50", "train max / lone", "verdicts differing", "max load avg"]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name:
            tmp = Path(tmp_name)
            want, lone_train = lone(args.scaffold, tmp, args.lone_runs)
            print(f"lone: {want.status} {want.score}, latency {want.wall:.1f} s, train {lone_train:.2f} s", flush=True)
            rows = []
            for n in counts:
                rows.append(summarize(n, sweep_one(args.scaffold, n, tmp, args, rng), want, lone_train))
                print("  " + "  ".join(f"{h}={v}" for h, v in zip(header, rows[-1], strict=True)), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n`{bench.command_line()}` (lone: latency {want.wall:.1f} s, train {lone_train:.2f} s):\n")
    print(bench.markdown(header, rows))


if __name__ == "__main__":
    main()

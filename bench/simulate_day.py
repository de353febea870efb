"""A day of interviews against the host-wide scoring scheduler, simulated: queueing per node size.

    $ .venv/bin/python bench/simulate_day.py [--cores 2,4,8,16,32] [--density 4,8,12,16] [--seed 0]
                                             [--minutes 50] [--target 10] [--probe-target 300]

Nothing runs for real: a discrete-event model replays a synthetic working day (09:00-17:00) on a
node of C cores and prints, per node size and load, the submissions' queueing latency (p50, p95,
p99, max), the probes' wait, the scorer's utilisation and refusals, as a Markdown table, then the
largest load per node size whose submissions' p95 wait stays within ``--target`` seconds and the
probes' within ``--probe-target``, with nothing refused or dropped. Deterministic for a seed;
a full sweep runs in seconds.

**The day** (bench/_simday_workload.py). Interviews start on the hour, a few minutes late, as
calendars book them; ``--density`` is the number of interviews per core running at once in a full
hour, scaled by an hourly profile (a quiet first hour, a lunch dip). Each interview picks a
scaffold at random and behaves like a candidate: reads and explores first, submits every few
minutes, faster near the end, often a last submission in the final two minutes; never before its
previous score came back (the CLI and ``pitfalls-submit`` wait for it). The work each submission
brings is measured, not assumed: per scaffold, the submit lane's slot hold (training + prediction
+ trusted counting) and the probe lane's hold, from ``bench/scoring_times.py`` (``SCORING_SECONDS``
below), times a log-normal spread for candidates' code that is slower or faster than the reference.

**The scheduler** (bench/_simday_model.py) is the one of runner/sched/, not a re-implementation:
the waiting tickets are ordered and admitted by the very functions the real queue calls
(``pitfalls.sched.order.fair_order``, ``may_take``, ``admission_error``, ``retry_seconds``,
``served_key``): ``cores // cores_per_job`` slots; the submit lane before the probe lane; within a
lane, the oldest ticket of the session served least recently; a probe never takes the last free
slot; at most 32 waiting per lane and 4 per session (refused tickets retry after the scheduler's
"retry in about S s"); probes give up after PROBE_QUEUE_SECONDS; a scaffold's rate limit (20 scored
per 10 minutes) turns extra submissions away before they queue. Queueing is shown, never charged:
it is reported apart, and a slot's hold is the same whatever the wait. What it leaves out: the
waiters' polling (up to 1 s at the back of a long queue), the session servers' and containers' own
CPU (small when idle, README "How many at once"), and slowdowns from work outside the scheduler.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _simday_model import DayStats, simulate  # noqa: E402
from _simday_workload import SCORING_SECONDS, DayConfig, generate_day  # noqa: E402

HEADER = ["cores", "interviews per core", "interviews / day", "peak sessions", "submissions",
          "peak subs / min", "wait p50", "wait p95", "wait p99", "wait max", "probe wait p95",
          "utilisation day", "utilisation peak hour", "busy refusals", "probes dropped"]


def run(cores: int, density: float, args: argparse.Namespace) -> DayStats:
    """One simulated day on a node of ``cores`` cores at ``density`` interviews per core."""
    cfg = DayConfig(cores=cores, density=density, minutes=args.minutes, seed=args.seed,
                    hold_spread=args.hold_spread, probes=not args.no_probes)
    return simulate(generate_day(cfg), cfg)


def row(stats: DayStats) -> list[str]:
    """One Markdown table row."""
    cfg = stats.config
    return [str(cfg.cores), f"{cfg.density:g}", str(stats.interviews), str(stats.peak_sessions),
            str(stats.submissions), f"{stats.peak_rate_per_minute:.1f}",
            *(f"{stats.wait_percentile(q):.1f} s" for q in (50, 95, 99)), f"{stats.wait_max:.1f} s",
            f"{stats.probe_wait_p95:.0f} s", f"{stats.utilisation:.0%}", f"{stats.peak_utilisation:.0%}",
            str(stats.busy_refusals), str(stats.probes_dropped)]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A README-ready Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def capacity(results: list[DayStats], target: float, probe_target: float) -> list[list[str]]:
    """Per node size, the densest load simulated that keeps the submissions' p95 wait within
    ``target`` s and the probes' within ``probe_target`` s, with nothing refused or dropped."""
    out = []
    for cores in sorted({s.config.cores for s in results}):
        fine = [s for s in results if s.config.cores == cores and s.wait_percentile(95) <= target
                and s.probe_wait_p95 <= probe_target and not s.busy_refusals and not s.probes_dropped]
        best = max(fine, key=lambda s: s.config.density, default=None)
        if best is None:
            out.append([str(cores), "none simulated", "-", "-", "-"])
            continue
        out.append([str(cores), f"{best.config.density:g}", str(best.peak_sessions),
                    f"{best.peak_rate_per_minute:.1f}", f"{best.peak_rate_per_minute / cores:.2f}"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2,4,8,16,32", help="node sizes (cores), comma-separated")
    parser.add_argument("--density", default="4,8,12,16", help="interviews per core in a full hour, comma-separated")
    parser.add_argument("--minutes", type=float, default=50.0, help="length of an interview (they start on the hour)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hold-spread", type=float, default=0.35,
                        help="log-normal sigma of a submission's hold around its scaffold's reference")
    parser.add_argument("--target", type=float, default=10.0, help="acceptable p95 submission wait, seconds")
    parser.add_argument("--probe-target", type=float, default=300.0, help="acceptable p95 probe wait, seconds")
    parser.add_argument("--no-probes", action="store_true", help="submissions only (no background probes)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = [run(int(c), float(d), args) for c in args.cores.split(",") for d in args.density.split(",")]
    print(f"`{' '.join(['.venv/bin/python bench/simulate_day.py', *(sys.argv[1:] if argv is None else argv)])}`"
          f" (seed {args.seed}, {args.minutes:g}-minute interviews, {len(SCORING_SECONDS)} scaffolds, "
          f"simulated in {time.perf_counter() - start:.1f} s):\n")
    print(markdown(HEADER, [row(s) for s in results]))
    print(f"\nLargest load simulated per node size with submission wait p95 <= {args.target:g} s, probe wait "
          f"p95 <= {args.probe_target:g} s, nothing refused or dropped:\n")
    print(markdown(["cores", "interviews per core", "peak sessions", "peak subs / min", "peak subs / min / core"],
                   capacity(results, args.target, args.probe_target)))


if __name__ == "__main__":
    main()

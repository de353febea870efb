"""bench/simulate_day.py: the day-of-interviews simulation keeps the invariants of a queue.

Fast (pure Python, no sandbox): Little's law holds on the simulated queue, more cores never raise
the p95 wait for the same candidates, no load means no wait, a lone candidate never queues, the
submit lane goes before probes, a scaffold's rate limit caps a frantic candidate, and the day is
the same for the same seed. The model's ordering is runner/sched/order.py's own, so a change of
policy there shows here too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import simulate_day  # noqa: E402
from _simday_model import simulate  # noqa: E402
from _simday_workload import WINDOW_SECONDS, DayConfig, Interview, generate_day  # noqa: E402

LOADED = DayConfig(cores=2, density=12, minutes=50, seed=3)
"""Busy enough that two cores queue (24 candidates at once) and probes wait long."""


@pytest.fixture(scope="module")
def loaded_day() -> list[Interview]:
    return generate_day(LOADED)


def _on(cores: int, base: DayConfig = LOADED) -> DayConfig:
    return DayConfig(cores=cores, density=base.density, minutes=base.minutes, seed=base.seed)


def test_model_grants_in_the_real_schedulers_order(loaded_day: list[Interview]) -> None:
    """At every grant the model's head of the queue is runner/sched/order.py's fair_order()[0]
    (the model computes it in one pass for speed; check_order asserts the two agree)."""
    fast = simulate(loaded_day, LOADED)
    checked = simulate(loaded_day, LOADED, check_order=True)
    assert checked.waits == fast.waits and checked.probe_waits == fast.probe_waits
    assert len(checked.probe_waits) > 1000


def test_littles_law(loaded_day: list[Interview]) -> None:
    """Time-averaged queue length = arrival rate x mean wait (exact for a queue empty at both ends)."""
    stats = simulate(loaded_day, LOADED)
    assert stats.submissions > 1000 and stats.wait_percentile(95) > 1.0, "the load must make two cores queue"
    rate = stats.submissions / stats.span
    mean_wait = sum(stats.waits) / stats.submissions
    assert stats.mean_queue_length == pytest.approx(rate * mean_wait, rel=0.02)


def test_more_cores_never_raise_p95(loaded_day: list[Interview]) -> None:
    p95 = [simulate(loaded_day, _on(c)).wait_percentile(95) for c in (2, 4, 8, 16)]
    assert all(later <= earlier for earlier, later in zip(p95, p95[1:])), p95
    assert p95[-1] < p95[0], p95


def test_zero_load_zero_wait() -> None:
    cfg = DayConfig(cores=4, density=0)
    assert generate_day(cfg) == []
    stats = simulate([], cfg)
    assert (stats.submissions, stats.wait_percentile(95), stats.utilisation, stats.queue_area) == (0, 0.0, 0.0, 0.0)


def test_lone_candidate_never_queues() -> None:
    """One candidate waits for each score before the next, and a probe never takes the last of two
    slots: nothing of theirs is ever ahead of them."""
    day = [iv for iv in generate_day(DayConfig(cores=2, density=4, seed=1)) if iv.index == 0]
    stats = simulate(day, DayConfig(cores=2, density=4))
    assert stats.submissions > 3 and stats.wait_max == 0.0


def test_submissions_go_before_probes(loaded_day: list[Interview]) -> None:
    stats = simulate(loaded_day, LOADED)
    assert stats.wait_percentile(95) < stats.probe_wait_p95


def test_rate_limit_caps_a_frantic_candidate() -> None:
    """A candidate wanting to submit every 5 s for 20 minutes, with instant scoring: at most 20
    scored in any 10 minutes; the rest turned away before they queue."""
    plan = [5.0 * k for k in range(240)]
    frantic = Interview(index=0, start=0.0, end=1500.0, scaffold="x", plan=plan, holds=[(0.1, 0.1)] * len(plan))
    stats = simulate([frantic], DayConfig(cores=2, density=1))
    times = sorted(stats.scored_at)
    assert stats.rate_limited > 0
    assert max(sum(1 for u in times if t - WINDOW_SECONDS < u <= t) for t in times) <= 20


def test_deterministic_for_a_seed() -> None:
    cfg = DayConfig(cores=2, density=6, seed=7)
    first, second = simulate(generate_day(cfg), cfg), simulate(generate_day(cfg), cfg)
    assert first.waits == second.waits and first.busy == second.busy
    other = DayConfig(cores=2, density=6, seed=8)
    assert simulate(generate_day(other), other).busy != first.busy


def test_table_and_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    """One row per (cores, density); the capacity line per node size is the densest load that met
    the targets: with an impossible target none did."""
    simulate_day.main(["--cores", "2,4", "--density", "2,4", "--target", "5"])
    out = capsys.readouterr().out
    table, summary = out.split("Largest load")
    assert [line.split(" | ")[:2] for line in table.splitlines() if line.startswith("| ") and "cores" not in line] == [
        ["| 2", "2"], ["| 2", "4"], ["| 4", "2"], ["| 4", "4"]]
    assert "| 2 | 4 |" in summary and "| 4 | 4 |" in summary
    simulate_day.main(["--cores", "2", "--density", "16", "--probe-target", "1"])
    assert "| 2 | none simulated |" in capsys.readouterr().out

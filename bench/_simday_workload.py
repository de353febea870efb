"""The synthetic day of bench/simulate_day.py: when interviews run and when each candidate submits.

Everything random comes from one ``random.Random(seed)`` drawn in a fixed order, and each
interview's plan is drawn before any scheduling happens, so the same seed gives the same day
whatever the node size: comparing node sizes compares the same candidates.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

SCORING_SECONDS: dict[str, tuple[float, float]] = {
    "bike_demand": (4.3, 8.5),
    "clinic_visits": (4.8, 9.5),
    "diabetes_progression": (5.1, 10.3),
    "digits_budget": (5.2, 10.4),
    "glyph_cnn": (8.3, 9.4),
    "income_screen": (4.7, 10.9),
    "sensor_faults": (9.3, 15.9),
    "ticket_router": (5.2, 11.3),
    "tumor_triage": (4.3, 8.5),
}
"""Per scaffold: seconds one submission holds a submit-lane slot (training, prediction, trusted
counting) and a probe-lane slot (the probes' run), on a core of its own, measured 2026-12-05:
six from the quiet ``bench/submit_overhead.py`` run in the README, the others from
``bench/scoring_times.py`` (its last line); deploy/kubernetes.md, "Capacity model", says which."""

DAY_HOURS = 8
"""09:00 to 17:00: interviews start on the hour from 09:00 to 16:00."""
HOURLY_PROFILE = (0.5, 1.0, 1.0, 0.5, 0.75, 1.0, 1.0, 0.75)
"""Share of the peak number of interviews that start at each hour (a quiet first hour, lunch)."""
MAX_SCORED, WINDOW_SECONDS = 20, 600.0
"""The scaffolds' rate limit (scaffold.toml ``[feedback]``: 20 scored per 10 minutes)."""
THINK_SECONDS = 20.0
"""The least time between a score coming back and the next submission (reading it, one edit)."""


@dataclass(frozen=True)
class DayConfig:
    """One simulated day on one node."""

    cores: int
    density: float
    """Interviews per core at once in a full hour (peak sessions = cores * density)."""
    minutes: float = 50.0
    seed: int = 0
    hold_spread: float = 0.35
    probes: bool = True
    cores_per_job: int = 1
    max_queue: int = 32
    max_per_session: int = 4
    scoring: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(SCORING_SECONDS))


@dataclass
class Interview:
    """One candidate's interview: when it starts, its scaffold, and its planned submissions."""

    index: int
    start: float
    """Seconds since 09:00."""
    end: float
    scaffold: str
    plan: list[float]
    """Moments (seconds since 09:00, increasing) the candidate means to submit, if free by then."""
    holds: list[tuple[float, float]]
    """Per planned submission: (submit hold, probe hold) seconds, its code's cost."""


def submission_plan(rng: random.Random, minutes: float) -> list[float]:
    """Seconds into one interview at which its candidate means to submit.

    Reading and exploring for 15-25% of the time; then every few minutes (exponential gaps, mean
    a twelfth of the interview, 5 minutes in an hour); in the last sixth, faster (mean a
    fortieth, 1.5 minutes in an hour); with probability 0.7 a last one in the final 2 minutes."""
    length = minutes * 60
    t = length * rng.uniform(0.15, 0.25)
    out = []
    while True:
        late = t >= length * 5 / 6
        t += max(THINK_SECONDS, rng.expovariate(40 / length if late else 12 / length))
        if t >= length - 120:
            break
        out.append(t)
    if rng.random() < 0.7:
        out.append(length - rng.uniform(5, 120))
    return sorted(out)


def _holds(rng: random.Random, base: tuple[float, float], spread: float, n: int) -> list[tuple[float, float]]:
    """Each submission's cost: the scaffold's measured holds times one log-normal factor (same
    code, same factor for its training and its probes), capped at 4x."""
    out = []
    for _ in range(n):
        factor = min(4.0, math.exp(rng.gauss(0.0, spread)))
        out.append((base[0] * factor, base[1] * factor))
    return out


def generate_day(cfg: DayConfig) -> list[Interview]:
    """Every interview of the day, in start order."""
    rng = random.Random(cfg.seed)
    names = sorted(cfg.scoring)
    interviews: list[Interview] = []
    for hour, share in enumerate(HOURLY_PROFILE[:DAY_HOURS]):
        count = round(cfg.cores * cfg.density * share)
        for _ in range(count):
            start = hour * 3600 + rng.uniform(0, 300)  # on the hour, up to 5 minutes late
            scaffold = rng.choice(names)
            plan = [start + s for s in submission_plan(rng, cfg.minutes)]
            holds = _holds(rng, cfg.scoring[scaffold], cfg.hold_spread, len(plan))
            interviews.append(Interview(index=len(interviews), start=start, end=start + cfg.minutes * 60,
                                        scaffold=scaffold, plan=plan, holds=holds))
    return sorted(interviews, key=lambda i: (i.start, i.index))

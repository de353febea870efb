"""The scoring scheduler of one node, as a discrete-event model (bench/simulate_day.py).

Ordering, admission and "retry in about S s" are runner/sched/order.py's own functions, called on
the model's tickets exactly as :class:`pitfalls.sched.queue.Scheduler` calls them on ticket files;
the model supplies only the clock, the slots and the candidates.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from _simday_workload import MAX_SCORED, THINK_SECONDS, WINDOW_SECONDS, DayConfig, Interview

from pitfalls.probes.run import PROBE_QUEUE_SECONDS
from pitfalls.sched.order import (
    DEFAULT_HOLD_SECONDS,
    TicketInfo,
    admission_error,
    fair_order,
    may_take,
    served_key,
)
from pitfalls.sched.queue import SERVED_KEPT


@dataclass
class DayStats:
    """What one simulated day measured."""

    config: DayConfig
    interviews: int = 0
    peak_sessions: int = 0
    waits: list[float] = field(default_factory=list)
    """Per scored submission: seconds from its ticket to its slot (shown, never charged)."""
    probe_waits: list[float] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)
    """(grant, release) of every job, for utilisation."""
    scored_at: list[float] = field(default_factory=list)
    busy_refusals: int = 0
    probes_dropped: int = 0
    rate_limited: int = 0
    queue_area: float = 0.0
    """Integral over time of the number of submissions waiting (Little's law: = sum of waits)."""
    span: float = 0.0
    """Seconds from 09:00 to the last job's end."""

    @property
    def submissions(self) -> int:
        return len(self.waits)

    def wait_percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of the submissions' waits, by linear interpolation; 0 for none."""
        xs = sorted(self.waits)
        if not xs:
            return 0.0
        pos = (len(xs) - 1) * q / 100
        lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    @property
    def wait_max(self) -> float:
        return max(self.waits, default=0.0)

    @property
    def probe_wait_p95(self) -> float:
        xs = sorted(self.probe_waits)
        return xs[min(len(xs) - 1, int(0.95 * len(xs)))] if xs else 0.0

    @property
    def n_slots(self) -> int:
        return self.config.cores // self.config.cores_per_job

    @property
    def utilisation(self) -> float:
        """Busy slot-seconds over the slots' seconds from 09:00 to the last job's end."""
        return sum(b - a for a, b in self.busy) / (self.n_slots * self.span) if self.span else 0.0

    @property
    def peak_utilisation(self) -> float:
        """The busiest clock hour's busy slot-seconds over the slots' seconds in an hour."""
        per_hour: dict[int, float] = {}
        for a, b in self.busy:
            h = int(a // 3600)
            while a < b:
                cut = min(b, (h + 1) * 3600)
                per_hour[h] = per_hour.get(h, 0.0) + cut - a
                a, h = cut, h + 1
        return max(per_hour.values(), default=0.0) / (self.n_slots * 3600)

    @property
    def peak_rate_per_minute(self) -> float:
        """Scored submissions per minute in the busiest clock hour."""
        per_hour: dict[int, int] = {}
        for t in self.scored_at:
            per_hour[int(t // 3600)] = per_hour.get(int(t // 3600), 0) + 1
        return max(per_hour.values(), default=0) / 60

    @property
    def mean_queue_length(self) -> float:
        return self.queue_area / self.span if self.span else 0.0


@dataclass
class _Job:
    kind: str
    session: str
    hold: float
    queued_at: float
    interview: int = -1
    probe_hold: float = 0.0
    deadline: float = float("inf")
    """A probe gives up then (PROBE_QUEUE_SECONDS after its submission was scored)."""
    name: str = ""
    """Its ticket's name while queued."""


def first_in_order(tickets: Iterable[TicketInfo], served: Mapping[str, int]) -> TicketInfo:
    """``fair_order(tickets, served)[0]`` in one pass (fair_order is quadratic in the sessions
    waiting; the model asks only for the head, thousands of times): the highest lane waiting, in
    it the session served least recently (never served first), ties by its oldest ticket's
    (arrival, name). ``simulate(..., check_order=True)`` asserts the two agree at every grant."""
    oldest: dict[tuple[int, str], TicketInfo] = {}
    for t in tickets:
        key = (t.lane, t.session)
        seen = oldest.get(key)
        if seen is None or (t.arrival_ns, t.name) < (seen.arrival_ns, seen.name):
            oldest[key] = t
    lane = min(k[0] for k in oldest)
    return min((t for (ln, _), t in oldest.items() if ln == lane),
               key=lambda t: (served.get(served_key(t.kind, t.session), -1), t.arrival_ns, t.name))


class _Node:
    """The slots, the waiting tickets and the fairness state of runner/sched/queue.py."""

    def __init__(self, cfg: DayConfig, stats: DayStats, check_order: bool = False) -> None:
        self.cfg, self.stats, self.check_order = cfg, stats, check_order
        self.n_slots = cfg.cores // cfg.cores_per_job
        self.free = self.n_slots
        self.waiting: dict[str, TicketInfo] = {}
        self.jobs: dict[str, _Job] = {}
        self.served: dict[str, int] = {}
        self.serial = 0
        self.hold_seconds = DEFAULT_HOLD_SECONDS
        self.events: list[tuple[float, int, str, object]] = []
        self.seq = itertools.count()
        self.now = 0.0
        self.changed = False
        """A ticket was queued or withdrawn, or a slot freed, since :meth:`dispatch` last looked."""
        self.submits_waiting = 0
        self.outside: deque[_Job] = deque()
        """Probes refused by a full probe lane, oldest first (see :meth:`probe`)."""

    def at(self, t: float, what: str, data: object) -> None:
        heapq.heappush(self.events, (t, next(self.seq), what, data))

    def advance(self, t: float) -> None:
        """Move the clock, integrating the submit lane's queue length."""
        self.stats.queue_area += self.submits_waiting * (t - self.now)
        self.now = t

    def enqueue(self, job: _Job) -> int | None:
        """Queue ``job``; None when queued, else the scheduler's retry seconds (refused)."""
        refused = admission_error(list(self.waiting.values()), kind=job.kind, session=job.session,
                                  max_queue=self.cfg.max_queue, max_per_session=self.cfg.max_per_session,
                                  hold_seconds=self.hold_seconds, n_slots=self.n_slots)
        if refused:
            return refused[1]
        n = next(self.seq)
        name = f"{int(self.now * 1e9):020d}-{n:08d}.json"
        self.changed, job.name = True, name
        self.submits_waiting += job.kind == "submit"
        self.waiting[name] = TicketInfo(name=name, session=job.session, job=job.kind, kind=job.kind, pid=n,
                                        arrival_ns=int(self.now * 1e9))
        self.jobs[name] = job
        return None

    def dispatch(self) -> None:
        """Grant slots while the ticket whose turn it is may take one (queue.py's _try_grant).

        Only the first ticket in fair order is asked: with every ticket one slot wide, may_take's
        strict order means no ticket behind a refused one may take (each ready ticket ahead counts
        a slot). Nothing is asked again until a ticket or a slot comes (``changed``)."""
        while self.changed and self.free and self.waiting:
            head = first_in_order(self.waiting.values(), self.served)
            if self.check_order:
                assert head == fair_order(self.waiting.values(), self.served)[0]
            if not may_take([head], head.name, free=self.free, n_slots=self.n_slots):
                break
            job = self.withdraw(head.name)
            self.free -= 1
            self.serial += 1
            key = served_key(head.kind, head.session)
            self.served.pop(key, None)  # reinserted last: the dict stays in serial order
            self.served[key] = self.serial
            if len(self.served) > SERVED_KEPT:  # Scheduler.write_state keeps the latest SERVED_KEPT
                del self.served[next(iter(self.served))]
            (self.stats.waits if job.kind == "submit" else self.stats.probe_waits).append(self.now - job.queued_at)
            self.stats.busy.append((self.now, self.now + job.hold))
            self.at(self.now + job.hold, "done", job)
        self.changed = False

    def withdraw(self, name: str) -> _Job:
        """Take a ticket out of the queue (granted or given up); a probe place may let one in."""
        job = self.jobs.pop(name)
        del self.waiting[name]
        self.changed = True
        self.submits_waiting -= job.kind == "submit"
        if job.kind == "probe":
            self.admit_outside()
        return job

    def probe(self, job: _Job) -> None:
        """Queue a probe run; one refused by a full lane waits outside until a place frees.

        probes/run.py retries a refused probe every "retry in about S s" (5 s or more) until
        PROBE_QUEUE_SECONDS; the model lets the oldest one in as soon as a place frees instead of
        at its next retry (at most one retry earlier), which keeps an overloaded day from costing
        hundreds of thousands of retry events. Submissions are modelled retry for retry."""
        if self.outside or self.enqueue(job) is not None:
            self.outside.append(job)
        else:
            self.at(job.deadline, "probe_timeout", job)

    def admit_outside(self) -> None:
        """Let waiting-outside probes into the lane while it has room; drop the expired ones."""
        while self.outside:
            job = self.outside[0]
            if self.now >= job.deadline:
                self.outside.popleft()
                self.stats.probes_dropped += 1
            elif self.enqueue(job) is None:
                self.outside.popleft()
                self.at(job.deadline, "probe_timeout", job)
            else:
                return


class _Day:
    """Candidates reacting to their scores on one node."""

    def __init__(self, interviews: list[Interview], cfg: DayConfig, check_order: bool) -> None:
        self.interviews = {iv.index: iv for iv in interviews}
        self.stats = DayStats(config=cfg, interviews=len(interviews), peak_sessions=_peak(interviews))
        self.node = _Node(cfg, self.stats, check_order)
        self.busy_until_result: set[int] = set()
        self.pending: dict[int, int] = {}
        self.scored: dict[int, list[float]] = {i.index: [] for i in interviews}

    def want(self, i: int, k: int) -> None:
        """Interview ``i`` means to submit its ``k``-th planned submission now."""
        iv, node = self.interviews[i], self.node
        if node.now >= iv.end:
            return  # time is up: the session refuses it before anything queues
        if i in self.busy_until_result:
            self.pending[i] = max(k, self.pending.get(i, -1))  # submits its latest code once the score is back
            return
        recent = [t for t in self.scored[i] if t > node.now - WINDOW_SECONDS]
        if len(recent) >= MAX_SCORED:
            self.stats.rate_limited += 1
            return
        hold, probe = iv.holds[k]
        retry = node.enqueue(_Job("submit", f"s{i}", hold, node.now, interview=i, probe_hold=probe))
        if retry is not None:
            self.stats.busy_refusals += 1
            node.at(node.now + retry, "want", (i, k))
            return
        self.busy_until_result.add(i)

    def done(self, job: _Job) -> None:
        """A job released its slot: the score goes back; its probes queue behind."""
        node = self.node
        node.free += 1
        node.changed = True
        node.hold_seconds = round(0.8 * node.hold_seconds + 0.2 * job.hold, 2)  # Scheduler.record_hold
        if job.kind != "submit":
            return
        self.stats.scored_at.append(node.now)
        self.scored[job.interview].append(node.now)
        self.busy_until_result.discard(job.interview)
        if job.interview in self.pending:
            node.at(node.now + THINK_SECONDS, "want", (job.interview, self.pending.pop(job.interview)))
        if node.cfg.probes:
            node.probe(_Job("probe", f"pid-{next(node.seq)}", job.probe_hold, node.now,
                            deadline=node.now + PROBE_QUEUE_SECONDS))

    def probe_timeout(self, job: _Job) -> None:
        """A probe's deadline: if still queued, SchedulerTimeout (its verdicts say they did not run)."""
        node = self.node
        if node.jobs.get(job.name) is job:
            node.withdraw(job.name)
            self.stats.probes_dropped += 1


def _peak(interviews: list[Interview]) -> int:
    edges = sorted([(i.start, 1) for i in interviews] + [(i.end, -1) for i in interviews])
    return max(itertools.accumulate(d for _, d in edges), default=0)


def simulate(interviews: list[Interview], cfg: DayConfig, *, check_order: bool = False) -> DayStats:
    """Replay ``interviews`` on a node configured by ``cfg`` (its cores, queue limits, probes).
    ``check_order``: also run runner/sched's ``fair_order`` at every grant and assert it agrees."""
    day = _Day(interviews, cfg, check_order)
    node = day.node
    for iv in interviews:
        for k, t in enumerate(iv.plan):
            node.at(t, "want", (iv.index, k))
    while node.events:
        t, _, what, data = heapq.heappop(node.events)
        node.advance(t)
        if what == "want":
            day.want(*data)  # type: ignore[misc]
        elif what == "done":
            day.done(data)  # type: ignore[arg-type]
        else:
            day.probe_timeout(data)  # type: ignore[arg-type]
        node.dispatch()
    day.stats.span = node.now
    return day.stats

"""Checks of ``pitfalls check`` that train: budgets and their headroom, goal, margin, calibration, bugs,
probes."""

from __future__ import annotations

import math

from pitfalls.checks.context import CheckContext
from pitfalls.checks.killability import EFFECT, P_VALUE, Kill
from pitfalls.checks.registry import _oriented
from pitfalls.checks.spec import CheckFailed, check, specs_of
from pitfalls.library.catalogs import bug_entry
from pitfalls.library.metrics import slice_rows
from pitfalls.library.scale import normalize, value_at
from pitfalls.scoring.anchors import spread
from pitfalls.scoring.pipeline import Evaluation

RUNS = ("manifest_valid", "hooks_valid", "files_present", "dataset_deterministic")
MIN_GAP = 0.05
"""Default margin: the starter must trail the reference by 5% of the larger score's magnitude."""


def _scored(ctx: CheckContext, ev: Evaluation, what: str) -> Evaluation:
    if ev.status != "scored":
        raise CheckFailed(f"The {what} must train, predict and score. Got {ev.status} instead: "
                          f"{ev.message}")
    return ev


def _within_budgets(ctx: CheckContext, ev: Evaluation, what: str) -> str:
    _scored(ctx, ev, what)
    b = ctx.manifest().budgets
    if ev.params is not None and ev.params > b.max_params:
        raise CheckFailed(f"The {what} must store at most max_params = {b.max_params:,} parameters. Got "
                          f"{ev.params:,} instead. Shrink the model, or raise the budget if it is unfair.")
    return (f"{ev.params:,} of {b.max_params:,} parameters, trained in "
            f"{ev.timings.get('train_seconds', 0):.1f} s")


@check("starter_within_budgets", needs=RUNS, heavy=True,
       reads=("starter",))
def starter_within_budgets(ctx: CheckContext) -> str:
    """The untouched starter trains, predicts and scores within every budget."""
    return _within_budgets(ctx, ctx.starter(), "starter")


@check("reference_within_budgets", needs=(*RUNS, "mutants_apply"), heavy=True,
       reads=("reference",))
def reference_within_budgets(ctx: CheckContext) -> str:
    """The reference solution trains, predicts and scores within every budget."""
    return _within_budgets(ctx, ctx.reference(), "reference")


@check("reference_reaches_goal", needs=(*RUNS, "mutants_apply"), heavy=True,
       reads=("starter", "reference", "runs"))
def reference_reaches_goal(ctx: CheckContext) -> str:
    """The reference, retrained with every seed, reaches task.goal_normalized on both slices, on
    the scale of this data (the starter's run is 0, the reference's run 1): the goal leaves room
    for training noise, so a reference-quality solution reaches it on any installation."""
    m = ctx.manifest()
    g = m.task.goal_normalized
    if g is None:
        raise CheckFailed("task.goal_normalized must be set (the normalized score, starter 0 and reference 1, a good "
                          "solution reaches). Got nothing instead. Add `goal_normalized = 0.7` under [task].")
    start, ref = _scored(ctx, ctx.starter(), "starter"), _scored(ctx, ctx.reference(), "reference")
    runs = [r for r in ctx.runs() if r.variant == "reference"]
    failed = [r for r in runs if r.score_private is None]
    if failed:
        raise CheckFailed(f"Every seed of the reference must train and score. Got seed {failed[0].seed} "
                          f"failing instead: {failed[0].error}")
    rows = slice_rows(len(ctx.dataset().heldout), fraction=m.feedback.public_fraction)
    scale = {p: {"baseline": getattr(start, f"score_{p}"), "reference": getattr(ref, f"score_{p}"),
                 "metric": m.task.metric, "rows": rows[p]} for p in rows}
    norms = sorted(min(normalize(r.score_public, **scale["public"]) or 0.0,
                       normalize(r.score_private, **scale["private"]) or 0.0) for r in runs)
    if norms[0] < g:
        raise CheckFailed(f"The reference, retrained with each of {len(runs)} seeds, must reach task.goal_normalized "
                          f"= {g:.2f} on both slices (starter 0, reference 1). Got {', '.join(f'{x:.3f}' for x in norms)} "
                          "instead. Lower the goal, or make the reference's training steadier.")
    here = value_at(g, **scale["private"])
    return (f"normalized over {len(runs)} seeds {norms[0]:.3f} to {norms[-1]:.3f}; goal {g:.2f} "
            f"(private {m.task.metric} {here:.4f} on this data)")


@check("reference_fast", needs=(*RUNS, "mutants_apply"), heavy=True,
       reads=("reference",))
def reference_fast(ctx: CheckContext) -> str:
    """The reference trains and predicts within 30 s on this machine."""
    ev = _scored(ctx, ctx.reference(), "reference")
    took = ev.timings.get("train_seconds", 0.0) + ev.timings.get("predict_seconds", 0.0)
    if took > ctx.reference_seconds:
        raise CheckFailed(f"The reference must train and predict within {ctx.reference_seconds:g} s. Got "
                          f"{took:.1f} s instead. Use less data, fewer epochs or a smaller model.")
    return f"{took:.1f} s (limit {ctx.reference_seconds:g} s)"


HEADROOM = 0.5
"""budget_headroom: the starter's and the reference's training may use at most this share of
``train_seconds``, so noise (a loaded host, a slower installation) cannot reject an honest submission."""


def headroom_failure(what: str, seconds: float, budget: float) -> str | None:
    """The message when ``what`` trained ``seconds`` against a ``budget`` of train_seconds, or None if
    that leaves enough headroom."""
    allowed = HEADROOM * budget
    if seconds <= allowed:
        return None
    return (f"The {what}'s training must use at most half of train_seconds ({allowed:g} s of {budget:g} s) so "
            f"an honest submission is not rejected by noise. Got {seconds:.1f} s instead. Raise [budgets] "
            f"train_seconds to at least {math.ceil(seconds / HEADROOM)} or slim the starter/reference.")


def _train_seconds(ev: Evaluation, what: str) -> float:
    took = ev.timings.get("train_seconds")
    if took is None:  # stopped before training ended: no time to judge
        raise CheckFailed(f"The {what} must train, predict and score. Got {ev.status} instead: {ev.message}")
    return took


@check("budget_headroom", needs=(*RUNS, "mutants_apply"), heavy=True,
       reads=("starter", "reference", "runs"))
def budget_headroom(ctx: CheckContext) -> str:
    """The starter's and the reference's training (the slowest run measured) use at most half of
    train_seconds, so an honest submission is not rejected by noise."""
    budget = ctx.manifest().budgets.train_seconds
    starter = _train_seconds(ctx.starter(), "starter")
    seeds = [r.seconds for r in ctx.runs() if r.variant == "reference"]  # train + predict: errs strict
    reference = max([_train_seconds(ctx.reference(), "reference"), *seeds])
    for what, took in (("starter", starter), ("reference", reference)):
        message = headroom_failure(what, took, budget)
        if message:
            raise CheckFailed(message)
    return (f"starter {starter:.1f} s, reference {reference:.1f} s (slowest of {len(seeds) + 1} runs) of "
            f"{budget:g} s ({100 * max(starter, reference) / budget:.0f}%, limit {100 * HEADROOM:.0f}%)")


@check("starter_below_reference", needs=RUNS + ("mutants_apply",), heavy=True,
       reads=("secrets",))
def starter_below_reference(ctx: CheckContext) -> str:
    """On every pinned test secret (runner/scoring/anchors.py), the starter scores clearly below the
    reference on the private slice: every installation gets a usable normalized scale."""
    metric, min_gap = ctx.manifest().task.metric, ctx.manifest().check.min_gap
    gaps = []
    for i, a in enumerate(ctx.secret_anchors()):
        start, ref = a.baseline_private, a.reference_private
        need = min_gap if min_gap is not None else MIN_GAP * max(abs(start), abs(ref))
        gap = _oriented(ctx, ref) - _oriented(ctx, start)
        if gap < need:
            raise CheckFailed(f"The starter must trail the reference by at least {need:.4g} ({metric}, private "
                              f"slice) on every test secret. Got starter {start:.4f}, reference {ref:.4f} (gap "
                              f"{gap:.4f}) on test secret {i} instead. Plant bugs that hurt more.")
        gaps.append(gap)
    return f"gap over {len(gaps)} test secrets {min(gaps):.4f} to {max(gaps):.4f}"


CALIBRATION_TOLERANCE = 0.03
"""calibration_matches allows 3% of the mean starter-to-reference gap (at least 0.005) between the
manifest's means and a fresh measurement: runs are not always bit-for-bit repeatable (multi-threaded
torch on a diverging starter)."""


@check("calibration_matches", needs=RUNS + ("mutants_apply",), heavy=True,
       reads=("secrets",))
def calibration_matches(ctx: CheckContext) -> str:
    """[calibration] equals a fresh measurement over the pinned test secrets (means and count)."""
    cal, name = ctx.manifest().calibration, ctx.manifest().name
    fresh = spread(ctx.secret_anchors()).table()
    n = fresh["secrets"]
    if cal.secrets != n:
        raise CheckFailed(f"calibration.secrets must be {n} (the pinned test secrets). Got {cal.secrets!r} "
                          f"instead. Run `pitfalls calibrate {name} --write`.")
    tolerance = max(0.005, CALIBRATION_TOLERANCE * abs(fresh["reference_mean"] - fresh["baseline_mean"]))
    for kind in ("baseline", "reference"):
        stored, now = getattr(cal, f"{kind}_mean"), fresh[f"{kind}_mean"]
        if stored is None or abs(stored - now) > tolerance:
            raise CheckFailed(f"calibration.{kind}_mean must match a fresh measurement over {n} test secrets "
                              f"({now:.4f}). Got {stored!r} instead. Run `pitfalls calibrate {name} --write`.")
    return (f"starter {fresh['baseline_mean']:.4g} (sd {fresh['baseline_sd']:.3g}), reference "
            f"{fresh['reference_mean']:.4g} (sd {fresh['reference_sd']:.3g}) over {n} test secrets")


def _scores(ctx: CheckContext, variant: str) -> list[float]:
    runs = [r for r in ctx.runs() if r.variant == variant]
    failed = [r for r in runs if r.score_private is None]
    if failed:
        raise CheckFailed(f"Every seed of {variant} must train and score. Got seed {failed[0].seed} "
                          f"failing instead: {failed[0].error}")
    return [_oriented(ctx, r.score_private) for r in runs]


@check("bug_bites", needs=(*RUNS, "mutants_apply", "bug_ids_known"), heavy=True, per="bugs",
       reads=("runs",))  # and, for a bug silent on the metric, that bug's probe run
def bug_bites(ctx: CheckContext, bug: str) -> str:
    """Reference + this bug scores worse over several seeds (p < 0.05, d >= 0.5), or, for a bug
    silent on the metric by nature, its probe detects it."""
    kill = Kill.judge(bug=bug, reference=_scores(ctx, "reference"), buggy=_scores(ctx, bug))
    metric = ctx.manifest().task.metric
    mean = lambda xs: _oriented(ctx, sum(xs) / len(xs))  # noqa: E731 - back to the metric's own direction
    stats = (f"reference {mean(kill.reference):.4g}, with the bug {mean(kill.buggy):.4g} ({metric}, private "
             f"slice, mean of {len(kill.reference)} seeds); {kill.effect()}")
    if kill.killed:
        return stats
    if metric in bug_entry(bug, scaffold=ctx.scaffold().name).get("silent_on", []):
        verdict = {r.bug_id: r for r in ctx.probes(bug)}.get(bug)
        if verdict is not None and verdict.status == "present":
            return f"silent on {metric} by nature ({stats}); its probe detects it: {verdict.evidence}"
        raise CheckFailed(f"A bug silent on {metric} must be detected by its probe. Got "
                          f"{verdict.status if verdict else 'no verdict'} instead. Fix its probe.")
    raise CheckFailed(f"Reference + {bug} must score worse than the reference (p < {P_VALUE}, d >= "
                      f"{EFFECT}). Got {stats} instead. Make the bug bite (harder data, a metric that "
                      f"exposes it), or declare the metric in its catalog entry's silent_on.")


@check("probes_agree", needs=(*RUNS, "mutants_apply", "probes_declared"), heavy=True,
       reads=("probes",))
def probes_agree(ctx: CheckContext) -> str:
    """Probes say every bug is present in the starter, fixed in the reference, and in each
    reference + one bug, present for that bug only."""
    bugs = ctx.manifest().bugs
    wrong = []
    for variant in ("starter", "reference", *bugs):
        for r in ctx.probes(variant):
            want = "present" if variant == "starter" or r.bug_id == variant else "fixed"
            if r.status != want:
                wrong.append(f"{r.bug_id} in {variant}: {r.status} ({r.evidence[:120]})")
    if wrong:
        raise CheckFailed(f"Probes must report each bug present where it is planted and fixed elsewhere. "
                          f"Got {'; '.join(wrong)} instead. Fix the probe or the mutant.")
    return f"{len(bugs)} probes agree on {len(bugs) + 2} variants"


CHECKS = specs_of(
    starter_within_budgets, reference_within_budgets, reference_reaches_goal, reference_fast,
    budget_headroom, starter_below_reference, calibration_matches, bug_bites, probes_agree,
)
"""The checks that train and score, in the order they run (the suite: :mod:`pitfalls.checks.suite`)."""

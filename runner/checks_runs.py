"""Checks of ``pitfalls check`` that train: budgets, goal, margin, calibration, bugs, probes."""

from __future__ import annotations

from .catalogs import bug_entry
from .check_context import CheckContext
from .checks import CheckFailed, _oriented, check
from .killability import EFFECT, P_VALUE, Kill
from .pipeline import Evaluation

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


@check("starter_within_budgets", needs=RUNS, heavy=True)
def starter_within_budgets(ctx: CheckContext) -> str:
    """The untouched starter trains, predicts and scores within every budget."""
    return _within_budgets(ctx, ctx.starter(), "starter")


@check("reference_within_budgets", needs=(*RUNS, "mutants_apply"), heavy=True)
def reference_within_budgets(ctx: CheckContext) -> str:
    """The reference solution trains, predicts and scores within every budget."""
    return _within_budgets(ctx, ctx.reference(), "reference")


@check("reference_reaches_goal", needs=(*RUNS, "mutants_apply"), heavy=True)
def reference_reaches_goal(ctx: CheckContext) -> str:
    """The reference reaches task.goal on both the public and the private slice."""
    m, ev = ctx.manifest(), _scored(ctx, ctx.reference(), "reference")
    if m.task.goal is None:
        raise CheckFailed("task.goal must be set (the held-out score a good solution reaches). Got "
                          "nothing instead. Add `goal = ...` under [task].")
    worst = min(_oriented(ctx, ev.score_public), _oriented(ctx, ev.score_private))
    if worst < _oriented(ctx, m.task.goal):
        raise CheckFailed(f"The reference must reach task.goal = {m.task.goal:g} ({m.task.metric}) on "
                          f"both slices. Got public {ev.score_public:.4f}, private {ev.score_private:.4f} "
                          "instead. Improve the solution or lower the goal.")
    return f"public {ev.score_public:.4f}, private {ev.score_private:.4f}, goal {m.task.goal:g}"


@check("reference_fast", needs=(*RUNS, "mutants_apply"), heavy=True)
def reference_fast(ctx: CheckContext) -> str:
    """The reference trains and predicts within 30 s on this machine."""
    ev = _scored(ctx, ctx.reference(), "reference")
    took = ev.timings.get("train_seconds", 0.0) + ev.timings.get("predict_seconds", 0.0)
    if took > ctx.reference_seconds:
        raise CheckFailed(f"The reference must train and predict within {ctx.reference_seconds:g} s. Got "
                          f"{took:.1f} s instead. Use less data, fewer epochs or a smaller model.")
    return f"{took:.1f} s (limit {ctx.reference_seconds:g} s)"


@check("starter_below_reference", needs=RUNS + ("mutants_apply",), heavy=True)
def starter_below_reference(ctx: CheckContext) -> str:
    """The starter scores clearly below the reference on the private slice."""
    start = _scored(ctx, ctx.starter(), "starter").score_private
    ref = _scored(ctx, ctx.reference(), "reference").score_private
    need = ctx.manifest().check.min_gap
    if need is None:
        need = MIN_GAP * max(abs(start), abs(ref))
    gap = _oriented(ctx, ref) - _oriented(ctx, start)
    if gap < need:
        raise CheckFailed(f"The starter must trail the reference by at least {need:.4g} "
                          f"({ctx.manifest().task.metric}, private slice). Got starter {start:.4f}, "
                          f"reference {ref:.4f} (gap {gap:.4f}) instead. Plant bugs that hurt more.")
    return f"starter {start:.4f}, reference {ref:.4f}, gap {gap:.4f} >= {need:.4g}"


CALIBRATION_TOLERANCE = 0.03
"""calibration_matches allows 3% of the starter-to-reference gap (at least 0.005): normalized
scores stay within 0.03 when a run is not bit-for-bit repeatable (multi-threaded torch on a
diverging starter)."""


@check("calibration_matches", needs=RUNS + ("mutants_apply",), heavy=True)
def calibration_matches(ctx: CheckContext) -> str:
    """[calibration] equals the scores of a fresh starter and reference run."""
    cal, name = ctx.manifest().calibration, ctx.manifest().name
    fresh = {"baseline": _scored(ctx, ctx.starter(), "starter"),
             "reference": _scored(ctx, ctx.reference(), "reference")}
    for kind, ev in fresh.items():
        for part in ("public", "private"):
            stored, now = getattr(cal, f"{kind}_{part}"), getattr(ev, f"score_{part}")
            gap = abs(getattr(fresh["reference"], f"score_{part}") - getattr(fresh["baseline"], f"score_{part}"))
            if stored is None or abs(stored - now) > max(0.005, CALIBRATION_TOLERANCE * gap):
                raise CheckFailed(f"calibration.{kind}_{part} must match a fresh run ({now:.4f}). Got "
                                  f"{stored!r} instead. Run `pitfalls calibrate {name} --write`.")
    return (f"baseline {cal.baseline_public:.4f}/{cal.baseline_private:.4f}, reference "
            f"{cal.reference_public:.4f}/{cal.reference_private:.4f}")


def _scores(ctx: CheckContext, variant: str) -> list[float]:
    runs = [r for r in ctx.runs() if r.variant == variant]
    failed = [r for r in runs if r.score_private is None]
    if failed:
        raise CheckFailed(f"Every seed of {variant} must train and score. Got seed {failed[0].seed} "
                          f"failing instead: {failed[0].error}")
    return [_oriented(ctx, r.score_private) for r in runs]


@check("bug_bites", needs=(*RUNS, "mutants_apply", "bug_ids_known"), heavy=True, per="bugs")
def bug_bites(ctx: CheckContext, bug: str) -> str:
    """Reference + this bug scores worse over several seeds (p < 0.05, d >= 0.5), or, for a bug
    silent on the metric by nature, its probe detects it."""
    kill = Kill.judge(bug=bug, reference=_scores(ctx, "reference"), buggy=_scores(ctx, bug))
    stats = f"p={kill.p_value:.3g}, d={kill.cohens_d:.2f} over {len(kill.reference)} seeds"
    if kill.killed:
        return stats
    metric = ctx.manifest().task.metric
    if metric in bug_entry(bug).get("silent_on", []):
        verdict = {r.bug_id: r for r in ctx.probes(bug)}.get(bug)
        if verdict is not None and verdict.status == "present":
            return f"silent on {metric} by nature ({stats}); its probe detects it: {verdict.evidence}"
        raise CheckFailed(f"A bug silent on {metric} must be detected by its probe. Got "
                          f"{verdict.status if verdict else 'no verdict'} instead. Fix its probe.")
    raise CheckFailed(f"Reference + {bug} must score worse than the reference (p < {P_VALUE}, d >= "
                      f"{EFFECT}). Got {stats} instead. Make the bug bite (harder data, a metric that "
                      f"exposes it), or declare the metric in its catalog entry's silent_on.")


@check("probes_agree", needs=(*RUNS, "mutants_apply", "probes_declared"), heavy=True)
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

"""``variants_equally_hard``: a scaffold's variants are as hard as the shipped scaffold, and every
bug a variant plants bites in it.

For each of the first ``[variants] check_variants`` ids (v1, v2, ...; on the first pinned test
secret, so every installation checks the same draws) one batch trains :data:`SEEDS` seeds of each
build on the variant's data (their mean private score counts): the shipped starter and reference
with only the variant's column names, and the variant's own starter, reference and reference +
each bug it plants. On the shipped scale of that
data (shipped starter 0, shipped reference 1) the variant's starter must sit within ``tolerance``
of 0 and its reference within ``tolerance`` of 1: a variant that plants milder bugs, or whose
constants help, is caught, while the data's own noise cancels (both pairs see the same rows).
Every planted bug must score worse than the variant's reference in every variant: over at least 5 variants that is a
one-sided sign test at p <= 0.5**5 = 0.031. A bug silent on the metric by nature is judged by its
probe in each variant instead.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from pitfalls.checks.context import CheckContext
from pitfalls.checks.registry import _oriented
from pitfalls.checks.runs import RUNS
from pitfalls.checks.spec import CheckFailed, check, specs_of
from pitfalls.library.catalogs import bug_entry
from pitfalls.library.metrics import slice_rows
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.scale import normalize
from pitfalls.library.variant import Rewrite, variant_scaffold
from pitfalls.library.variants import materialize
from pitfalls.probes.run import run_probes
from pitfalls.scoring.anchors import TEST_SECRETS
from pitfalls.scoring.batch import BatchRun, run_batch

SEEDS = 3
"""Seeds per build: a batch's cost is mostly its sandbox's start, so three runs cost little more than one."""


def _runs(ctx: CheckContext, variant: str) -> tuple[Scaffold, dict[str, float]]:
    """The variant (on test secret 0) and its private scores, all from one batch on its data:
    ``shipped starter`` and ``shipped reference`` (the shipped files with only its column names),
    ``starter``, ``reference`` and each planted bug."""
    def make() -> tuple[Scaffold, dict[str, float]]:
        this = variant_scaffold(ctx.scaffold().with_secret(TEST_SECRETS[0]), variant)
        folder = Path(ctx._tmp.name) / f"variant-{variant}"
        names_only = Rewrite(this.variant.draw.renames, {})
        builds = {f"shipped {k}": _dump(folder / f"shipped-{k}", names_only.tree(ctx.variant(k)))
                  for k in ("starter", "reference")}
        builds |= {"starter": materialize(scaffold=this, target=folder / "starter", reference=False),
                   "reference": materialize(scaffold=this, target=folder / "reference", reference=True),
                   **{b: materialize(scaffold=this, target=folder / b, reference=True, bug=b)
                      for b in this.manifest.bugs}}
        runs = ctx._heavy(lambda: run_batch(scaffold=this, variants=builds, seeds=range(SEEDS)), slots=2)
        return this, {name: statistics.fmean(_score(r, variant) for r in runs if r.variant == name) for name in builds}
    return ctx._get(f"variant-runs:{variant}", make)


def _dump(folder: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return folder


def _score(run: BatchRun, variant: str) -> float:
    if run.score_private is None:
        raise CheckFailed(f"Every build of variant {variant} must train and score. Got {run.variant} failing "
                          f"instead: {run.error[:300]}")
    return run.score_private


@check("variants_equally_hard", needs=(*RUNS, "mutants_apply"), heavy=True)  # reads its own batches only
def variants_equally_hard(ctx: CheckContext) -> str:
    """Over [variants] check_variants variants, each starter and reference sits within tolerance of the
    shipped scaffold's on the same data, and every planted bug makes its variant's reference worse."""
    m = ctx.manifest()
    spec = m.variants
    if spec is None:
        return "no [variants]: every session gets the shipped scaffold"
    ids = [f"v{i}" for i in range(1, min(spec.check_variants, spec.size) + 1)]
    starters, references, bitten = [], [], 0
    for variant in ids:
        this, s = _runs(ctx, variant)
        rows = slice_rows(len(this.dataset().heldout), fraction=m.feedback.public_fraction)["private"]
        scale = {"baseline": s["shipped starter"], "reference": s["shipped reference"], "metric": m.task.metric,
                 "rows": rows}
        start, ref = normalize(s["starter"], **scale), normalize(s["reference"], **scale)
        if start is None or ref is None or abs(start) > spec.tolerance or abs(ref - 1) > spec.tolerance:
            raise CheckFailed(
                f"Every variant must be as hard as the shipped scaffold: its starter within {spec.tolerance:g} of 0 and "
                f"its reference within {spec.tolerance:g} of 1 on the shipped scale of its data (shipped starter 0, "
                f"shipped reference 1). Got {variant} (plants {', '.join(this.manifest.bugs) or 'nothing'}) starter "
                f"{_shown(start)}, reference {_shown(ref)} instead. Pool only bugs of like harm, narrow the "
                "constants' values, or raise [variants] tolerance.")
        starters.append(start)
        references.append(ref)
        bitten += _bites(ctx, this, s, variant)
    return (f"{len(ids)} variants: starters {min(starters):+.2f} to {max(starters):+.2f}, references "
            f"{min(references):.2f} to {max(references):.2f} (tolerance {spec.tolerance:g}); {bitten} planted bugs "
            f"bite in their variant (sign test p <= {0.5 ** len(ids):.3g})")


def _bites(ctx: CheckContext, this: Scaffold, s: dict[str, float], variant: str) -> int:
    """How many of ``this``'s planted bugs score worse than its reference (or, silent by nature, are
    seen by their probe).

    Raises:
        CheckFailed: the first bug that does neither.
    """
    metric = ctx.manifest().task.metric
    for bug in this.manifest.bugs:
        if _oriented(ctx, s[bug]) < _oriented(ctx, s["reference"]):
            continue
        if metric in bug_entry(bug, scaffold=this.name).get("silent_on", []):
            source = Path(ctx._tmp.name) / f"variant-{variant}" / bug
            verdict = {r.bug_id: r for r in ctx._heavy(lambda src=source: run_probes(scaffold=this, source=src))}.get(bug)
            if verdict is not None and verdict.status == "present":
                continue
        raise CheckFailed(f"Every planted bug must make its variant's reference score worse (mean of {SEEDS} seeds "
                          f"per variant, a sign test over the variants). Got {bug} in {variant}: reference "
                          f"{s['reference']:.4g}, with the bug {s[bug]:.4g} ({metric}, private slice) instead. Make "
                          "it bite whatever the variant draws, or take it out of bug_pool.")
    return len(this.manifest.bugs)


def _shown(x: float | None) -> str:
    return "undefined (the shipped starter and reference score the same)" if x is None else f"{x:+.2f}"


CHECKS = specs_of(variants_equally_hard)
"""The variants check, run after the other training checks (:mod:`pitfalls.checks.suite`)."""

"""``pitfalls check``: validate a scaffold the way scikit-learn's check_estimator validates an
estimator, with small named checks (runner/checks*.py), each reporting passed, failed, xfailed,
xpassed or skipped.

Known failures are declared in the manifest (``[check] xfail = {name = "reason"}``; a family
name such as ``bug_bites`` covers every ``bug_bites:<id>``). A declared failure that passes is
``xpassed`` and fails the run (strict), so stale declarations do not linger.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pitfalls.checks import authoring, data, registry, runs, variants
from pitfalls.checks.context import SEEDS, CheckContext
from pitfalls.checks.spec import CheckFailed, CheckSpec
from pitfalls.core.errors import PitfallsError
from pitfalls.library.scaffold import scaffold_id, scaffold_names, scaffold_path, scaffolds_root

CheckStatus = Literal["passed", "failed", "xfailed", "xpassed", "skipped"]
BAD: tuple[CheckStatus, ...] = ("failed", "xpassed")
CHECKS: tuple[CheckSpec, ...] = (*registry.CHECKS, *authoring.CHECKS, *data.CHECKS, *runs.CHECKS, *variants.CHECKS)
"""The suite, in run order: the contract, the author's slips, the data, then the checks that train and score."""


@dataclass
class CheckResult:
    """The outcome of one named check on one scaffold."""

    name: str
    status: CheckStatus
    message: str
    seconds: float = 0.0


@dataclass
class CheckReport:
    """Every check's result for one scaffold, in run order."""

    scaffold: str
    path: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(r.status in BAD for r in self.results)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "counts": self.counts()}


def resolve(name_or_path: str | Path) -> Path:
    """The folder of a scaffold given by name or path (it need not load: checks say why)."""
    return scaffold_path(name_or_path)  # an id (NAME, PACK/NAME) or a folder; ScaffoldNotFound with a did-you-mean


def selected(only: list[str]) -> dict[str, set[str]]:
    """The checks ``--only`` names plus every check they need, each with the ids it was named with
    (``bug_bites:ID``; an empty set: every id).

    Raises:
        PitfallsError: a name that is no check's, with the list of names and the closest one.
    """
    specs = {s.name: s for s in CHECKS}
    out: dict[str, set[str]] = {}
    for name in only:
        family, _, item = name.strip().partition(":")
        if family not in specs:
            close = difflib.get_close_matches(family, list(specs), n=1)
            raise PitfallsError(f"--only must name checks from {list(specs)}. Got {name!r} instead. "
                                + (f"Did you mean {close[0]!r}? " if close else "")
                                + "Separate several with commas.")
        every = family in out and not out[family]  # named before without an id: every id
        out.setdefault(family, set())
        if item and specs[family].per and not every:
            out[family].add(item)
        elif not item:
            out[family] = set()
    todo = list(out)
    while todo:
        for need in specs[todo.pop()].needs:
            if need not in out:
                out[need] = set()
                todo.append(need)
    return out


def planned(root: Path, *, quick: bool = False, only: list[str] | None = None) -> list[tuple[CheckSpec, str]]:
    """(spec, item) pairs to run; item is a bug or quirk id for per-id checks, else "". ``only``:
    just those checks and the checks they need (:func:`selected`)."""
    chosen = selected(only) if only else None
    try:
        from pitfalls.library.manifest import load_manifest
        m = load_manifest(root / "scaffold.toml")
        ids = {"bugs": list(m.bugs), "quirks": list(m.quirks)}
    except PitfallsError:
        ids = {"bugs": [], "quirks": []}
    out = []
    for spec in CHECKS:
        if (quick and spec.heavy) or (chosen is not None and spec.name not in chosen):
            continue
        items = [i for i in ids[spec.per] if not chosen or not chosen[spec.name] or i in chosen[spec.name]] \
            if spec.per else [""]
        out += [(spec, i) for i in items]
    return out


def _xfail_reason(xfail: dict[str, str], name: str) -> str | None:
    return xfail.get(name) or xfail.get(name.split(":")[0])


def _run_one(ctx: CheckContext, spec: CheckSpec, item: str, done: dict[str, CheckStatus],
             xfail: dict[str, str]) -> CheckResult:
    name = f"{spec.name}:{item}" if item else spec.name
    blocked = [n for n in spec.needs if done.get(n) not in ("passed", "xpassed")]
    if blocked:
        return CheckResult(name, "skipped", f"needs {', '.join(blocked)}")
    start = time.monotonic()
    reason = _xfail_reason(xfail, name)
    try:
        evidence = spec.fn(ctx, item) if item else spec.fn(ctx)
        status, message = ("xpassed", f"declared as a known failure ({reason}) but passed: remove it "
                           f"from [check] xfail. {evidence}") if reason else ("passed", evidence)
    except (CheckFailed, PitfallsError) as exc:
        status, message = ("xfailed", f"{reason} | {exc}") if reason else ("failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - a scaffold's own code may raise anything
        text = f"{type(exc).__name__}: {exc}"
        status, message = ("xfailed", f"{reason} | {text}") if reason else ("failed", text)
    return CheckResult(name, status, message, round(time.monotonic() - start, 2))


def run_checks(*, scaffold: str | Path, quick: bool = False, seeds: int = SEEDS,
               reference_seconds: float = 30.0, only: list[str] | None = None,
               progress: Callable[[CheckResult, int, int], None] | None = None) -> CheckReport:
    """Run every check (``quick``: only those that do not train; ``only``: those named and the
    checks they need) on one scaffold.

    Args:
        scaffold: a scaffold name or folder.
        seeds: seeds per variant for ``bug_bites``.
        reference_seconds: the limit of ``reference_fast``.
        progress: called after each check with (result, index, total).
    """
    root = resolve(scaffold)
    ctx = CheckContext(root=root, seeds=seeds, reference_seconds=reference_seconds, checks=CHECKS)
    plan = planned(root, quick=quick, only=only)
    report = CheckReport(scaffold=scaffold_id(root), path=str(root))
    done: dict[str, CheckStatus] = {}
    try:
        xfail = ctx.manifest().check.xfail
    except PitfallsError:
        xfail = {}
    try:
        for index, (spec, item) in enumerate(plan):
            if spec.heavy and not any(s.heavy for s, _ in plan[:index]):
                _prefetch(ctx, done, {r for s, _ in plan for r in s.reads})
            result = _run_one(ctx, spec, item, done, xfail)
            done[result.name] = result.status
            report.results.append(result)
            if progress:
                progress(result, index + 1, len(plan))
    except BaseException:  # Ctrl-C or a caller's timeout: do not wait for every prefetched training
        ctx.close(wait=False)
        raise
    ctx.close()
    return report


def _prefetch(ctx: CheckContext, done: dict[str, CheckStatus], reads: set[str]) -> None:
    """Start the trainings the planned checks read (``reads``, CheckSpec.reads) in the background."""
    if any(done.get(n) not in ("passed", "xpassed") for n in runs.RUNS + ("mutants_apply",)):
        return
    bugs = list(ctx.manifest().bugs)
    keys = [k for k in ("starter", "reference") if k in reads]
    if "probes" in reads and done.get("probes_declared") == "passed":
        keys += [f"probes:{v}" for v in ("starter", "reference", *bugs)]
    ctx.prefetch(keys + [k for k in ("runs", "secrets") if k in reads])


def check_all(*, quick: bool = False, seeds: int = SEEDS, only: list[str] | None = None,
              progress: Callable[[CheckResult, int, int], None] | None = None) -> list[CheckReport]:
    """Run the checks on every scaffold of the library (and the template)."""
    names: list[str | Path] = [*scaffold_names(), scaffolds_root() / "_template"]
    return [run_checks(scaffold=n, quick=quick, seeds=seeds, only=only, progress=progress) for n in names]

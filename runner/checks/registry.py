"""The named checks of ``pitfalls check``: small, independent, one property each.

Each check takes a :class:`~pitfalls.checks.context.CheckContext` and returns a one-line evidence
string when the property holds, or raises :class:`CheckFailed` with a message that says what
must be true, what was found, and how to fix it. ``needs`` lists checks whose failure makes
this one meaningless (it is then skipped). Checks with ``per`` run once per bug or quirk id.
"""

from __future__ import annotations

import ast
import difflib

from pitfalls.checks.context import CheckContext
from pitfalls.checks.spec import CheckFailed, CheckSpec, check, specs_of
from pitfalls.core import packs
from pitfalls.library.catalogs import clashes, entry, pack_name_of
from pitfalls.library.manifest import load_mutants
from pitfalls.library.metrics import METRICS
from pitfalls.library.variants import mutants

SCAFFOLD_FILES = ("scaffold.toml", "scaffold.py", "workspace", "solution", "GUIDE.md", "brief.md",
                  "mutants.toml", "probes.py")
"""Everything a scaffold folder may hold (scaffolds/STANDARD.md), besides names starting with . or _."""

DATA_SUFFIXES = {".csv", ".tsv", ".parquet", ".feather", ".npy", ".npz", ".pkl", ".pickle",
                 ".joblib", ".skops", ".safetensors", ".pt", ".pth", ".h5", ".xlsx", ".json", ".db"}


def _oriented(ctx: CheckContext, value: float) -> float:
    return value if METRICS[ctx.manifest().task.metric].higher_is_better else -value


# -- contract ---------------------------------------------------------------------------------
@check("manifest_valid")
def manifest_valid(ctx: CheckContext) -> str:
    """scaffold.toml and mutants.toml parse, every key is known and typed, the name is the folder's."""
    m = ctx.manifest()
    load_mutants(ctx.root / "mutants.toml", m.bugs)
    if m.name != ctx.root.name:
        raise CheckFailed(f"name must be the folder name {ctx.root.name!r}. Got {m.name!r} instead. "
                          "Rename one of them.")
    for key in m.check.xfail:
        _xfail_key_known(key, {"bugs": m.bugs, "quirks": m.quirks}, ctx.checks)
    return f"{m.framework} / {m.task.metric}, {len(m.bugs)} bugs, {len(m.quirks)} quirks"


def _xfail_key_known(key: str, ids: dict[str, tuple[str, ...]], suite: tuple[CheckSpec, ...]) -> None:
    """A ``[check] xfail`` key names a registered check, or ``family:id`` with a planted id: a
    misspelt one would silently declare nothing."""
    specs = {s.name: s for s in suite}
    family, _, item = key.partition(":")
    known = sorted(specs) + [f"{n}:{i}" for n, s in specs.items() if s.per for i in ids[s.per]]
    if family in specs and (not item or item in ids.get(specs[family].per, ())):
        return
    close = difflib.get_close_matches(key, known, n=1)
    raise CheckFailed(f"[check] xfail keys must be check names (`pitfalls check` lists them), or name:id "
                      f"for a planted id. Got {key!r} instead. "
                      + (f"Did you mean {close[0]!r}? " if close else "") + "Fix the spelling.")


@check("hooks_valid")
def hooks_valid(ctx: CheckContext) -> str:
    """scaffold.py defines make_dataset(seed) and no unknown public names (typos)."""
    ctx.hooks()
    return "make_dataset present, no unknown hooks"


def _uncatalogued(ctx: CheckContext, kind: str) -> list[str]:
    """The scaffold's planted ``kind`` ids that no catalog entry it can see defines.

    Raises:
        CheckFailed: its pack's catalog reuses a shipped id (the entry is refused, naming both files).
    """
    scaffold_id = packs.id_of(ctx.root)
    refused = clashes(kind, pack_name_of(scaffold_id)) if pack_name_of(scaffold_id) else []
    if refused:
        raise CheckFailed(" ".join(refused))
    planted = getattr(ctx.manifest(), kind)
    return [i for i in planted if entry(kind, i, scaffold=scaffold_id) is None]


@check("bug_ids_known", needs=("manifest_valid",))
def bug_ids_known(ctx: CheckContext) -> str:
    """Every planted bug id has an entry in the bug catalog (bugs/catalog/, or its pack's bugs/), and
    its pack's catalog reuses no shipped id."""
    unknown = _uncatalogued(ctx, "bugs")
    if unknown:
        raise CheckFailed(f"Bug ids must be catalogued kinds (bugs/catalog/*.toml). Got unknown ids "
                          f"{unknown} instead. Add a catalog entry, or fix the spelling.")
    return f"{len(ctx.manifest().bugs)} bug ids known"


@check("quirk_ids_known", needs=("manifest_valid",))
def quirk_ids_known(ctx: CheckContext) -> str:
    """Every planted quirk id has a catalog entry and a registered planter with a detector, and its
    pack's catalog reuses no shipped id."""
    from pitfalls.datasets import REGISTRY

    missing = _uncatalogued(ctx, "quirks")
    unknown = [q for q in ctx.manifest().quirks if q in missing or q not in REGISTRY]
    if unknown:
        raise CheckFailed(f"Quirk ids must be catalogued kinds (datasets/catalog/*.toml) with a "
                          f"registered detector (pitfalls.datasets.register). Got unknown ids {unknown} "
                          "instead. Add the kind, or fix the spelling.")
    return f"{len(ctx.manifest().quirks)} quirk ids known"


@check("files_present", needs=("manifest_valid",))
def files_present(ctx: CheckContext) -> str:
    """workspace/ has train.py and the predict files; solution/, GUIDE.md, hints exist; mutants.toml
    when bugs are planted; no other file (a misspelt brief.md would be ignored)."""
    m = ctx.manifest()
    want = [f"workspace/{n}" for n in ("train.py", *m.predict_files)] + ["GUIDE.md", "solution"]
    if m.bugs:
        want += ["mutants.toml"]
    missing = [w for w in want if not (ctx.root / w).exists()]
    if missing:
        raise CheckFailed(f"A scaffold must have {want}. Got no {missing} instead. Copy the missing "
                          "parts from scaffolds/_template/ (scaffolds/STANDARD.md says what each holds).")
    extra = sorted(p.name for p in ctx.root.iterdir() if p.name not in SCAFFOLD_FILES
                   and not p.name.startswith((".", "_")))
    if extra:
        close = difflib.get_close_matches(extra[0], SCAFFOLD_FILES, n=1)
        raise CheckFailed(f"A scaffold folder must hold only {list(SCAFFOLD_FILES)}. Got {extra} instead. "
                          + (f"Did you mean {close[0]!r}? " if close else "")
                          + "Rename or remove it (scaffolds/STANDARD.md).")
    if not m.hints:
        raise CheckFailed("hints must list at least one hint. Got [] instead. Write the hint ladder, "
                          "gentlest first.")
    return f"{len(want)} required files, {len(m.hints)} hints"


@check("mutants_apply", needs=("manifest_valid", "hooks_valid", "files_present"))
def mutants_apply(ctx: CheckContext) -> str:
    """mutants.toml re-introduces each planted bug, exactly, into the solution."""
    m = ctx.manifest()
    table = mutants(ctx.scaffold())
    if set(table) != set(m.bugs):
        raise CheckFailed(f"mutants.toml must have one table per bug {sorted(m.bugs)}. Got "
                          f"{sorted(table)} instead. Add or rename tables to match `bugs`.")
    for bug in m.bugs:
        ctx.variant(bug)  # raises ManifestError naming the edit that does not apply
    return f"{len(m.bugs)} mutants apply"


@check("probes_declared", needs=("manifest_valid",))
def probes_declared(ctx: CheckContext) -> str:
    """probes.py has PROBES with an entry for every planted bug."""
    m = ctx.manifest()
    path = ctx.root / "probes.py"
    if not m.bugs:
        return "no bugs, no probes needed"
    keys: list[str] = []
    if path.exists():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PROBES" for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    missing = [b for b in m.bugs if b not in keys]
    if missing:
        raise CheckFailed(f"probes.py must define PROBES with an entry for every bug. Got none for "
                          f"{missing} instead. Add `PROBES = {{\"{missing[0]}\": fn, ...}}` (see "
                          "scaffolds/_template/probes.py).")
    return f"{len(keys)} probes"


CHECKS = specs_of(
    manifest_valid, hooks_valid, bug_ids_known, quirk_ids_known, files_present, mutants_apply, probes_declared,
)
"""The contract checks, in the order they run (the suite: :mod:`pitfalls.checks.suite`)."""

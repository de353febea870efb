"""Checks of ``pitfalls check`` that catch an author's slips (no training): mutants that drift from
the starter, template text left in, comments that give a bug away, the solution copied into the
workspace under another name, and unknown keys in the catalogs and the scaffold's references."""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

from pitfalls.checks.context import CheckContext
from pitfalls.checks.spec import CheckFailed, check, specs_of
from pitfalls.checks.texts import (
    apply_in_turn,
    changed_lines,
    code_tokens,
    first_difference,
    names,
    reference_files,
    remarks,
    shingles,
    text_files,
)
from pitfalls.core.errors import ManifestError
from pitfalls.core.resources import package_folder
from pitfalls.library.catalogs import load_catalog, merged
from pitfalls.library.manifest import STARTER_EDITS
from pitfalls.library.variants import mutants, starter_edits


# -- catalog keys ----------------------------------------------------------------------------------
def catalog_folders() -> dict[str, Path]:
    """The bug and quirk catalogs the library reads."""
    return {"bugs": package_folder("pitfalls.bugs", "catalog"),
            "quirks": package_folder("pitfalls.datasets", "catalog")}


def _probe_keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PROBES" for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            return [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    return []


@check("catalog_keys_known", needs=("manifest_valid",))
def catalog_keys_known(ctx: CheckContext) -> str:
    """Every key of every bug and quirk catalog entry is a known one, and every bug id the scaffold
    names in probes.py is planted (a typo such as `silent_onn` would be ignored)."""
    folders = ctx.catalogs or catalog_folders()
    counts = {}
    for kind, folder in folders.items():
        try:
            counts[kind] = len(load_catalog(folder, kind))
            if not ctx.catalogs:  # with the packs' own entries (a scaffold pack's bugs/ and quirks/)
                counts[kind] = len(merged(kind))
        except ManifestError as exc:
            raise CheckFailed(str(exc)) from None
    bugs = list(ctx.manifest().bugs)
    for key in _probe_keys(ctx.root / "probes.py"):
        if key not in bugs:
            close = difflib.get_close_matches(key, bugs, n=1)
            raise CheckFailed(f"probes.py's PROBES keys must be planted bug ids {bugs}. Got {key!r} instead. "
                              + (f"Did you mean {close[0]!r}? " if close else "") + "Fix the spelling, or "
                              "drop the probe.")
    return f"{counts.get('bugs', 0)} bug and {counts.get('quirks', 0)} quirk entries, probes.py names planted bugs"


# -- mutants reproduce the starter --------------------------------------------------------------
@check("mutants_reproduce_starter", needs=("mutants_apply",))
def mutants_reproduce_starter(ctx: CheckContext) -> str:
    """Every bug's mutant applied in turn to the solution, then the ``[[starter]]`` edits, give the
    starter's files exactly, so bug_bites and the probes measure the bugs the candidate gets, not
    stand-ins."""
    m = ctx.manifest()
    starter = text_files(ctx.root / "workspace")
    extra = starter_edits(ctx.scaffold())
    table = {**mutants(ctx.scaffold()), STARTER_EDITS: extra}
    built, stuck = apply_in_turn(reference_files(ctx.root), table, (*m.bugs, STARTER_EDITS))
    what = "Every bug's mutant, applied in turn to the solution, then the [[starter]] edits, must reproduce the starter."
    fix = ("Edit mutants.toml so each bug's `new` text is the starter's text around it (comments "
           "included), bugs on nearby lines edit disjoint text, and differences that are no bug are "
           "[[starter]] edits.")
    if stuck:
        raise CheckFailed(f"{what} Got {stuck} instead. {fix}")
    for name in sorted(set(starter) | set(built)):
        want, got = starter.get(name), built.get(name)
        if want == got:
            continue
        if want is None:
            raise CheckFailed(f"{what} Got solution/{name}, which the starter does not have, instead. Remove "
                              "it, or add it to workspace/ too.")
        line, theirs, ours = first_difference(want, got or "")
        raise CheckFailed(f"{what} Got {name} line {line} {ours.strip()!r} where the starter has "
                          f"{theirs.strip()!r} instead. {fix}")
    return (f"{len(m.bugs)} mutants and {len(extra)} [[starter]] edits applied in turn give the starter's "
            f"{len(starter)} files exactly")


# -- template text left --------------------------------------------------------------------------
MIN_WORDS = 5
"""template_text_left: a sentence of the template this long or longer, found in a scaffold, is left over."""


def _sentences(text: str) -> list[str]:
    """The text's sentences, markdown marks and spacing removed, lowercased."""
    flat = re.sub(r"[*_#`>|]+", " ", text)
    parts = re.split(r"(?<=[.!?;:])\s+|\n\s*\n", flat)
    return [" ".join(p.split()).lower() for p in parts if p.strip()]


def _template_root() -> Path:
    return package_folder("pitfalls.scaffolds", "_template")


def _template_texts(root: Path) -> dict[str, str]:
    """What the candidate and the interviewer read: brief.md, GUIDE.md, and the manifest's title,
    summary, hints and ``[wording]`` texts."""
    from pitfalls.library.manifest import load_manifest

    m = load_manifest(root / "scaffold.toml")
    read = lambda n: (root / n).read_text() if (root / n).exists() else ""  # noqa: E731
    return {"brief.md": read("brief.md"), "GUIDE.md": read("GUIDE.md"),
            "scaffold.toml title": m.title, "scaffold.toml summary": m.summary,
            "scaffold.toml hints": "\n\n".join(m.hints),
            "scaffold.toml wording": "\n\n".join(t for texts in m.wording.values() for t in texts.values())}


@check("template_text_left", needs=("manifest_valid",))
def template_text_left(ctx: CheckContext) -> str:
    """brief.md, GUIDE.md and the manifest's title, summary and hints hold none of the template's
    sentences (`pitfalls new` copies the template's working example)."""
    template = _template_root()
    if ctx.manifest().name == "_template" or ctx.root.resolve() == template.resolve():
        return "the template itself"
    left = {s for text in _template_texts(template).values() for s in _sentences(text) if len(s.split()) >= MIN_WORDS}
    found = []
    for where, text in _template_texts(ctx.root).items():
        hit = next((s for s in _sentences(text) if any(old in s for old in left)), None)
        if hit or (where.endswith(("title", "summary")) and text.strip() in _template_texts(template)[where]):
            found.append(f"{where} still holding the template's {hit or text.strip()!r}")
    if found:
        raise CheckFailed(f"The brief, the guide, and the title, summary and hints must be this scaffold's own "
                          f"text. Got {'; '.join(found)} instead. Rewrite them for this task: the candidate "
                          "reads brief.md, the title, the summary and the hints; the interviewer GUIDE.md.")
    return f"no template sentence in {', '.join(_template_texts(ctx.root))}"


# -- comments that give a bug away ----------------------------------------------------------------
AROUND = 3
"""no_giveaway_comments looks at the planted lines and this many lines either side."""
NEAR = re.compile(r"\b(bugs?|buggy|fixme|todo|xxx|hack|wrong(ly)?|leak\w*|incorrect(ly)?|mistakes?|broken|"
                  r"oops|typo|planted|deliberate(ly)?|on purpose|intentional(ly)?|should(n't| not)? be|"
                  r"not (?:right|correct))\b", re.IGNORECASE)
ANYWHERE = re.compile(r"\b(?:BUG|FIXME|TODO|XXX|HACK)\b|(?i:\b(?:fixme|bug|todo|hack|xxx)\b\s*:)")
NAME_PARTS = {"bug", "buggy", "wrong", "leak", "leaky", "leaked", "incorrect", "broken", "fixme", "hack", "planted"}


def _giveaways(name: str, text: str, solution: str | None) -> list[str]:
    near: set[int] = set()
    for line in changed_lines(text, solution):
        near.update(range(line - AROUND, line + AROUND + 1))
    found = []
    for line, remark in remarks(text, name):
        hit = (NEAR if line in near else ANYWHERE).search(remark)
        if hit:
            found.append(f"{name} line {line} {remark.strip()[:80]!r} ({hit.group(0).strip(' :')!r})")
    for line, ident in names(text, name):
        parts = set(ident.lower().split("_"))
        if line in near and parts & NAME_PARTS:
            found.append(f"{name} line {line} the name {ident!r} ({sorted(parts & NAME_PARTS)[0]!r})")
    return found


@check("no_giveaway_comments", needs=("files_present",))
def no_giveaway_comments(ctx: CheckContext) -> str:
    """No comment, string or name on or near a planted line (BUG, FIXME, TODO, "wrong", "leak",
    "should be", ...) and no BUG/FIXME/TODO/XXX/HACK marker anywhere in the starter gives a bug away."""
    solution = text_files(ctx.root / "solution")
    starter = text_files(ctx.root / "workspace")
    found = [hit for name, text in starter.items() for hit in _giveaways(name, text, solution.get(name))]
    if found:
        raise CheckFailed(f"Comments, strings and names in the starter must not give a planted bug away. Got "
                          f"{'; '.join(found[:3])}{' and more' if len(found) > 3 else ''} instead. Reword or "
                          "remove them: a planted bug must look like ordinary code (scaffolds/STANDARD.md).")
    planted = sum(len(changed_lines(t, solution.get(n))) for n, t in starter.items())
    return f"{planted} planted lines in {len(starter)} files, nothing gives them away"


# -- the solution in the workspace ----------------------------------------------------------------
SHINGLE = 5
"""solution_not_in_workspace compares runs of this many code tokens."""
COPIED = 0.5
"""A workspace file holding this share of a solution file's own token runs (those the starter's
file of that name lacks) holds the solution."""


@check("solution_not_in_workspace", needs=("files_present",))
def solution_not_in_workspace(ctx: CheckContext) -> str:
    """No workspace file, under any name, holds most of what a solution file changes in the starter
    (token runs compared with comments and layout ignored, so a re-indented copy is caught too)."""
    starter, solution = text_files(ctx.root / "workspace"), text_files(ctx.root / "solution")
    mine = {n: shingles(code_tokens(t, n), SHINGLE) for n, t in starter.items()}
    found, compared = [], 0
    for sname, stext in solution.items():
        own = shingles(code_tokens(stext, sname), SHINGLE) - mine.get(sname, set())
        if not own:
            continue
        compared += 1
        for wname, runs in mine.items():
            share = len(own & runs) / len(own)
            if share >= COPIED and len(own & runs) >= 3:
                found.append(f"workspace/{wname} holding {share:.0%} of what solution/{sname} changes")
    if found:
        raise CheckFailed(f"The candidate's workspace must not hold the solution under any name. Got "
                          f"{'; '.join(found)} instead. Remove the copy: the solution belongs in solution/ only.")
    return f"{len(starter)} workspace files, none holds any of {compared} solution files' changes"


CHECKS = specs_of(
    catalog_keys_known, mutants_reproduce_starter, template_text_left, no_giveaway_comments,
    solution_not_in_workspace,
)
"""The authoring checks, in the order they run (the suite: :mod:`pitfalls.checks.suite`)."""

"""A scaffold's variant as a scaffold of its own: ``load_scaffold("tumor_triage@v3")``.

A variant's folder (``$PITFALLS_HOME/variants/NAME-ID-KEY/``, built once, pruned when unused and
unreferenced: runner/library/stale_variants.py; never mounted into a sandbox or copied into a
workspace) holds what the shipped scaffold holds, rewritten for the variant: ``workspace/`` (the
starter: the shipped one when every bug is planted, else the reference with the planted bugs'
mutants and the ``[[starter]]`` edits), ``solution/`` (the reference's files that differ from it),
``mutants.toml`` (one table per planted bug, recomputed against the rewritten reference),
``probes.py``, ``brief.md`` and ``GUIDE.md``. The rewrite renames
every quoted occurrence of a listed column ('age', "age", `age`) and sets each constant's
``NAME = value`` lines. The data comes from ``make_dataset`` with the variant's seed, its columns
renamed and ordered as the variant drew (:meth:`Variant.dataset`). Everything that works on a
scaffold (practice, scoring, anchors, probes, reveal, ``materialize``) therefore works on a variant.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pitfalls.core.errors import ManifestError
from pitfalls.library.stale_variants import prune, touch
from pitfalls.library.variant_spec import Draw, VariantSpec, check_id, draw, new_id, split_ref

if TYPE_CHECKING:  # scaffold.py loads variants through this module: no import back at run time
    from pitfalls.library.scaffold import Dataset, Scaffold

VARIANT_ENV = "PITFALLS_VARIANT"
"""Pins what :func:`choose` picks when no variant is asked for: an id, or ``base`` (tests, CI)."""
SHIPPED = "base"

TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".json", ".ipynb", ".cfg", ".yaml", ".yml", ".csv"}
_built: dict[tuple, Scaffold] = {}
_lock = threading.Lock()


@dataclass
class Variant:
    """One variant of a shipped scaffold: its id, what it drew, and the shipped scaffold itself."""

    id: str
    base: Scaffold
    draw: Draw
    _frames: dict[int, tuple[Dataset, Dataset]] = field(default_factory=dict, repr=False)

    def with_secret(self, secret: bytes) -> Scaffold:
        """The same id on another data secret (drawn anew: the secret is part of every choice)."""
        return variant_scaffold(self.base.with_secret(secret), self.id)

    def dataset(self, shipped: Dataset) -> Dataset:
        """``shipped`` (make_dataset's output for this variant's seed) with columns renamed and ordered."""
        key = id(shipped)
        if key not in self._frames:
            _check_columns(shipped.train, self.draw.renames, self.base)
            order = _order(list(shipped.train.columns), self.draw)
            out = dataclasses.replace(shipped, train=_frame(shipped.train, self.draw.renames, order, self.base),
                                      heldout=_frame(shipped.heldout, self.draw.renames, order, self.base),
                                      quirks=[_renamed_values(q, self.draw.renames) for q in shipped.quirks])
            self._frames[key] = (shipped, out)  # the shipped frame is kept so its id is not reused
        return self._frames[key][1]


def pick(scaffold_id: str, spec: VariantSpec | None, variant: str | None = None) -> str:
    """What a new session records for ``scaffold_id``: ``ID@vN`` or ``ID`` (see :func:`choose`),
    decided from the manifest's ``[variants]`` alone (nothing is built).

    ``$PITFALLS_VARIANT`` (used when ``variant`` is None) applies only to scaffolds that declare
    variants: one pinned id serves a run over every scaffold, those without variants included.

    Raises:
        ManifestError: an id that is not one of the scaffold's (naming where it came from: ``--variant``
            or ``$PITFALLS_VARIANT``), or an explicit id for a scaffold without variants.
    """
    source = "--variant"
    if not variant and os.environ.get(VARIANT_ENV):
        variant, source = os.environ[VARIANT_ENV], f"${VARIANT_ENV}"
        if spec is None:
            return scaffold_id
    variant = variant or None
    if variant == SHIPPED or (variant is None and spec is None):
        return scaffold_id
    if spec is None:
        raise ManifestError(path=f"{scaffold_id}: scaffold.toml", field="variants",
                            expected="a [variants] table (the scaffold declares no variants)",
                            got=f"--variant {variant}", hint="Leave --variant out for this scaffold.")
    return f"{scaffold_id}@{check_id(spec, variant or new_id(spec), name=scaffold_id, source=source)}"


def choose(base: Scaffold, variant: str | None = None) -> Scaffold:
    """The scaffold a new session gets: variant ``variant`` of ``base``; ``"base"``: the shipped
    scaffold; None: ``$PITFALLS_VARIANT`` if set (tests pin ``base``), else a variant drawn from a
    fresh seed when ``base`` declares ``[variants]`` (the shipped scaffold when it does not).

    Raises:
        ManifestError: an id that is not one of ``base``'s, or any id for a scaffold without variants.
    """
    chosen = split_ref(pick(base.name, base.manifest.variants, variant))[1]
    return base if chosen is None else variant_scaffold(base, chosen)


def variant_scaffold(base: Scaffold, variant: str) -> Scaffold:
    """Variant ``variant`` of the shipped scaffold ``base`` (built once per content and secret).

    Raises:
        ManifestError: ``base`` declares no ``[variants]``, the id is not one of its, or its
            mutants, constants or columns do not apply.
    """
    spec = base.manifest.variants
    if spec is None:
        raise ManifestError(path=str(base.root / "scaffold.toml"), field="variants",
                            expected="a [variants] table (the scaffold declares no variants)",
                            got=f"{base.name}@{variant}", hint=f"Load {base.name} without @{variant}.")
    check_id(spec, variant, name=base.name, source=f"the id of {base.name}@{variant}")
    chosen = draw(spec, variant=variant, bugs=base.manifest.bugs, public_seed=base.manifest.dataset_seed,
                  secret=base.secret)
    key = (str(base.root), base.secret, base.name, variant, base.hooks is not None)  # hooks=False: its own
    with _lock:
        if key not in _built:
            root = _folder(base, chosen)
            planted = set(chosen.planted)
            words = Rewrite(chosen.renames, {})
            manifest = dataclasses.replace(
                base.manifest, bugs=chosen.planted, hints=tuple(words.text(h) for h in base.manifest.hints),
                wording=_wording(base, chosen),
                quirk_bugs={q: tuple(b for b in bs if b in planted) for q, bs in base.manifest.quirk_bugs.items()})
            named = {"id": f"{base.name}@{variant}"} if "id" in {f.name for f in dataclasses.fields(base)} else {}
            _built[key] = dataclasses.replace(base, manifest=manifest, root=root, **named,
                                              variant=Variant(id=variant, base=base, draw=chosen))
        return _built[key]


def _wording(base: Scaffold, chosen: Draw) -> dict[str, dict[str, str]]:
    """Every planted bug's texts (the base's ``[wording]``, else the catalog's) rewritten for the
    variant, as the variant's ``[wording]``: whatever reads ``bug_entry(bug, manifest.wording)`` (the
    reveal, the dashboard, the report) then names the variant's columns and constants."""
    from pitfalls.library.catalogs import bug_entry
    from pitfalls.library.wording import FIELDS

    rewrite = Rewrite(chosen.renames, chosen.constants)
    return {bug: {k: rewrite.text(v) for k, v in bug_entry(bug, base.manifest.wording, scaffold=base.name).items()
                  if k in FIELDS and isinstance(v, str)} for bug in chosen.planted}


def quirk_entry_of(scaffold: Scaffold, quirk_id: str) -> dict[str, Any]:
    """``quirk_id``'s catalog entry as ``scaffold`` shows it: a variant's texts name its columns and
    constants (a shipped scaffold's: the catalog's)."""
    from pitfalls.library.catalogs import quirk_entry

    entry = quirk_entry(quirk_id, scaffold=scaffold.name)
    if scaffold.variant is None:
        return entry
    rewrite = Rewrite(scaffold.variant.draw.renames, scaffold.variant.draw.constants)
    return {k: rewrite.text(v) if isinstance(v, str) and k != "id" else v for k, v in entry.items()}


# -- the variant's folder ---------------------------------------------------------------------------
def _folder(base: Scaffold, chosen: Draw) -> Path:
    """The variant's folder under the state folder, built now if this content was never built."""
    from pitfalls.core.secret import seed_tag
    from pitfalls.core.store import home

    digest = hashlib.sha256(json.dumps(chosen.public(), sort_keys=True).encode())
    for path in sorted(p for p in base.root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(base.root)).encode() + b"\0" + path.read_bytes())
    for own in sorted(Path(__file__).parent.glob("variant*.py")):  # how variants are built
        digest.update(own.read_bytes())
    digest.update(seed_tag(base.data_seed()).encode())
    final = home() / "variants" / f"{base.manifest.name}-{chosen.id}-{digest.hexdigest()[:16]}"
    if final.is_dir():
        touch(final)  # its age is its last use (runner/library/stale_variants.py)
        return final
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    build = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        _write(base, chosen, build)
        build.rename(final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    prune(final.parent, store=home() / "pitfalls.sqlite", keep={final, *(b.root for b in _built.values())})
    return final


def _write(base: Scaffold, chosen: Draw, out: Path) -> None:
    from pitfalls.library.variant_comments import strip_fix_comments
    from pitfalls.library.variants import materialize, mutants

    rewrite = Rewrite(chosen.renames, chosen.constants)
    with tempfile.TemporaryDirectory(prefix="pitfalls-variant-") as tmp:
        ref = rewrite.tree(materialize(scaffold=base, target=Path(tmp) / "ref", reference=True))
        if set(chosen.planted) == set(base.manifest.bugs):
            starter = rewrite.tree(base.workspace_dir)
        else:
            folder = materialize(scaffold=base, target=Path(tmp) / "starter", reference=True,
                                 bugs=list(chosen.planted), starter_edits=True)
            strip_fix_comments(folder, [e for b, edits in mutants(base).items() if b not in chosen.planted
                                        for e in edits])
            starter = rewrite.tree(folder)
        rewrite.require_constants(starter, ref, base)
        tables = {b: rewrite.tree(materialize(scaffold=base, target=Path(tmp) / b, reference=True, bug=b))
                  for b in chosen.planted}
    _dump(out / "workspace", starter)
    _dump(out / "solution", {rel: text for rel, text in ref.items() if starter.get(rel) != text})
    (out / "mutants.toml").write_text("".join(_mutant_toml(b, ref, files) for b, files in tables.items()))
    for name in ("probes.py", "brief.md", "scaffold.toml", "scaffold.py"):
        if (base.root / name).is_file():
            (out / name).write_text(rewrite.text((base.root / name).read_text()) if name in ("probes.py", "brief.md")
                                    else (base.root / name).read_text())
    guide = base.root / "GUIDE.md"
    (out / "GUIDE.md").write_text(_guide_header(chosen) + (rewrite.text(guide.read_text()) if guide.is_file() else ""))
    (out / "variant.json").write_text(json.dumps(chosen.public(), indent=1))


def _dump(folder: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    folder.mkdir(parents=True, exist_ok=True)


def _guide_header(chosen: Draw) -> str:
    names = ", ".join(f"`{a}` is `{b}`" for a, b in chosen.renames.items()) or "none"
    consts = ", ".join(f"`{k} = {_number(v)}`" for k, v in chosen.constants.items()) or "none"
    return (f"> **Variant {chosen.id}.** Planted here: {', '.join(chosen.planted) or 'nothing'}. Renamed "
            f"columns: {names}. Constants: {consts}. Column order "
            f"{'shuffled' if chosen.order_seed is not None else 'as shipped'}. The text below is the "
            "shipped guide with the names rewritten; a bug it names that is not planted here is not in "
            "this workspace.\n\n")


class Rewrite:
    """A variant's text rewrite: column names renamed, ``NAME = number`` lines set. A name with an
    underscore (``patient_id``) is renamed wherever it stands as a whole word, prose included; a
    name without one (``age``) only where it is quoted (``'age'``, ``"age"``, `` `age` ``)."""

    def __init__(self, renames: dict[str, str], constants: dict[str, float]) -> None:
        self.renames, self.constants = renames, constants
        quoted = sorted((n for n in renames if "_" not in n), key=len, reverse=True)
        words = sorted((n for n in renames if "_" in n), key=len, reverse=True)
        parts = ([r"(?<=[\"'`])(?:" + "|".join(map(re.escape, quoted)) + r")(?=[\"'`])"] if quoted else []) + \
                ([r"\b(?:" + "|".join(map(re.escape, words)) + r")\b"] if words else [])
        self.names = re.compile("|".join(parts)) if parts else None
        self.lines = {k: re.compile(rf"(?m)^([ \t]*{re.escape(k)}[ \t]*(?::[^=\n]*)?=[ \t]*)[-+]?[0-9][0-9_.eE+-]*")
                      for k in constants}

    def text(self, text: str) -> str:
        """``text`` rewritten."""
        if self.names is not None:
            text = self.names.sub(lambda m: self.renames[m[0]], text)
        for k, pattern in self.lines.items():
            text = pattern.sub(lambda m, k=k: m[1] + _number(self.constants[k]), text)
        return text

    def tree(self, folder: Path) -> dict[str, str | bytes]:
        """Every file of ``folder`` (relative path -> content), text files rewritten."""
        out: dict[str, str | bytes] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            rel = path.relative_to(folder).as_posix()
            try:
                out[rel] = self.text(path.read_text()) if path.suffix in TEXT_SUFFIXES else path.read_bytes()
            except UnicodeDecodeError:
                out[rel] = path.read_bytes()
        return out

    def require_constants(self, *trees_and_base: Any) -> None:
        """Every constant sets at least one line of the starter or the reference.

        Raises:
            ManifestError: a constant whose ``NAME = number`` line is nowhere.
        """
        *trees, base = trees_and_base
        for k, pattern in self.lines.items():
            if not any(isinstance(t, str) and pattern.search(t) for tree in trees for t in tree.values()):
                raise ManifestError(path=str(base.root / "scaffold.toml"), field=f"variants.constants.{k}",
                                    expected=f"a `{k} = <number>` line in workspace/ or solution/",
                                    got="no such line", hint="Name a module-level constant of the code.")


def _number(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _mutant_toml(bug: str, ref: dict[str, str | bytes], files: dict[str, str | bytes]) -> str:
    """``[[bug]]`` tables turning the rewritten reference ``ref`` into ``files``."""
    out = []
    for rel, new in sorted(files.items()):
        old = ref.get(rel)
        if old == new or not isinstance(new, str) or not isinstance(old, str):
            continue
        for a, b in hunks(old, new):
            out.append(f"[[{bug}]]\nfile = {json.dumps(rel)}\nold = {json.dumps(a)}\nnew = {json.dumps(b)}\n\n")
    return "".join(out)


def hunks(old: str, new: str) -> list[tuple[str, str]]:
    """Replacements (old text found exactly once, new text) turning ``old`` into ``new``, with as
    little context as keeps each old text unique; the whole text as one replacement otherwise."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for context in range(8):
        edits = [("".join(a[g[0][1]:g[-1][2]]), "".join(b[g[0][3]:g[-1][4]]))
                 for g in matcher.get_grouped_opcodes(context)]
        text = old
        for x, y in edits:
            text = text.replace(x, y, 1) if x and text.count(x) == 1 else ""
        if edits and text == new:
            return edits
    return [(old, new)]


# -- the variant's data ------------------------------------------------------------------------------
def _order(columns: list[str], chosen: Draw) -> list[str] | None:
    if chosen.order_seed is None:
        return None
    import numpy as np

    return [columns[i] for i in np.random.default_rng(chosen.order_seed).permutation(len(columns))]


def _check_columns(train: Any, renames: dict[str, str], base: Scaffold) -> None:
    """Every renamed column is a feature of data/train.csv, and its new name is not already one.

    Raises:
        ManifestError: naming the first column that is not.
    """
    target = base.manifest.task.target
    bad = [(c, "no such column" if c not in train.columns else "the target") for c in renames
           if c not in train.columns or c == target]
    bad += [(n, "already a column") for n in renames.values() if n in train.columns]
    if bad:
        raise ManifestError(path=str(base.root / "scaffold.toml"), field="variants.columns",
                            expected="feature columns of data/train.csv, renamed to names it does not use",
                            got=f"{bad[0][0]!r} ({bad[0][1]})", hint=f"Its columns: {list(train.columns)[:20]}.")


def _frame(frame: Any, renames: dict[str, str], order: list[str] | None, base: Scaffold) -> Any:
    """``frame`` reordered (its columns in ``order`` first, in that order) and renamed."""
    if order is not None:
        frame = frame[[c for c in order if c in frame.columns] + [c for c in frame.columns if c not in order]]
    return frame.rename(columns=renames)


def _renamed_values(quirk: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    def one(v: Any) -> Any:
        if isinstance(v, str):
            return renames.get(v, v)
        if isinstance(v, list | tuple):
            return type(v)(one(x) for x in v)
        return v
    return {k: one(v) for k, v in quirk.items()}

"""``[variants]`` of ``scaffold.toml``: what may differ between two candidates' workspaces, and the
draw that turns a variant id into those differences.

A variant id (``v1``, ``v4821``) and the installation's data secret decide everything
(:func:`draw`): the data seed (``derive_seed(dataset.seed, secret, variant)``), the new name of
each listed column, the column order, each constant's value and which bugs of the pool are
planted. The secret is mixed into every choice, so an id alone, read with this repository, does
not say which bugs a variant plants. Building the variant's files is :mod:`pitfalls.library.variant`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError
from pitfalls.library.schema import VariantsTable, expect, parse_table, strings

OPEN_ENDED = 99_999
"""Ids of an open-ended scaffold (``count = 0``) are drawn from ``v1`` .. ``v99999``."""
MIN_CHECKED = 5
VARIANT_ID = re.compile(r"^v([1-9][0-9]{0,5})$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class VariantSpec:
    """The parsed ``[variants]`` table."""

    count: int = 0
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    shuffle_columns: bool = False
    constants: dict[str, tuple[float, ...]] = field(default_factory=dict)
    bug_pool: tuple[str, ...] = ()
    plant: int = 0
    check_variants: int = 5
    tolerance: float = 0.25

    @property
    def size(self) -> int:
        """How many ids exist (``count``, or :data:`OPEN_ENDED`)."""
        return self.count or OPEN_ENDED

    def planted_count(self) -> int:
        """How many of ``bug_pool`` each variant plants."""
        return self.plant or len(self.bug_pool)


@dataclass(frozen=True)
class Draw:
    """What one variant id decided (for one data secret)."""

    id: str
    planted: tuple[str, ...]
    """The manifest's bugs this variant plants, in the manifest's order."""
    renames: dict[str, str]
    """Original column name -> this variant's name."""
    order_seed: int | None
    """Seed of the column permutation (None: the dataset's own order)."""
    constants: dict[str, float]
    """Constant name -> this variant's value."""

    def public(self) -> dict[str, Any]:
        """For the interviewer (GUIDE, dashboard): what this variant changed."""
        return {"id": self.id, "planted": list(self.planted), "renames": dict(self.renames),
                "shuffled_columns": self.order_seed is not None, "constants": dict(self.constants)}


def parse_variants(data: dict, path: Path, bugs: tuple[str, ...]) -> VariantSpec | None:
    """``[variants]`` validated against the manifest's ``bugs``; None without the table.

    Raises:
        ManifestError: an unknown key, a pool id that is not planted, ``plant`` larger than the pool,
            a column pool that is empty or shares a name with another, a constant without numbers.
    """
    if "variants" not in data:
        return None
    raw = expect(data, "variants", dict, path)
    table = parse_table(VariantsTable, raw, path, "variants")
    _at_least(table.count, 0, "count", path)
    _at_least(table.check_variants, MIN_CHECKED, "check_variants", path)
    if not 0 < table.tolerance <= 1:
        _fail(path, "tolerance", "a number in (0, 1] (normalized: starter 0, reference 1)", table.tolerance)
    unknown = [b for b in table.bug_pool if b not in bugs]
    if unknown:
        _fail(path, "bug_pool", f"ids from bugs {list(bugs)}", unknown[0], "Pool only bugs the scaffold plants.")
    if len(set(table.bug_pool)) != len(table.bug_pool):
        _fail(path, "bug_pool", "each id once", list(table.bug_pool))
    if not 0 <= table.plant <= len(table.bug_pool) or (table.plant and table.plant == len(table.bug_pool) == 0):
        _fail(path, "plant", f"0 (all) or at most len(bug_pool) = {len(table.bug_pool)}", table.plant)
    return VariantSpec(count=table.count, columns=_columns(raw, path), shuffle_columns=table.shuffle_columns,
                       constants=_constants(raw, path), bug_pool=table.bug_pool, plant=table.plant,
                       check_variants=table.check_variants, tolerance=float(table.tolerance))


def _columns(raw: dict, path: Path) -> dict[str, tuple[str, ...]]:
    table = expect(raw, "columns", dict, path, "variants", default={})
    out: dict[str, tuple[str, ...]] = {}
    for column in table:
        names = strings(table, column, path, "variants.columns")
        if not names or column in names:
            _fail(path, f"columns.{column}", "a non-empty list of other names for the column", list(names))
        out[column] = names
    seen = [n for names in out.values() for n in names] + list(out)
    clash = sorted({n for n in seen if seen.count(n) > 1})
    if clash:
        _fail(path, "columns", "pools of names no other column uses", clash[0], "Every name must be unique.")
    return out


def _constants(raw: dict, path: Path) -> dict[str, tuple[float, ...]]:
    table = expect(raw, "constants", dict, path, "variants", default={})
    out: dict[str, tuple[float, ...]] = {}
    for name, values in table.items():
        ok = isinstance(values, list) and values and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if not IDENTIFIER.match(name) or not ok:
            _fail(path, f"constants.{name}", "a Python name with a non-empty list of numbers", values)
        out[name] = tuple(values)
    return out


def _at_least(value: int, low: int, key: str, path: Path) -> None:
    if value < low:
        _fail(path, key, f"an integer >= {low}", value)


def _fail(path: Path, key: str, expected: str, got: Any, hint: str = "") -> None:
    raise ManifestError(path=str(path), field=f"variants.{key}", expected=expected, got=repr(got),
                        hint=hint or "See scaffolds/STANDARD.md, [variants].")


def check_id(spec: VariantSpec, variant: str, *, name: str, source: str = "--variant") -> str:
    """``variant`` if it is an id of ``spec`` (``v1`` .. ``v{size}``); ``source`` says where the id
    came from (``--variant``, ``$PITFALLS_VARIANT``, a session's record), for the error.

    Raises:
        ManifestError: another text, or a number past ``count``.
    """
    found = VARIANT_ID.match(variant)
    if not found or int(found[1]) > spec.size:
        hint = ("Set it to base or an id in that range, or unset it to draw one at random." if source.startswith("$")
                else f"Leave {source} out to draw one at random.")
        raise ManifestError(path=f"{name}: scaffold.toml", field=source,
                            expected=f"an id v1 .. v{spec.size}", got=repr(variant), hint=hint)
    return variant


def draw(spec: VariantSpec, *, variant: str, bugs: tuple[str, ...], public_seed: int,
         secret: bytes | None) -> Draw:
    """What ``variant`` plants and renames on this installation (its data secret)."""
    import numpy as np  # on use

    from pitfalls.core.secret import derive_seed

    rng = np.random.default_rng(derive_seed(public_seed, secret, variant=f"{variant}:draw"))
    renames = {c: str(names[int(rng.integers(len(names)))]) for c, names in sorted(spec.columns.items())}
    order_seed = int(rng.integers(2**63)) if spec.shuffle_columns else None
    constants = {k: vals[int(rng.integers(len(vals)))] for k, vals in sorted(spec.constants.items())}
    chosen = set(rng.permutation(list(spec.bug_pool))[:spec.planted_count()].tolist()) if spec.bug_pool else set()
    planted = tuple(b for b in bugs if b not in spec.bug_pool or b in chosen)
    return Draw(id=variant, planted=planted, renames=renames, order_seed=order_seed, constants=constants)


def new_id(spec: VariantSpec) -> str:
    """A variant id drawn from a fresh seed (the OS's randomness), to be recorded with the session."""
    import secrets

    return f"v{1 + secrets.randbelow(spec.size)}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """``NAME@v3`` -> (``NAME``, ``v3``); anything else -> (ref, None)."""
    head, at, tail = str(ref).rpartition("@")
    return (head, tail) if at and VARIANT_ID.match(tail) else (str(ref), None)

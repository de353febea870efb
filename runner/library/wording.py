"""A scaffold's own words for a bug kind it shares with other scaffolds: ``[wording.BUG_ID]`` tables of
``scaffold.toml`` (:class:`~pitfalls.library.schema.Wording`).

A catalog entry (``bugs/catalog/``) is written once, usually about the scaffold that first planted
the kind; a scaffold that reuses the kind says what the bug looks like in *its* code here. Every key
given replaces the catalog's text for this scaffold only: the reveal, the dashboard and the report
read it through :func:`pitfalls.library.catalogs.bug_entry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError
from pitfalls.library.schema import Wording, expect, parse_table, reject_unknown

FIELDS = ("title", "description", "symptom", "why", "probe")
"""The catalog entry's texts a scaffold may reword (not ``ref``, ``category``, ``framework``, ``silent_on``)."""


def parse_wording(data: dict, path: Path | str, bugs: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``[wording]``: bug id -> the texts this scaffold gives it (only the keys written).

    Raises:
        ManifestError: a key that is not one of :data:`FIELDS` (with the one meant), an id that is not
            one of ``bugs`` (with the one meant), a value that is not a table or a text that is empty.
    """
    table = expect(data, "wording", dict, path, default={})
    out: dict[str, dict[str, str]] = {}
    for bug, texts in table.items():
        if not isinstance(texts, dict):
            raise ManifestError(path=str(path), field=f"wording.{bug}", expected=f"a table ([wording.{bug}] "
                                f"with some of {list(FIELDS)})", got=f"{texts!r} ({type(texts).__name__})")
        entry = parse_table(Wording, texts, path, f"wording.{bug}")
        given = {k: v for k, v in vars(entry).items() if v is not None}
        empty = [k for k, v in given.items() if not v.strip()]
        if empty:
            raise ManifestError(path=str(path), field=f"wording.{bug}.{empty[0]}", expected="a non-empty string",
                                got=repr(given[empty[0]]), hint="Delete the key to keep the catalog's text.")
        out[bug] = given
    reject_unknown(out, list(bugs), path=path, where="wording",
                   label="[wording] (the bug ids of scaffold.toml's `bugs`)")
    return out


def reworded(entry: dict[str, Any], wording: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    """``entry`` (a catalog entry with its ``id``) with this scaffold's texts for it, if any."""
    return {**entry, **(wording or {}).get(entry["id"], {})}

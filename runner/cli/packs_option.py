"""``--scaffolds DIR``: the option that adds scaffold packs to a command (runner/core/packs.py)."""

from __future__ import annotations

from pathlib import Path

import click

from pitfalls.core.packs import add_folders


def _add(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> None:
    """Add the packs before the command's other values are read (they may name a pack's scaffold)."""
    if value:
        add_folders(value)


SCAFFOLDS = click.option(
    "--scaffolds", "scaffold_packs", multiple=True, metavar="DIR", expose_value=False, is_eager=True,
    callback=_add, type=click.Path(file_okay=False, path_type=Path),
    help="Add the scaffold pack in folder DIR (repeatable): its scaffolds are PACK/NAME, PACK the folder's "
         "name. $PITFALLS_SCAFFOLDS (an os.pathsep list) adds packs too; docs/authoring.md.")
"""Put it on every command that takes a scaffold name."""

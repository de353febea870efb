"""``pitfalls new``: start a scaffold from the template (scaffolds/_template/)."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

from pitfalls.core.errors import PitfallsError
from pitfalls.core.resources import package_folder
from pitfalls.library.scaffold import scaffolds_root

NAME = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


def new_scaffold(*, name: str, parent: Path | None = None) -> Path:
    """Copy the template to ``parent/name`` (default: the scaffolds folder) and make it its own.

    The copy is the template's working example (two wine cultivars, one planted bug, one
    quirk) under a new name and a fresh dataset seed, without calibration: of the checks that do
    not train it fails only template_text_left (the brief, guide, title, summary and hints are
    still the template's), and ``pitfalls calibrate NAME --write`` completes it.

    Raises:
        PitfallsError: the name is not a lowercase identifier, or the folder exists.
    """
    if not NAME.match(name):
        raise PitfallsError(f"A scaffold name must be a lowercase identifier of 3-40 characters "
                            f"(letters, digits, underscores, starting with a letter). Got {name!r} instead.")
    target = (parent or scaffolds_root()) / name
    if target.exists():
        raise PitfallsError(f"The new scaffold's folder must not exist yet. Got an existing {target} "
                            "instead. Pick another name or remove the folder.")
    template = scaffolds_root() / "_template"
    if not (template / "scaffold.toml").exists():
        template = package_folder("pitfalls.scaffolds", "_template")
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    manifest = target / "scaffold.toml"
    text = manifest.read_text()
    text = text.replace('name = "_template"', f'name = "{name}"', 1)
    text = re.sub(r'(?m)^seed = \d+', f"seed = {random.SystemRandom().randint(1000, 9999)}", text, count=1)
    start = text.find("\n[calibration]")
    if start != -1:
        text = text[:start].rstrip("\n") + "\n"
    manifest.write_text(text)
    return target

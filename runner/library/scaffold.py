"""Find and load scaffolds: the manifest (data) and the hooks module (behaviour).

Hooks are listed in ``scaffolds/STANDARD.md``; this module is the only caller.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from pitfalls.core import blas, packs
from pitfalls.core.errors import ManifestError
from pitfalls.library.manifest import Manifest, load_manifest, load_mutants

REQUIRED_HOOKS = ("make_dataset",)
OPTIONAL_HOOKS: tuple[str, ...] = ()
KNOWN_HOOKS = REQUIRED_HOOKS + OPTIONAL_HOOKS


@dataclass
class Dataset:
    """What ``make_dataset`` returns. Only the runner's own process ever holds ``heldout``.

    Two frames, two audiences. ``train`` is everything the candidate sees: it becomes
    data/train.csv, and the candidate's own code splits it into a fit part and a validation part
    (the starter's random split), so a quirk "across the candidate's split" (copies on both
    sides of it) lives in ``train``. ``heldout`` is never seen and stays clean. A quirk entry
    names its frame in ``"frame"`` (:data:`FRAMES`; default ``"train"``); detectors read it.
    """

    FRAMES = ("train", "heldout")

    train: pd.DataFrame
    """Training rows with the target column and every planted quirk; becomes data/train.csv."""
    heldout: pd.DataFrame
    """Clean held-out rows with the target column (leak columns randomized, no train duplicates)."""
    quirks: list[dict[str, Any]] = field(default_factory=list)
    """Quirk manifest: one dict per planted quirk (``id``, where, how much, ``frame``)."""

    def frame_of(self, quirk: dict[str, Any]) -> str:
        """Where ``quirk`` is planted: ``"train"`` (the candidate's data, the default) or ``"heldout"``."""
        frame = quirk.get("frame", "train")
        if frame not in self.FRAMES:
            raise ValueError(f"A quirk entry's frame must be one of {list(self.FRAMES)}. Got {frame!r} "
                             f"in {quirk.get('id')!r} instead.")
        return frame


@dataclass
class Scaffold:
    """A loaded scaffold: its manifest, hooks module and folder."""

    manifest: Manifest
    hooks: ModuleType | None
    """The hooks module; None in a scaffold loaded with ``hooks=False`` (:func:`load_scaffold`)."""
    root: Path
    secret: bytes | None = None
    """The data secret to derive seeds with; None means the installation's (:mod:`pitfalls.core.secret`)."""
    variant: Any = None
    """A :class:`pitfalls.library.variant.Variant` (its id, draw and shipped scaffold), or None."""
    id: str = ""
    """Its id: the bare name of a built-in scaffold, ``PACK/NAME`` of a pack's (runner/core/packs.py)."""

    @property
    def name(self) -> str:
        """Its id (what stores, workspaces and sessions record); ``manifest.name`` is the bare name."""
        return self.id or self.manifest.name

    @property
    def source(self) -> str:
        """The folder it was loaded from, as sessions record it (a variant's: its shipped scaffold's)."""
        return str(self.variant.base.root if self.variant is not None else self.root)

    @property
    def distribution(self) -> str:
        """The installed distribution of its pack (``acme-pitfalls 1.0``), or empty."""
        pack = packs.pack_of(self.name)
        return pack.distribution if pack else ""

    @property
    def workspace_dir(self) -> Path:
        return self.root / "workspace"

    @property
    def solution_dir(self) -> Path:
        return self.root / "solution"

    @property
    def probes_file(self) -> Path:
        return self.root / "probes.py"

    @property
    def guide_file(self) -> Path:
        return self.root / "GUIDE.md"

    def data_seed(self, seed: int | None = None) -> int:
        """The seed ``make_dataset`` gets for the public ``seed`` (default: the manifest's): a
        128-bit hash of it and the data secret, so the repository alone does not determine data."""
        from pitfalls.core.secret import derive_seed

        return derive_seed(self.manifest.dataset_seed if seed is None else seed, self.secret,
                           variant=self.variant.id if self.variant is not None else "")

    def with_secret(self, secret: bytes) -> Scaffold:
        """This scaffold with another data secret (calibration measures several); a variant is
        drawn anew (the secret decides what it plants)."""
        if self.variant is not None:
            return self.variant.with_secret(secret)
        return dataclasses.replace(self, secret=secret)

    def dataset(self, seed: int | None = None) -> Dataset:
        """Build (or reuse) the dataset for the public ``seed`` (default: the manifest's seed),
        generated from :meth:`data_seed`; a variant's columns renamed and ordered as it drew."""
        if self.variant is not None:
            return self.variant.dataset(_dataset(self.variant.base.root, self.data_seed(seed)))
        return _dataset(self.root, self.data_seed(seed))


def scaffolds_root() -> Path:
    """The built-in library's folder (``scaffolds/``); packs add to it (:mod:`pitfalls.core.packs`)."""
    return packs.builtin_root()


def scaffold_names(root: Path | None = None) -> list[str]:
    """Ids of all scaffolds: the built-in names, then ``PACK/NAME`` of every pack (``root``: only
    the names of the scaffolds in that folder)."""
    if root is not None:
        return sorted(p.parent.name for p in root.glob("*/scaffold.toml") if not p.parent.name.startswith("_"))
    return packs.ids()


def load_scaffold(name_or_path: str | Path, source: str | Path | None = None, *, hooks: bool = True) -> Scaffold:
    """Load a scaffold by id (``NAME`` built in, ``PACK/NAME`` of a pack) or by folder path.

    ``source``: the folder a session recorded for the id (tried first; see :func:`packs.locate`).
    ``hooks=False`` neither imports nor checks its hooks (no numpy, pandas or scikit-learn: what a
    look-up by id, folder, manifest or seed needs, such as the anchors cache's); its data is still
    made from the checked hooks, loaded then.

    Raises:
        ScaffoldNotFound: with a "did you mean" suggestion.
        ManifestError: the manifest or hooks break the contract.
        PackError: two packs with one name, or a pack folder that is none.

    ``NAME@v3`` loads variant v3 of the scaffold (runner/library/variant.py).
    """
    from pitfalls.library.variant_spec import split_ref

    base, variant = split_ref(name_or_path) if isinstance(name_or_path, str) else (name_or_path, None)
    scaffold_id, path = packs.locate(base, source)
    shipped = _load(path, scaffold_id) if hooks else _load_manifest(path, scaffold_id)
    return shipped if variant is None else VARIANT_LOADER[0](shipped, variant)


VARIANT_LOADER: list[Callable[[Scaffold, str], Scaffold]] = []
"""Builds variant ``id`` of a shipped scaffold: :func:`pitfalls.library.variant.variant_scaffold`,
registered by ``pitfalls.library``'s ``__init__`` (that module builds on this one, so this one
cannot import it)."""


def scaffold_path(name_or_path: str | Path, source: str | Path | None = None) -> Path:
    """The folder of the scaffold ``name_or_path`` (an id or a folder), found without loading it.

    Raises:
        ScaffoldNotFound: with a "did you mean" suggestion.
    """
    from pitfalls.library.variant_spec import split_ref

    return packs.locate(split_ref(name_or_path)[0] if isinstance(name_or_path, str) else name_or_path, source)[1]


def scaffold_id(name_or_path: str | Path, source: str | Path | None = None) -> str:
    """The id of the scaffold ``name_or_path`` (an id or a folder), found without loading it."""
    return packs.locate(name_or_path, source)[0]


@functools.lru_cache(maxsize=32)
def _load(path: Path, scaffold_id: str = "") -> Scaffold:
    return dataclasses.replace(_load_manifest(path, scaffold_id), hooks=load_hooks(path / "scaffold.py"))


def _load_manifest(path: Path, scaffold_id: str = "") -> Scaffold:
    """The scaffold without its hooks (``hooks`` None); not cached (``_load.cache_clear()`` rereads all)."""
    manifest = load_manifest(path / "scaffold.toml")
    if manifest.name != path.name:
        raise ManifestError(path=str(path / "scaffold.toml"), field="name",
                            expected=f"the folder name {path.name!r}", got=repr(manifest.name))
    load_mutants(path / "mutants.toml", manifest.bugs)  # a typo there is refused at load, as in scaffold.toml
    return Scaffold(manifest=manifest, hooks=None, root=path, id=scaffold_id or packs.id_of(path))


def load_hooks(path: Path) -> ModuleType:
    """Import a scaffold's hooks file and check its hooks against the contract."""
    if not path.exists():
        raise ManifestError(path=str(path), field="(file)", expected="a hooks file defining "
                            "make_dataset(seed)", got="no such file",
                            hint="Copy scaffolds/_template/scaffold.py.")
    spec = importlib.util.spec_from_file_location(f"pitfalls_scaffold_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ManifestError(path=str(path), field="(import)", expected="an importable Python file",
                            got=f"{type(exc).__name__}: {exc}") from None
    # A process that loads a scaffold makes its data and scores in threads beside threads that fork
    # sandboxes: one BLAS thread from here on (runner/core/blas.py); its hooks loaded numpy already.
    blas.single_threaded()
    public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))
              and getattr(getattr(module, n), "__module__", None) == module.__name__]
    for name in public:
        if name not in KNOWN_HOOKS:
            close = difflib.get_close_matches(name, KNOWN_HOOKS, n=1, cutoff=0.6)
            raise ManifestError(path=str(path), field=name, expected=f"one of the hooks {list(KNOWN_HOOKS)}",
                                got=repr(name), hint=(f"Did you mean {close[0]!r}? " if close else "")
                                + "Helper functions must start with an underscore.")
    for hook in REQUIRED_HOOKS:
        if not callable(getattr(module, hook, None)):
            raise ManifestError(path=str(path), field=hook, expected="a function",
                                got="nothing", hint=f"Define `def {hook}(...)` as in the template.")
    return module


@functools.lru_cache(maxsize=8)
def _dataset(root: Path, seed: int) -> Dataset:
    import pandas as pd  # on use: `pitfalls session` and the CLI's start-up do not need it

    scaffold = _load(root, packs.id_of(root))
    ds = scaffold.hooks.make_dataset(seed)
    target = scaffold.manifest.task.target
    where = str(root / "scaffold.py")
    if not isinstance(ds, Dataset):
        raise ManifestError(path=where, field="make_dataset", expected="a pitfalls.library.scaffold.Dataset",
                            got=type(ds).__name__)
    for part in ("train", "heldout"):
        frame = getattr(ds, part)
        if not isinstance(frame, pd.DataFrame) or target not in frame.columns:
            raise ManifestError(path=where, field=f"make_dataset().{part}",
                                expected=f"a DataFrame with the target column {target!r}",
                                got=type(frame).__name__ if not isinstance(frame, pd.DataFrame)
                                else f"columns {list(frame.columns)[:8]}")
    return ds

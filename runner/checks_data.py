"""Checks of ``pitfalls check`` on the data and the candidate's files (no training)."""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from .check_context import CheckContext
from .checks import DATA_SUFFIXES, CheckFailed, check
from .scaffold import Dataset


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:12]


@check("dataset_deterministic", needs=("manifest_valid", "hooks_valid"))
def dataset_deterministic(ctx: CheckContext) -> str:
    """make_dataset(seed) returns a Dataset, the same bytes twice, with the manifest's quirks."""
    m, hooks = ctx.manifest(), ctx.hooks()
    seed = ctx.scaffold().data_seed()
    first, again = hooks.make_dataset(seed), hooks.make_dataset(seed)
    if not isinstance(first, Dataset):
        raise CheckFailed(f"make_dataset must return a pitfalls.scaffold.Dataset. Got "
                          f"{type(first).__name__} instead.")
    for part in ("train", "heldout"):
        a, b = getattr(first, part), getattr(again, part)
        if m.task.target not in a.columns:
            raise CheckFailed(f"make_dataset().{part} must have the target column {m.task.target!r}. "
                              f"Got columns {list(a.columns)[:8]} instead.")
        if _digest(a) != _digest(b):
            raise CheckFailed(f"make_dataset(seed) must return the same {part} frame every time. Got "
                              f"two different frames for seed {m.dataset_seed} instead. Draw every "
                              "random number from np.random.default_rng(seed).")
    ids = [q.get("id") for q in first.quirks]
    if ids != list(m.quirks):
        raise CheckFailed(f"make_dataset().quirks must list the manifest's quirks {list(m.quirks)} in "
                          f"order. Got {ids} instead.")
    return f"train {len(first.train)} rows ({_digest(first.train)}), held-out {len(first.heldout)} rows"


@check("heldout_clean", needs=("dataset_deterministic", "quirk_ids_known"))
def heldout_clean(ctx: CheckContext) -> str:
    """No held-out row repeats a training row; no quirk's exploitable signal reaches held-out data."""
    from .quirks import REGISTRY

    ds, target = ctx.dataset(), ctx.manifest().task.target
    cols = [c for c in ds.train.columns if c != target and c in ds.heldout.columns]
    keys = lambda f: set(pd.util.hash_pandas_object(f[cols], index=False))  # noqa: E731
    shared = keys(ds.train) & keys(ds.heldout)
    if shared:
        raise CheckFailed(f"Held-out rows must not repeat training rows. Got {len(shared)} held-out "
                          "feature rows that also occur in training instead. Split before planting "
                          "duplicates, and drop held-out rows that match training rows.")
    leaks = []
    for quirk in ds.quirks:
        kind = REGISTRY[quirk["id"]]
        if kind.heldout_leak is not None:
            found = kind.heldout_leak(quirk, train=ds.train, heldout=ds.heldout, target=target)
            if found.fired:
                leaks.append(f"{quirk['id']}: {found.evidence}")
    if leaks:
        raise CheckFailed(f"Held-out data must not carry a planted quirk's signal. Got {'; '.join(leaks)} "
                          "instead. Randomize or drop leak and shortcut columns in held-out data, and "
                          "keep groups and time periods disjoint.")
    return f"{len(ds.heldout)} held-out rows, none shared with training, no leak signal"


def _text(path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        return ""


@check("workspace_no_secrets", needs=("manifest_valid", "files_present"))
def workspace_no_secrets(ctx: CheckContext) -> str:
    """workspace/ holds no data files, no solution file, no guide text and not the dataset seed."""
    m = ctx.manifest()
    files = [p for p in (ctx.root / "workspace").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    found = [f"data file {p.relative_to(ctx.root)}" for p in files if p.suffix.lower() in DATA_SUFFIXES]
    solution = ctx.root / "solution"
    for p in files:
        twin = solution / p.relative_to(ctx.root / "workspace")
        if twin.is_file() and twin.read_bytes() == p.read_bytes():
            found.append(f"{p.relative_to(ctx.root)} identical to the solution")
    guide = ctx.root / "GUIDE.md"
    lines = [ln.strip() for ln in _text(guide).splitlines() if len(ln.strip()) >= 40] if guide.exists() else []
    seed = str(m.dataset_seed)
    for p in files:
        text = _text(p)
        if any(ln in text for ln in lines):
            found.append(f"{p.relative_to(ctx.root)} quotes GUIDE.md")
        if len(seed) >= 3 and re.search(rf"(?<!\d){seed}(?!\d)", text):
            found.append(f"{p.relative_to(ctx.root)} mentions the dataset seed {seed}")
    if found:
        raise CheckFailed(f"The candidate's workspace must hold nothing secret. Got {'; '.join(found)} "
                          "instead. The runner writes data/train.csv itself; keep solutions, the guide "
                          "and the seed out of workspace/.")
    return f"{len(files)} files, nothing secret"


@check("quirk_detected", needs=("dataset_deterministic", "quirk_ids_known"), per="quirks")
def quirk_detected(ctx: CheckContext, quirk_id: str) -> str:
    """The planted quirk's registered detector fires on the training data."""
    from .quirks import detect

    ds = ctx.dataset()
    entry = next(q for q in ds.quirks if q.get("id") == quirk_id)
    found = detect(entry, train=ds.train, heldout=ds.heldout, target=ctx.manifest().task.target)
    if not found.fired:
        raise CheckFailed(f"The planted quirk {quirk_id} must be detectable in the training data. Got "
                          f"a silent detector instead ({found.evidence}). Plant it more strongly, or "
                          "fix the entry make_dataset returns.")
    return found.evidence

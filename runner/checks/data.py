"""Checks of ``pitfalls check`` on the data and the candidate's files (no training)."""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from pitfalls.checks.context import CheckContext
from pitfalls.checks.registry import DATA_SUFFIXES
from pitfalls.checks.spec import CheckFailed, check, specs_of
from pitfalls.library.scaffold import Dataset


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:12]


@check("dataset_deterministic", needs=("manifest_valid", "hooks_valid"))
def dataset_deterministic(ctx: CheckContext) -> str:
    """make_dataset(seed) returns a Dataset, the same bytes twice, with the manifest's quirks."""
    m, hooks = ctx.manifest(), ctx.hooks()
    seed = ctx.scaffold().data_seed()
    first, again = hooks.make_dataset(seed), hooks.make_dataset(seed)
    if not isinstance(first, Dataset):
        raise CheckFailed(f"make_dataset must return a pitfalls.library.scaffold.Dataset. Got "
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
    from pitfalls.datasets import REGISTRY

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
    from pitfalls.datasets import detect

    ds = ctx.dataset()
    entry = next(q for q in ds.quirks if q.get("id") == quirk_id)
    found = detect(entry, train=ds.train, heldout=ds.heldout, target=ctx.manifest().task.target)
    if not found.fired:
        where = ("Plant it more strongly, or fix the entry make_dataset returns." if ds.frame_of(entry) == "train"
                 else "It is planted in the held-out data (frame 'heldout'), which the candidate never sees: "
                 "plant it in the candidate's data instead (frame 'train'; for copies across the "
                 "candidate's own split, pitfalls.datasets.copy_rows_within_split).")
        raise CheckFailed(f"The planted quirk {quirk_id} must be detectable in the training data. Got "
                          f"a silent detector instead ({found.evidence}). {where}")
    return found.evidence


NEIGHBOURS = 7
"""heldout_labels_hidden regresses each held-out column on the labels of the rows up to this many
places before and after it (the row itself excluded), in row order and in time order."""
MAX_LABEL_R2 = 0.9


def _time_order(frame: pd.DataFrame) -> tuple[str, list[int]] | None:
    """The first text column that parses as dates (90% or more), and the row order that sorts it."""
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]):
            continue
        parsed = pd.to_datetime(frame[col], errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.9:
            return col, list(parsed.argsort(kind="stable"))
    return None


def neighbour_label_r2(column: pd.Series, labels: pd.Series, order: list[int] | None = None) -> float:
    """Adjusted R^2 of a least-squares fit of ``column`` on the labels of the NEIGHBOURS rows
    before and after each row in ``order`` (default: row order), the row's own label excluded; 0
    when too few rows or a constant column."""
    import numpy as np

    idx = np.arange(len(column)) if order is None else np.asarray(order)
    c = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)[idx]
    y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)[idx]
    rows = np.arange(NEIGHBOURS, len(c) - NEIGHBOURS)
    offsets = [k for k in range(-NEIGHBOURS, NEIGHBOURS + 1) if k != 0]
    X = np.column_stack([np.ones(len(rows))] + [y[rows + k] for k in offsets]) if len(rows) else None
    if X is None:
        return 0.0
    keep = np.isfinite(c[rows]) & np.all(np.isfinite(X), axis=1)
    n, p = int(keep.sum()), X.shape[1]
    if n < p + 10:
        return 0.0
    X, target = X[keep], c[rows][keep]
    total = float(np.sum((target - target.mean()) ** 2))
    if total <= 1e-12 * max(1.0, float(np.sum(target ** 2))):
        return 0.0
    coef, *_ = np.linalg.lstsq(X, target, rcond=None)
    r2 = 1.0 - float(np.sum((target - X @ coef) ** 2)) / total
    return max(0.0, 1.0 - (1.0 - r2) * (n - 1) / (n - p))  # adjusted: chance fits of few rows score ~0


@check("heldout_labels_hidden", needs=("dataset_deterministic",))
def heldout_labels_hidden(ctx: CheckContext) -> str:
    """No held-out feature column is (nearly) a function of other held-out rows' labels."""
    ds, target = ctx.dataset(), ctx.manifest().task.target
    held = ds.heldout.reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(held[target]):
        held[target] = pd.factorize(held[target])[0]
    orders: dict[str, list[int] | None] = {"row order": None}
    timed = _time_order(held.drop(columns=[target]))
    if timed is not None:
        orders[f"{timed[0]} order"] = timed[1]
    found, worst = [], (0.0, "-")
    for col in held.columns.drop(target):
        if pd.to_numeric(held[col], errors="coerce").notna().mean() < 0.5:
            continue
        for how, order in orders.items():
            r2 = neighbour_label_r2(held[col], held[target], order)
            worst = max(worst, (r2, f"{col} ({how})"))
            if r2 > MAX_LABEL_R2:
                found.append(f"{col!r} explained by the labels of the {NEIGHBOURS} rows before and after "
                             f"each row ({how}) at R^2 {r2:.3f}")
                break
    if found:
        raise CheckFailed(f"Held-out feature columns must not be computed from held-out labels. Got "
                          f"{'; '.join(found)} instead. predict() sees every held-out row at once and "
                          "can solve for the labels: compute such a column in held-out rows from what is "
                          "known before them (the training rows, the forecast origin), or drop it there.")
    return (f"no held-out column follows the neighbouring rows' labels (highest R^2 {worst[0]:.2f}: "
            f"{worst[1]}; limit {MAX_LABEL_R2})")


CHECKS = specs_of(
    dataset_deterministic, heldout_clean, workspace_no_secrets, quirk_detected, heldout_labels_hidden,
)
"""The data checks, in the order they run (the suite: :mod:`pitfalls.checks.suite`)."""

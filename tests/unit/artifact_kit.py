"""Builders and oracles shared by the tests/unit/test_budget_* files (not a test module).

Artifacts are built in-process (small torch modules, estimators fitted on a few hundred rows); the
expected counts come from the documented rule (README, "What counts as a parameter"), never from
runner code."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import StandardScaler

from pitfalls.budget.artifacts import ArtifactError, count_params

MAX_MB = 16


class Smuggled(AssertionError):
    """Numbers got past the counter (the failure an xfail documents)."""


class NotAnArtifactError(AssertionError):
    """A malformed artifact crashed the counter with something other than ArtifactError."""


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


TENSOR_NAMES = "(tensor names)"


NAMES = "(attribute names)"


def _skops(est, path: Path) -> Path:
    sio.dump(est, path)
    return path


def _count(est, tmp_path: Path, name: str = "model.skops"):
    return count_params(_skops(est, tmp_path / f"{uuid.uuid4().hex[:8]}-{name}"), max_mb=MAX_MB)


def _name(value: str) -> int:
    """The rule for a name (attribute, Tree state key, field): one per 5 characters, at least one."""
    return max(1, -(-len(value) // 5))


def _by_attribute(breakdown: dict[str, int]) -> dict[str, int]:
    """The counter's breakdown summed per top-level attribute (``tree_[nodes]`` -> ``tree_``)."""
    out: dict[str, int] = {}
    for key, n in breakdown.items():
        top = key if key == NAMES else re.split(r"[.\[]", key, maxsplit=1)[0]
        out[top] = out.get(top, 0) + n
    return out


def _xy(n=120, d=5, k=2, seed=0):
    rng = _rng(seed)
    X = rng.normal(size=(n, d))
    signal = X[:, 0] * 2 + X[:, min(1, d - 1)] + rng.normal(scale=0.5, size=n)
    y = (signal > 0).astype(int)
    if k > 2:
        y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1]))
    assert len(np.unique(y)) == k
    return X, y


def _expect_artifact_error(path: Path, match: str | None = None) -> ArtifactError:
    try:
        count_params(path, max_mb=MAX_MB)
    except ArtifactError as exc:
        if match:
            assert re.search(match, str(exc)), str(exc)
        return exc
    except Exception as exc:  # noqa: BLE001 - the point is which exception
        raise NotAnArtifactError(f"{type(exc).__name__}: {exc}") from exc
    pytest.fail(f"{path.name} was accepted")


def _counted_or_rejected(path: Path, at_least: int) -> None:
    """A smuggling artifact must either be rejected or have its hidden numbers counted."""
    try:
        total = count_params(path, max_mb=MAX_MB).total
    except ArtifactError:
        return
    if total < at_least:
        raise Smuggled(f"{path.name}: {at_least:,} hidden numbers, but the counter reports {total:,}")


def _zip(path: Path, members: list[tuple[str, bytes]], *, prefix: bytes = b"", comment: bytes = b"") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        zf.comment = comment
    path.write_bytes(prefix + buf.getvalue())
    return path


def _with_schema(tmp_path: Path, name: str, edit, est=None) -> Path:
    """A skops file of ``est`` (default: a fitted StandardScaler) whose schema.json was changed in
    place by ``edit(schema)``; the arrays are kept as they are."""
    if est is None:
        est = StandardScaler().fit(_xy(d=3)[0])
    with zipfile.ZipFile(_skops(est, tmp_path / f"orig-{name}")) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    return _zip(tmp_path / name, list(members.items()))


def _attr(schema: dict, name: str) -> dict:
    """The node of attribute ``name`` of the root estimator."""
    return schema["content"]["content"][name]


def _scaler_with(tmp_path: Path, name: str, **attrs) -> Path:
    X, _ = _xy(d=3)
    est = StandardScaler().fit(X)
    for key, value in attrs.items():
        setattr(est, key, value)
    return _skops(est, tmp_path / name)


def _nones(n: int) -> StandardScaler:
    est = StandardScaler().fit(_xy(d=3)[0])
    est.memo_ = [None] * n  # each element its own JsonNode, worth nothing by itself
    return est

"""Property-based fuzzing of the skops counter and re-encoder with malformed candidate bytes.

Whatever a candidate writes to ``model.skops`` (a damaged zip, a schema.json of any JSON, ``.npy``
members with any header or data), :func:`pitfalls.budget.skops_count.count_skops` and
:func:`pitfalls.budget.canonical.canonical_skops` must return a count / write a copy or raise
:class:`pitfalls.budget.artifacts.ArtifactError` with a message, never another exception: anything
else reaches the runner as "The runner failed".
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pitfalls.budget.artifacts import ArtifactError
from pitfalls.budget.canonical import canonical_skops
from pitfalls.budget.skops_count import count_skops

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _members() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


MEMBERS = _members()
SCHEMA = json.loads(MEMBERS["schema.json"])
NPY = sorted(name for name in MEMBERS if name.endswith(".npy"))


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _only_verdicts(path: Path) -> None:
    """Count and re-encode ``path``: success or ArtifactError with a message, nothing else."""
    for run in (lambda: count_skops(path), lambda: canonical_skops(path, path.with_suffix(".c.skops"), code={})):
        try:
            run()
        except ArtifactError as exc:
            assert str(exc).strip(), "an ArtifactError must say what was wrong"


def _tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "model.skops"


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path_factory, data):
    path = _tmp(tmp_path_factory)
    path.write_bytes(data)
    _only_verdicts(path)


@FUZZ
@given(position=st.integers(min_value=0), value=st.integers(0, 255), cut=st.booleans())
def test_damaged_zip_bytes(tmp_path_factory, position, value, cut):
    path = _write(_tmp(tmp_path_factory), MEMBERS)
    raw = bytearray(path.read_bytes())
    position %= len(raw)
    raw[position] = value
    path.write_bytes(bytes(raw[:position] if cut else raw))
    _only_verdicts(path)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                    max_leaves=30)


def _paths(node: object, at: tuple = ()) -> list[tuple]:
    """Every location in the schema, as a tuple of keys and indices."""
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


SCHEMA_PATHS = _paths(SCHEMA)


@FUZZ
@given(where=st.sampled_from(SCHEMA_PATHS), value=JSON, drop=st.booleans())
def test_schema_with_one_value_replaced(tmp_path_factory, where, value, drop):
    schema = json.loads(MEMBERS["schema.json"])
    if not where:
        schema = value
    else:
        parent = schema
        for key in where[:-1]:
            parent = parent[key]
        if drop and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = value
    _only_verdicts(_write(_tmp(tmp_path_factory), {**MEMBERS, "schema.json": json.dumps(schema).encode()}))


@FUZZ
@given(schema=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_schema_of_any_bytes(tmp_path_factory, schema):
    _only_verdicts(_write(_tmp(tmp_path_factory), {**MEMBERS, "schema.json": schema}))


DESCR = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|u1", "|b1", "<c16", "<f16", "|O", "<U4", "|S3",
                         "|V8", "<M8[s]", "[('a', '<f8')]", "[('a', '|u1'), ('', '|V7'), ('b', '<f8')]",
                         "[('\\u00e9', '<f4')]", "[(('t', 'a'), '<f4')]", "[('a', '<f8', (2,))]", "'bad'", "{"])
SHAPE = st.lists(st.integers(-2, 2**40), max_size=3).map(lambda s: repr(tuple(s)))


def _npy(descr: str, fortran: bool, shape: str, data: bytes, version: int) -> bytes:
    header = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (
        descr if descr.startswith(("[", "'", "{")) else repr(descr), fortran, shape)
    header = header.ljust((len(header) + 74) // 64 * 64 - 11) + "\n"
    head = header.encode("latin1")
    length = len(head).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + head + data


@FUZZ
@given(member=st.sampled_from(NPY), descr=DESCR, fortran=st.booleans(), shape=SHAPE,
       data=st.binary(max_size=256), version=st.sampled_from([1, 2, 3]))
def test_npy_members_with_any_header(tmp_path_factory, member, descr, fortran, shape, data, version):
    members = {**MEMBERS, member: _npy(descr, fortran, shape, data, version)}
    _only_verdicts(_write(_tmp(tmp_path_factory), members))


@FUZZ
@given(member=st.sampled_from(NPY), data=st.binary(max_size=512))
def test_npy_members_of_any_bytes(tmp_path_factory, member, data):
    _only_verdicts(_write(_tmp(tmp_path_factory), {**MEMBERS, member: data}))


def test_the_unmodified_file_is_counted_and_re_encoded(tmp_path):
    """The positive control: the fuzzed base file itself is accepted by both."""
    path = _write(tmp_path / "model.skops", MEMBERS)
    assert count_skops(path).total > 0
    canonical_skops(path, tmp_path / "c.skops", code={})
    assert count_skops(tmp_path / "c.skops").total == count_skops(path).total


@pytest.mark.parametrize("descr", ["[('a', '|u1'), ('', '|V7'), ('b', '<f8')]", "[('a', '|u1'), ('b', '<f8')]"])
def test_structured_members_from_the_fuzz_are_valid_when_well_formed(tmp_path, descr):
    """A well-formed structured member (aligned or packed) passes; the fuzz's alphabet reaches both."""
    dtype = np.lib.format.descr_to_dtype(eval(descr))  # noqa: S307 - a literal of this test
    members = {**MEMBERS, NPY[0]: _npy(descr, False, "(2,)", bytes(2 * dtype.itemsize), 1)}
    path = _write(tmp_path / "model.skops", members)
    _only_verdicts(path)


# Every byte of the canonical schema.json must be a function of what was counted: two artifacts
# that differ only in choices the counter does not charge (a class's spelling, the format fields,
# key order, node ids, the class a null names) give byte-identical copies, or one is refused.
def _with_nulls() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    model.steps[0][1].memo_ = [None, 1.5, None, None]
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


NULL_MEMBERS = _with_nulls()
ALIASES = ["numpy.ma.core.np", "numpy", "sklearn", "builtins", "collections", "numpy.ma.core"]


def _respell(node: dict, rnd) -> None:
    """Another spelling of the node's class: a parent module, a dotted path, another class."""
    module, cls = node["__module__"], node["__class__"]
    choice = rnd.randrange(4)
    if choice == 0 and "." in module:
        node["__module__"] = module.rsplit(".", 1)[0]  # the public package re-exports it
    elif choice == 1:
        node["__module__"], node["__class__"] = "numpy", f"ma.core.np.{cls}" if module == "numpy" else "float64"
    elif choice == 2:
        node["__class__"] = rnd.choice(["str", "int", "NoneType", "float", cls])
    else:
        node["__module__"] = rnd.choice(ALIASES)


def _uncounted_edit(value: object, rnd, kinds: frozenset) -> object:
    if isinstance(value, list):
        return [_uncounted_edit(v, rnd, kinds) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _uncounted_edit(v, rnd, kinds) for k, v in value.items()}
    if "spell" in kinds and "__class__" in out and rnd.random() < 0.1:
        _respell(out, rnd)
    if "alias" in kinds and str(out.get("__module__")).startswith("sklearn.") and rnd.random() < 0.5:
        out["__module__"] = out["__module__"].rsplit(".", 1)[0]  # the public package re-exports it
    if "ids" in kinds and "__id__" in out and rnd.random() < 0.3:
        out["__id__"] = rnd.randrange(10**6)
    if "format" in kinds and "protocol" in out:
        out["protocol"], out["_skops_version"] = rnd.randrange(100), rnd.choice(["0.1", "1.2.3", "0.16.0"])
    if "order" not in kinds:
        return out
    items = list(out.items())
    if out.get("__loader__") != "DictNode" and rnd.random() < 0.5:
        rnd.shuffle(items)  # a DictNode's content is a dict, reordered below with its key types
    out = dict(items)
    content, types = out.get("content"), out.get("key_types", {}).get("content") if out.get("__loader__") == "DictNode" else None
    if isinstance(content, dict) and isinstance(types, list) and len(types) == len(content) and rnd.random() < 0.5:
        order = list(range(len(content)))
        rnd.shuffle(order)
        pairs = list(content.items())
        out["content"] = dict(pairs[i] for i in order)
        out["key_types"]["content"] = [types[i] for i in order]
    return out


def _canonical_bytes(path: Path) -> tuple[int, bytes] | None:
    try:
        total = count_skops(path).total
        canonical_skops(path, path.with_suffix(".c.skops"), code={})
    except ArtifactError:
        return None
    with zipfile.ZipFile(path.with_suffix(".c.skops")) as zf:
        return total, b"".join(zf.read(n) for n in sorted(zf.namelist()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), nulls=st.booleans(),
       kinds=st.frozensets(st.sampled_from(["spell", "alias", "ids", "format", "order"]), min_size=1))
def test_canonical_copy_is_a_function_of_counted_values(tmp_path_factory, rnd, nulls, kinds):
    members = NULL_MEMBERS if nulls else MEMBERS
    honest = _canonical_bytes(_write(_tmp(tmp_path_factory), members))
    assert honest is not None
    schema = _uncounted_edit(json.loads(members["schema.json"]), rnd, kinds)
    edited = _canonical_bytes(_write(_tmp(tmp_path_factory), {**members, "schema.json": json.dumps(schema).encode()}))
    assert edited is None or edited == honest  # refused, or the very same count and bytes

"""Packing attacks on the skops budget: a counted parameter must carry at most 32 bits.

Each test hides trained-looking data in an encoding that once carried more than a counted
number's worth (fp16 weights packed into float64 bits or NaN payloads, long doubles, 64-bit
integers, long Unicode strings, names, structured-array padding, boolean bytes) and checks it is
either refused with a clear message or counted at its information, and that the canonical copy
the predictor receives (runner/budget/canonical.py) holds nothing beyond what was counted. The rule is
README's "What counts as a parameter"; its costs live in runner/budget/bits.py.
"""

from __future__ import annotations

import gc
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import StandardScaler

from pitfalls.budget.artifacts import ArtifactError, count_params
from pitfalls.budget.canonical import canonicalize

MAX_MB = 16
CANONICAL_NAN_BITS = 0x7FF8000000000000


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _scaler_with(tmp_path: Path, name: str, **attrs) -> Path:
    est = StandardScaler().fit(_rng().normal(size=(40, 3)))
    for key, value in attrs.items():
        setattr(est, key, value)
    path = tmp_path / name
    sio.dump(est, path)
    return path


def _cost(path: Path, attr: str = "memo_") -> int:
    """Counted parameters under ``attr`` (its breakdown entries, name aside)."""
    count = count_params(path, max_mb=MAX_MB)
    return sum(n for key, n in count.breakdown.items() if key == attr or key.startswith((f"{attr}.", f"{attr}[")))


def _canonical(path: Path) -> Path:
    dst = path.with_name("canonical-" + path.name)
    canonicalize(path, dst, code_files=[])
    return dst


def _canonical_attr(path: Path, attr: str = "memo_") -> object:
    """The value of ``attr`` as the predictor gets it: an array read raw from the canonical copy,
    or the JSON text of a scalar."""
    with zipfile.ZipFile(_canonical(path)) as zf:
        node = json.loads(zf.read("schema.json"))["content"]["content"][attr]
        if node.get("type") == "numpy":
            return _npy_bytes_as_array(zf.read(node["file"]))
        return node["content"]


def _npy_bytes_as_array(data: bytes) -> np.ndarray:
    """The array over the file's own bytes (np.load would copy it into fresh, uninitialised
    memory, and a structured array's padding would then show the test's heap, not the file)."""
    raw = io.BytesIO(data)
    version = np.lib.format.read_magic(raw)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(raw)
    assert not fortran
    return np.frombuffer(data, dtype=dtype, offset=raw.tell()).reshape(shape)


def _refused(path: Path, *words: str) -> str:
    with pytest.raises(ArtifactError) as info:
        count_params(path, max_mb=MAX_MB)
    message = str(info.value)
    assert "must" in message and all(w in message for w in words), message
    with pytest.raises(ArtifactError):
        _canonical(path)  # the re-encoder refuses it too, on its own
    return message


# -- floats --------------------------------------------------------------------------------------

def test_fp16_packed_into_float64_bits_keeps_at_most_32_bits_each(tmp_path):
    weights = _rng().normal(size=4000).astype(np.float16)  # four fp16 weights per float64
    packed = weights.view(np.float64).copy()
    packed[~np.isfinite(packed)] = 0.0  # a packer avoids NaN patterns: the ordinary-bits case
    path = _scaler_with(tmp_path, "fp16.skops", memo_=packed)
    assert _cost(path) == packed.size  # one per float64 element...
    got = _canonical_attr(path)
    assert got.dtype == np.float64 and got.shape == packed.shape
    # ...and each element as the predictor gets it is a float32 value: 29 mantissa bits are zero
    assert np.all(got.astype(np.float32).astype(np.float64) == got)
    bits = got.view(np.uint64)
    assert np.all(bits & np.uint64((1 << 29) - 1) == 0)
    recovered = got.view(np.float16).reshape(-1, 4)
    assert not np.array_equal(recovered[:, :2], weights.reshape(-1, 4)[:, :2])  # the low half is gone


@pytest.mark.parametrize("kind", ["quiet", "signalling", "negative", "float32", "float16", "complex"])
def test_nan_payloads_become_one_canonical_nan(tmp_path, kind):
    payload = _rng().integers(1, 2**50, size=500, dtype=np.uint64)
    if kind in ("quiet", "signalling", "negative"):
        head = {"quiet": 0x7FF8 << 48, "signalling": 0x7FF0 << 48, "negative": 0xFFF8 << 48}[kind]
        value = (payload & np.uint64((1 << 50) - 1) | np.uint64(head)).view(np.float64)
        assert np.isnan(value).all()
    elif kind == "float32":
        value = ((payload & np.uint64((1 << 22) - 1)).astype(np.uint32) | np.uint32(0x7F800001)).view(np.float32)
    elif kind == "float16":
        value = ((payload & np.uint64(0x1FF)).astype(np.uint16) | np.uint16(0x7C01)).view(np.float16)
    else:
        nans = (payload | np.uint64(0x7FF8 << 48)).view(np.float64)
        value = nans + 0j
        value.imag = nans[::-1]
    assert np.isnan(value).all()
    path = _scaler_with(tmp_path, f"nan-{kind}.skops", memo_=value)
    got = _canonical_attr(path)
    assert got.dtype == value.dtype
    parts = [got.real, got.imag] if got.dtype.kind == "c" else [got]
    canonical = np.array([np.nan], dtype=got.real.dtype).view(f"u{got.real.dtype.itemsize}")[0]
    for part in parts:
        raw = np.ascontiguousarray(part).view(f"u{part.dtype.itemsize}")
        assert np.unique(raw).tolist() == [canonical], kind


def test_float16_costs_half(tmp_path):
    path = _scaler_with(tmp_path, "half.skops", memo_=_rng().normal(size=1001).astype(np.float16))
    assert _cost(path) == 501


@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble])
def test_long_double_is_refused(tmp_path, dtype):
    if np.dtype(dtype).itemsize <= (16 if np.dtype(dtype).kind == "c" else 8):
        pytest.skip("long double is double on this platform")
    _refused(_scaler_with(tmp_path, "long.skops", memo_=np.ones(10, dtype=dtype)), "extended precision")


def test_json_float_scalars_reach_the_predictor_as_float32_values(tmp_path):
    x = 0.12345678901234567
    path = _scaler_with(tmp_path, "json-float.skops", memo_=x, many_=[x, -x, float("nan")])
    assert _cost(path) == 1
    assert float(_canonical_attr(path)) == float(np.float32(x)) != x


# -- integers, booleans, strings, names ------------------------------------------------------

def test_int64_payloads_cost_their_bits(tmp_path):
    payload = _rng().integers(-2**63, 2**63 - 1, size=1000, dtype=np.int64)
    path = _scaler_with(tmp_path, "int64.skops", memo_=payload)
    assert _cost(path) >= 2 * payload.size  # 64 bits each: two counted numbers, not one
    small = _scaler_with(tmp_path, "small.skops", memo_=_rng().integers(0, 16, size=1000))
    assert _cost(small) == -(-(1 + 1000 * 4) // 32)  # 4 bits each, honest labels are cheap


def test_a_single_large_integer_is_not_free_by_range(tmp_path):
    """A one-element array has range 0: its base value must still be paid for."""
    path = _scaler_with(tmp_path, "one.skops", memo_=np.array([2**62 + 12345], dtype=np.int64))
    assert _cost(path) == 2


@pytest.mark.parametrize("value,cost", [(2**31 - 1, 1), (2**32 - 1, 1), (-(2**32 - 1), 2), (2**64, 3),
                                        (10**100, 11)])
def test_scalar_integer_cost(tmp_path, value, cost):
    assert _cost(_scaler_with(tmp_path, "int.skops", memo_=value)) == cost


def test_boolean_bytes_are_made_zero_or_one(tmp_path):
    raw = _rng().integers(0, 256, size=4096, dtype=np.uint8)
    value = np.frombuffer(raw.tobytes(), dtype=np.bool_)
    path = _scaler_with(tmp_path, "bool.skops", memo_=value)
    assert _cost(path) == 4096 // 32  # one bit each...
    got = _canonical_attr(path)
    assert set(np.unique(got.view(np.uint8)).tolist()) <= {0, 1}  # ...and one bit is all that reaches
    assert np.array_equal(got, raw != 0)


def test_long_unicode_strings_cost_their_utf8_bytes(tmp_path):
    weights = _rng().integers(0, 2**20, size=2000)
    text = "".join(chr(0x10000 + int(w)) for w in weights)  # 20 bits in every 4-byte character
    path = _scaler_with(tmp_path, "unicode.skops", memo_=text)
    assert _cost(path) == len(text.encode()) // 4 == 2000
    labels = np.array([text[:100], "x"], dtype=object)  # an object array of strings: the same rule
    assert _cost(_scaler_with(tmp_path, "objects.skops", memo_=labels)) == 100 + 1 + 1  # and its shape


def test_names_must_be_ascii_identifiers_and_cost_their_length(tmp_path):
    hidden = "".join(chr(0x4E00 + int(w)) for w in _rng().integers(0, 20000, size=200))
    _refused(_scaler_with(tmp_path, "cjk.skops", **{f"w{hidden}": None}), "identifiers")
    _refused(_scaler_with(tmp_path, "space.skops", **{"a b": None}), "identifiers")
    base = count_params(_scaler_with(tmp_path, "base.skops"), max_mb=MAX_MB)
    long_name = "w_" + "".join(f"{v:08d}" for v in _rng().integers(0, 10**8, size=50))  # 402 characters
    count = count_params(_scaler_with(tmp_path, "long.skops", **{long_name: None}), max_mb=MAX_MB)
    assert count.breakdown["(attribute names)"] - base.breakdown["(attribute names)"] == -(-402 // 5)


def test_structured_field_names_are_names(tmp_path):
    value = np.zeros(3, dtype=[("\u00e9t\u00e9", "f4")])
    _refused(_scaler_with(tmp_path, "field.skops", memo_=value), "identifiers")
    titled = np.zeros(3, dtype={"names": ["a"], "formats": ["f4"], "titles": ["x" * 400]})
    _refused(_scaler_with(tmp_path, "title.skops", memo_=titled), "titles")


# -- structured arrays, padding and runner memory ------------------------------------------------

def test_padded_structured_dtype_with_free_gaps_is_refused(tmp_path):
    gappy = np.dtype({"names": ["a", "b"], "formats": ["u1", "<f4"], "offsets": [0, 64], "itemsize": 128})
    value = np.zeros(100, dtype=gappy)
    raw = value.view(np.uint8).reshape(100, 128)
    raw[:, 1:64] = _rng().integers(0, 256, size=(100, 63))  # data in the gap
    _refused(_scaler_with(tmp_path, "gappy.skops", memo_=value), "packed or C-aligned")


def _plant_marker(marker: bytes, n: int) -> None:
    """Fill and free heap blocks of the runner's own process with ``marker`` (what np.empty-built
    arrays would hand back)."""
    blocks = [bytearray(marker * (n // len(marker))) for _ in range(64)]
    del blocks
    gc.collect()


def test_canonical_copy_holds_no_runner_memory(tmp_path):
    """A C-aligned record (as scikit-learn's tree nodes) has padding; the canonical copy writes it
    as zeros, never as bytes of the runner's heap, and never the candidate's padding bytes."""
    aligned = np.dtype([("flag", "u1"), ("w", "<f8")], align=True)
    assert aligned.itemsize == 16
    value = np.zeros(8192, dtype=aligned)
    value["w"] = _rng().normal(size=value.size)
    value.view(np.uint8).reshape(-1, 16)[:, 1:8] = 0xAB  # the candidate's own padding bytes
    path = _scaler_with(tmp_path, "aligned.skops", memo_=value)
    assert _cost(path) == -(-(1 + value.size) // 32) + value.size + 2  # flag 1 bit each, w 32; 2 names
    marker = b"RUNNER-HEAP-MARKER-7f3a"
    for _ in range(3):
        _plant_marker(marker, value.nbytes)
        dst = _canonical(path)
        with zipfile.ZipFile(dst) as zf:
            data = b"".join(zf.read(n) for n in zf.namelist())
        assert marker not in data and b"\xab" * 7 not in data
    got = _canonical_attr(path)
    assert got.dtype == aligned
    assert not got.view(np.uint8).reshape(-1, 16)[:, 1:8].any()  # zero padding
    assert np.array_equal(got["w"], value["w"].astype(np.float32).astype(np.float64))


def test_byte_order_and_memory_order_are_canonical(tmp_path):
    value = np.asfortranarray(_rng().normal(size=(30, 7)).astype(">f8"))
    got = _canonical_attr(_scaler_with(tmp_path, "order.skops", memo_=value))
    assert got.dtype == np.dtype("<f8") and got.flags.c_contiguous
    assert np.array_equal(got, value.astype(np.float32).astype("<f8"))


def test_empty_arrays_pay_for_their_shape(tmp_path):
    shape = (0,) + tuple(int(v) for v in _rng().integers(2**19, 2**20, size=3))
    path = _scaler_with(tmp_path, "empty.skops", memo_=np.zeros(shape))
    assert _cost(path) * 32 >= 3 * 19


def test_trailing_bytes_after_npy_data_are_refused(tmp_path):
    path = _scaler_with(tmp_path, "t.skops", memo_=np.ones(4))
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    node = json.loads(members["schema.json"])["content"]["content"]["memo_"]
    members[node["file"]] += struct.pack("<Q", 2**63) * 100
    out = tmp_path / "trailing.skops"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    _refused(out, "exactly")


# Class names: skops loads a class by getattr(module, name), but numpy reaches the same class by
# endless attribute paths (numpy.ma.core.np.ma.extras.np...float64): one path per bit string.
def _honest_logreg(tmp_path: Path) -> tuple[dict, dict[str, bytes]]:
    from sklearn.linear_model import LogisticRegression

    X = _rng().normal(size=(50, 3))
    sio.dump(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), tmp_path / "honest.skops")
    with zipfile.ZipFile(tmp_path / "honest.skops") as zf:
        return json.loads(zf.read("schema.json")), {n: zf.read(n) for n in zf.namelist() if n != "schema.json"}


def _forge(tmp_path: Path, name: str, schema: dict, members: dict[str, bytes]) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
        for n, b in members.items():
            zf.writestr(n, b)
    return path


@pytest.mark.parametrize("node", ["setting_json", "estimator", "key_type"])
def test_bits_in_a_class_path_are_refused(tmp_path, node):
    """The review's attack: 1,600 bits as a dotted path to numpy.float64 on a free setting (then on
    the estimator and on a key type) were free and reached the predictor; now refused."""
    schema, members = _honest_logreg(tmp_path)
    bits = _rng().integers(0, 2, 1600)
    path = "".join("ma.core.np." if b == 0 else "ma.extras.np." for b in bits) + "float64"
    target = {"setting_json": schema["content"]["content"]["C"], "estimator": schema,
              "key_type": schema["content"]["key_types"]["content"][0]}[node]
    target["__module__"], target["__class__"] = "numpy", path
    src = _forge(tmp_path, f"{node}.skops", schema, members)
    with pytest.raises(ArtifactError, match="must name its class as skops.io.dump writes it"):
        canonicalize(src, tmp_path / "c.skops", code_files=[])


def test_a_class_by_another_module_is_refused_and_format_fields_are_the_runners(tmp_path):
    """LogisticRegression named from sklearn.linear_model (where it resolves too) is another
    spelling of the same class: refused. The root's protocol and version are the runner's in the copy."""
    schema, members = _honest_logreg(tmp_path)
    ref = {"__class__": "LogisticRegression", "__module__": "sklearn.linear_model", "__loader__": "TypeNode",
           "__id__": 99}
    schema["content"]["content"]["kind_"] = ref
    schema["content"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": 98})
    with pytest.raises(ArtifactError, match="names it: sklearn.linear_model._logistic.LogisticRegression"):
        canonicalize(_forge(tmp_path, "alias.skops", schema, members), tmp_path / "c.skops", code_files=[])
    ref["__module__"] = "sklearn.linear_model._logistic"
    schema["_skops_version"] = "9.9.9"
    canonicalize(_forge(tmp_path, "ok.skops", schema, members), tmp_path / "c.skops", code_files=[])
    with zipfile.ZipFile(tmp_path / "c.skops") as zf:
        out = json.loads(zf.read("schema.json"))
    import skops

    assert out["_skops_version"] == skops.__version__
    assert out["content"]["content"]["kind_"]["__module__"] == "sklearn.linear_model._logistic"
    assert out["protocol"] == json.loads(zipfile.ZipFile(tmp_path / "honest.skops").read("schema.json"))["protocol"]


def test_null_elements_with_payload_classes_are_refused_or_charged(tmp_path):
    """A list of null JsonNodes was free whatever classes it named: now the class is builtins.str
    or refused, and past FREE_ELEMENTS the nulls count in bulk."""
    from pitfalls.budget.skops_count import FREE_ELEMENTS, NULLS_PER_PARAM

    est = StandardScaler().fit(_rng().normal(size=(20, 3)))
    base = count_params(sio_dump(est, tmp_path / "base.skops"), max_mb=MAX_MB).total
    est.memo_ = [None] * 3000
    src = sio_dump(est, tmp_path / "nulls.skops")
    charged = count_params(src, max_mb=MAX_MB).total - base
    assert charged >= (3000 - FREE_ELEMENTS) // NULLS_PER_PARAM
    with zipfile.ZipFile(src) as zf:
        schema = json.loads(zf.read("schema.json"))
        members = {n: zf.read(n) for n in zf.namelist() if n != "schema.json"}
    for node, b in zip(schema["content"]["content"]["memo_"]["content"], _rng().integers(0, 2, 3000)):
        node["__class__"] = ["str", "int"][b]
    with pytest.raises(ArtifactError, match="builtins.str, as skops writes for every JsonNode"):
        count_params(_forge(tmp_path, "named.skops", schema, members), max_mb=MAX_MB)


def sio_dump(est: object, path: Path) -> Path:
    sio.dump(est, path)
    return path

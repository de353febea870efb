"""Channels the attack catalogue (tests/test_attacks.py) found in the skops counter and the canonical
copy (pitfalls.budget.skops_count, skops_classes, canonical), each closed on a hand-built file.

Numbers hidden where the counter does not look (class references, unread keys, JSON node text,
zero-cost elements in bulk) and artifacts that would make the runner import a script."""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from artifact_kit import (
    MAX_MB,
    _attr,
    _by_attribute,
    _count,
    _expect_artifact_error,
    _name,
    _nones,
    _rng,
    _scaler_with,
    _skops,
    _with_schema,
    _xy,
)
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.tree._tree import Tree

from pitfalls.budget.artifacts import ArtifactError, count_params
from pitfalls.budget.canonical import canonicalize

# ============================================================================================
# (7) channels the attack catalogue found (tests/test_attacks.py), closed on hand-built files
# ============================================================================================

def _skops_schema(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))


def _add_attribute(schema: dict, name: str, node: dict) -> None:
    """Add an attribute to the root estimator, with its key type, as skops.io.dump would."""
    schema["content"]["content"][name] = node
    schema["content"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": 7})


def test_artifact_cannot_make_the_runner_import_a_script(tmp_path, monkeypatch):
    """A well-formed class reference into numpy.f2py.__main__ is counted, then refused by the
    re-encoding without importing it (importing it runs f2py's main(), which exits)."""
    import sys

    monkeypatch.setattr(sys, "argv", ["pitfalls", "--no-such-f2py-option"])
    ref = {"__class__": "main", "__module__": "numpy.f2py.__main__", "__loader__": "TypeNode", "__id__": 99}
    src = _with_schema(tmp_path, "script.skops", lambda s: _add_attribute(s, "helper_", ref))
    assert count_params(src, max_mb=MAX_MB).total > 0  # well formed: the counter does not look it up
    with pytest.raises(ArtifactError, match="script, test or build module the runner does not import"):
        canonicalize(src, tmp_path / "script.c.skops", code_files=[])
    assert "numpy.f2py.__main__" not in sys.modules


@pytest.mark.parametrize("name", ["numpy.f2py.__main__", "numpy.__init__", "sklearn.conftest",
                                  "sklearn.tests.test_base", "sklearn.utils._testing", "numpy.distutils",
                                  "numpy._pyinstaller.hook", "numpy.random._examples.numba.extending",
                                  "scipy.special._precompute.expn_asy", "numpy.f2py.crackfortran"])
def test_library_module_refuses_scripts_tests_and_build_modules(name):
    import sys

    from pitfalls.budget.artifact_defaults import constructor_defaults, library_module

    was_imported = name in sys.modules
    with pytest.raises(ArtifactError, match="Classes in the artifact must come from a library's own modules"):
        library_module(name)
    if name.startswith("sklearn."):  # the counter looks up constructor defaults through it too
        with pytest.raises(ArtifactError):
            constructor_defaults(name, "Estimator")
    assert (name in sys.modules) == was_imported


@pytest.mark.parametrize("module,attribute,found", [
    ("sklearn.linear_model._logistic", "LogisticRegression", LogisticRegression),
    ("sklearn.tree._tree", "Tree", Tree),
    ("numpy", "float64", np.float64),
    ("builtins", "int", int),
    ("sklearn.linear_model", "NoSuchClass", None),
    ("sklearn.no_such_module", "X", None),
    ("os", "system", None),  # not a library root
    ("pitfalls.service.api", "submit", None),
    ("numpy..linalg", "norm", None),
    ("numpy", "float64.__class__.mro", None),
])
def test_library_attribute_resolves_library_classes_only(module, attribute, found):
    from pitfalls.budget.artifact_defaults import library_attribute

    assert library_attribute(module, attribute) is found


def test_an_integer_counts_one_per_32_bits(tmp_path):
    """The 20,000 float32 of the attack, as 50 Python ints of 1,600 bytes: 20,000 parameters."""
    hidden = _rng().normal(size=20_000).astype(np.float32).tobytes()
    ints = [int.from_bytes(hidden[i:i + 1600], "little") for i in range(0, len(hidden), 1600)]
    count = count_params(_scaler_with(tmp_path, "ints.skops", digits_=ints), max_mb=MAX_MB)
    per_int = {k: v for k, v in count.breakdown.items() if k.startswith("digits_")}
    assert per_int == {f"digits_[{i}]": math.ceil(n.bit_length() / 32) for i, n in enumerate(ints)}
    assert sum(per_int.values()) >= len(hidden) * 8 // 32 == 20_000


@pytest.mark.parametrize("value,cost", [(0, 1), (-1, 1), (2**31, 1), (2**32 - 1, 1), (-(2**31 - 1), 1),
                                        (-(2**32 - 1), 2), (2**40 + 17, 2), (2**64 - 1, 2), (2**64, 3),
                                        (-(2**64), 3), (2**128 - 1, 4), (2**128, 5),
                                        pytest.param(10**1000, 104, id="10**1000")])  # 3,322 bits
def test_integer_cost_by_size(tmp_path, value, cost):
    count = count_params(_scaler_with(tmp_path, "int.skops", memo_=value), max_mb=MAX_MB)
    assert count.breakdown["memo_"] == cost


@pytest.mark.parametrize("where,key", [
    ("root", "type"), ("json_node", "type"), ("json_node", "is_json"), ("json_node", "file"),
    ("array_node", "type"), ("json_array", "file"), ("root", "__id__"), ("root", "__class__"),
])
def test_skops_structural_keys_must_hold_what_skops_writes(tmp_path, where, key):
    """Keys the counter skips (type, is_json, file, ids, class names) cannot carry text: 240 KB
    under the root's `type` cost nothing before."""
    text = ",".join(f"{v:.9g}" for v in _rng().normal(size=2000).astype(np.float32))

    def edit(schema):
        node = {"root": schema, "json_node": _attr(schema, "n_features_in_"), "array_node": _attr(schema, "mean_"),
                "json_array": _attr(schema, "names_")}[where]
        node[key] = text if key != "__class__" else [text]

    est = StandardScaler().fit(_xy(d=3)[0])
    est.names_ = np.array(["a", "b"], dtype=object)  # an object array: an NdArrayNode of type json
    path = _with_schema(tmp_path, f"{where}-{key}.skops", edit, est)
    words = "must name its class as skops.io.dump writes it" if key == "__class__" else \
        f"must hold in `{key}` what skops.io.dump writes there"
    _expect_artifact_error(path, words)


def test_skops_content_beside_a_numpy_file_is_counted(tmp_path):
    hidden = [round(float(v), 6) for v in _rng().random(3000)]

    def edit(schema):
        _attr(schema, "mean_")["content"] = hidden

    count = count_params(_with_schema(tmp_path, "beside.skops", edit), max_mb=MAX_MB)
    assert _by_attribute(count.breakdown)["mean_"] == 3 + len(hidden)


def test_skops_protocol_must_be_a_small_integer(tmp_path):
    def edit(schema):
        schema["protocol"] = int.from_bytes(_rng().random(100).tobytes(), "little")

    _expect_artifact_error(_with_schema(tmp_path, "protocol.skops", edit), "integer `protocol`")


@pytest.mark.parametrize("text", ["0.5" + "7" * 40_000, " 0.5", "0.50", "5e-1", "0.5 ", '"a"'])
def test_skops_json_node_text_must_be_its_value_as_dumped(tmp_path, text):
    """The counter charges a JsonNode's parsed value; any other text for it (48,000 digits of a
    float literal, spacing, another spelling) would reach the predictor uncounted: refused."""
    est = StandardScaler().fit(_xy(d=3)[0])
    est.note_, est.tag_ = 0.5, "a"
    name = "tag_" if text == '"a"' else "note_"

    def edit(schema):
        node = _attr(schema, name)
        node["content"] = text.replace('"a"', '"\\u0061"')

    _expect_artifact_error(_with_schema(tmp_path, "literal.skops", edit, est), "must hold its value as json.dumps")


def test_canonical_skops_re_encodes_json_node_text(tmp_path):
    """Defence in depth: the re-encoder counts first, so it refuses a JsonNode whose text is not
    json.dumps of its value on its own; an honest one reaches the predictor re-encoded from its
    value (a float as its float32 value)."""
    digits = "7" * 40_000
    est = StandardScaler().fit(_xy(d=3)[0])
    est.note_ = 0.5

    def edit(schema):
        _attr(schema, "note_")["content"] = "0.5" + digits

    src, dst = _with_schema(tmp_path, "literal.skops", edit, est), tmp_path / "literal.c.skops"
    with pytest.raises(ArtifactError, match="json.dumps"):
        canonicalize(src, dst, code_files=[])
    est.note_ = 0.1
    honest = tmp_path / "honest.skops"
    sio.dump(est, honest)
    canonicalize(honest, dst, code_files=[])
    assert _attr(_skops_schema(dst), "note_")["content"] == json.dumps(float(np.float32(0.1)))


PALETTE = [int, float, str, bool, complex, bytes, bytearray, list, tuple, dict, set, frozenset, range, slice,
           np.float64, np.int64]


def test_skops_class_references_in_bulk_are_counted(tmp_path):
    """20,000 references to 16 built-in types carry 2,500 float32; each counts one (a class
    choice is never among the free zero-cost elements: only plain containers are)."""
    hidden = np.frombuffer(_rng().normal(size=2500).astype(np.float32).tobytes(), np.uint8)
    kinds = [PALETTE[b >> 4] for b in hidden] + [PALETTE[b & 15] for b in hidden]
    count = count_params(_scaler_with(tmp_path, "palette.skops", kinds_=kinds), max_mb=MAX_MB)
    assert sum(v for k, v in count.breakdown.items() if k.startswith("kinds_")) == len(kinds)
    assert count.total >= 2500  # at least the numbers they carry


@pytest.mark.parametrize("kind", ["empty_containers", "nested_lists", "functions", "object_array"])
def test_skops_zero_cost_values_in_bulk_are_counted(tmp_path, kind):
    from pitfalls.budget.skops_count import FREE_ELEMENTS

    bits = _rng().integers(0, 4, 4000)
    shapes = {"empty_containers": [[], (), {}, set()], "nested_lists": [[], [[]], [[[]]], [[], []]],
              "functions": [np.sin, np.cos, np.tan, np.exp]}.get(kind, [[], (), {}, set()])
    value = [shapes[b] for b in bits]
    if kind == "object_array":
        value = np.empty(len(value), dtype=object)
        value[:] = [shapes[b] for b in bits]
    count = count_params(_scaler_with(tmp_path, f"{kind}.skops", memo_=value), max_mb=MAX_MB)
    assert sum(v for k, v in count.breakdown.items() if k.startswith("memo_")) >= len(bits) - FREE_ELEMENTS


def test_none_elements_count_in_bulk_past_the_free_ones(tmp_path):
    """A None element's position carries a bit: past FREE_ELEMENTS, one per NULLS_PER_PARAM."""
    from pitfalls.budget.skops_count import FREE_ELEMENTS, NULLS_PER_PARAM

    X = _xy(d=3)[0]
    base = _count(StandardScaler().fit(X), tmp_path)
    few = count_params(_scaler_with(tmp_path, "few.skops", memo_=[None] * FREE_ELEMENTS), max_mb=MAX_MB)
    assert few.total == base.total + _name("memo_")
    count = count_params(_scaler_with(tmp_path, "nones.skops", memo_=[None] * 500), max_mb=MAX_MB)
    assert count.total == base.total + _name("memo_") + math.ceil((500 - FREE_ELEMENTS) / NULLS_PER_PARAM)


def test_zero_cost_elements_of_honest_models_stay_free(tmp_path, monkeypatch):
    """What sklearn writes (a ColumnTransformer's empty remainder, a column selector, a KD-tree's
    None, HistGradientBoosting's dtype lists) counts as before: within FREE_ELEMENTS."""
    import pandas as pd
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from pitfalls.budget import skops_count

    X, y = _xy(d=4)
    df = pd.DataFrame(X, columns=list("abcd")).assign(cat=np.where(X[:, 1] > 0, "u", "v"))
    columns = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["cat"]),
                                      (StandardScaler(), make_column_selector(dtype_include=np.number)))
    models = {"columns": (make_pipeline(columns, LogisticRegression()), df),
              "hgb": (HistGradientBoostingClassifier(max_iter=3, categorical_features=["cat"]),
                      df.assign(cat=df["cat"].astype("category"))),
              "knn": (KNeighborsClassifier(), X), "forest": (RandomForestClassifier(n_estimators=3), X)}
    paths = {name: _skops(model.fit(data, y), tmp_path / f"{name}.skops") for name, (model, data) in models.items()}
    counted = {name: count_params(p, max_mb=MAX_MB).total for name, p in paths.items()}
    monkeypatch.setattr(skops_count, "FREE_ELEMENTS", 10**9)  # the rule without the element floor
    assert counted == {name: count_params(p, max_mb=MAX_MB).total for name, p in paths.items()}
    monkeypatch.setattr(skops_count, "FREE_ELEMENTS", 0)
    assert count_params(paths["columns"], max_mb=MAX_MB).total > counted["columns"]  # it did use some


def test_canonical_skops_gives_every_node_its_own_id(tmp_path):
    """skops loads a node whose id it has seen as that earlier node, so shared ids would let a
    free node stand for any other: the predictor's copy gives every node a new id."""
    def edit(schema):
        target = _attr(schema, "mean_")["__id__"]
        for node in _attr(schema, "memo_")["content"]:
            node["__id__"] = target  # each None now "refers" to mean_

    src, dst = _with_schema(tmp_path, "refs.skops", edit, _nones(50)), tmp_path / "refs.c.skops"
    canonicalize(src, dst, code_files=[])
    ids = [int(i) for i in re.findall(r'"__id__": (-?\d+)', json.dumps(_skops_schema(dst)))]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    again = sio.load(dst, trusted=sio.get_untrusted_types(file=dst))
    assert again.memo_ == [None] * 50


def test_canonical_skops_keeps_dicts_with_mixed_key_types(tmp_path):
    est = StandardScaler().fit(_xy(d=3)[0])
    est.memo_ = {"b": 1, 2: 3, "a": 4, 1: 5}
    src, dst = _skops(est, tmp_path / "mixed.skops"), tmp_path / "mixed.c.skops"
    canonicalize(src, dst, code_files=[])
    again = sio.load(dst, trusted=sio.get_untrusted_types(file=dst))
    assert again.memo_ == est.memo_
    assert count_params(dst, max_mb=MAX_MB).total == count_params(src, max_mb=MAX_MB).total

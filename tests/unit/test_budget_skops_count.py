"""skops counting (pitfalls.budget.skops_count, skops_arrays, skops_classes) against hand counts from
the documented rule, and malformed or smuggling skops files.

A counted parameter is worth 32 bits (README, "What counts as a parameter"). An array costs the bits of
its values rounded up per leaf field: a float32 or float64 element 32 (the predictor gets float64
rounded to float32), a float16 16, a complex element twice, a boolean one bit, an integer field
``bits(min) + n * bit_length(max - min)`` (at least one bit each); long doubles and non-numeric arrays
are refused. A scalar float or bool counts one, an integer one per 32 bits (sign included), a string or
dict key one per 4 bytes of UTF-8 (at least one); an attribute name (an identifier) one per 5
characters, summed under "(attribute names)"; free are a scikit-learn estimator's constructor settings
left at their default and the names of its constructor parameters. Odd zip layouts are refused. The
finer print (runner/budget/skops_count.py): a list or tuple element counts at least one (None and the
first 64 of a file aside), a structured array's field names count as names (scikit-learn's own aside),
a Tree's state keys are attribute names, and the schema keys skops writes about a node must hold what it
writes there. Estimators are fitted in-process on a few hundred rows; nothing trains a scaffold.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import pickle
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sklearn
import torch
from artifact_kit import (
    MAX_MB,
    NAMES,
    _attr,
    _by_attribute,
    _count,
    _counted_or_rejected,
    _expect_artifact_error,
    _name,
    _nones,
    _rng,
    _scaler_with,
    _skops,
    _with_schema,
    _xy,
    _zip,
)
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from torch import nn

from pitfalls.budget.artifacts import ArtifactError, count_params
from pitfalls.budget.canonical import canonicalize

# ============================================================================================
# (4) scikit-learn, saved with skops.io.dump: hand counts from the documented rule
# ============================================================================================
#
# The expectations below are derived from the fitted Python objects (their ``__getstate__``,
# which is what skops writes, and ``Tree.__reduce__``), never from the file or from runner code:
# the simple estimators by an explicit list of what each attribute stores, the composite ones
# (trees, forests, pipelines) additionally by ``_Rule``, a short independent implementation of
# the documented rule. Attribute-name costs appear under the single breakdown key NAMES.
VERSION = sklearn.__version__  # every estimator stores it as `_sklearn_version`


def _text(value: str) -> int:
    """The rule for a string value: one per 4 bytes of UTF-8, at least one."""
    return max(1, -(-len(value.encode()) // 4))


def _strings(values) -> int:
    return sum(_text(v) for v in values)


def _names(values) -> int:
    return sum(_name(v) for v in values)


def _int(value: int) -> int:
    """A scalar integer: one per 32 bits of magnitude and sign."""
    return max(1, -(-(abs(value).bit_length() + (value < 0)) // 32))


def _with_names(stored: dict[str, int], extra: tuple[str, ...] = ()) -> dict[str, int]:
    """``stored`` (attribute -> numbers, none of them a constructor parameter) plus the cost of
    those attributes' names (and ``extra`` names, e.g. a Tree's state keys) under NAMES."""
    return {**stored, NAMES: _names(stored) + _names(extra)}


def _settings(est) -> dict[str, object]:
    """``{constructor parameter: default}`` from the estimator class's signature."""
    params = inspect.signature(type(est).__init__).parameters.values()
    return {p.name: p.default for p in params
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _field_bits(values: np.ndarray) -> int:
    """Bits of one plain field (all its elements, sub-array shape included)."""
    flat = values.reshape(-1)
    if values.dtype.kind == "b":
        return flat.size
    if values.dtype.kind in "iu":
        lo, hi = int(flat.min()), int(flat.max())
        return max(1, abs(lo).bit_length() + (lo < 0)) + flat.size * max(1, (hi - lo).bit_length())
    width = {"f2": 16, "f4": 32, "f8": 32, "c8": 64, "c16": 64}[values.dtype.str[1:]]
    return flat.size * width


def _array_numbers(arr: np.ndarray) -> int:
    """An array: the bits of each plain field, rounded up to 32 per field (structured arrays field
    by field, nested ones recursively). Field names are charged separately (as names)."""
    if arr.dtype.names:
        return sum(_array_numbers(arr[f]) for f in arr.dtype.names)
    return -(-_field_bits(arr) // 32)


def _field_names(dtype: np.dtype) -> int:
    if dtype.subdtype is not None:
        return _field_names(dtype.subdtype[0])
    return sum(_name(f) + _field_names(dtype.fields[f][0]) for f in dtype.names or ())


class _Rule:
    """The documented rule, applied to fitted Python objects: an array by :func:`_array_numbers`
    (scikit-learn's record field names free), a float or bool one, an integer by :func:`_int`, a
    string or dict key by :func:`_text`, nothing for None; for an estimator, everything in its
    state except constructor parameters left at their default, plus (under NAMES) the names of
    its non-parameter attributes and of a Tree's state keys."""

    def __init__(self) -> None:
        self.names = 0

    def value(self, v) -> int:
        if v is None:
            return 0
        if isinstance(v, (np.ndarray, np.generic)):
            return _array_numbers(np.asarray(v))
        if isinstance(v, (bool, float)):
            return 1
        if isinstance(v, int):
            return _int(v)
        if isinstance(v, str):
            return _text(v)
        if isinstance(v, (list, tuple)):
            return sum(self.value(x) for x in v)
        if isinstance(v, dict):
            return sum(self.value(k) + self.value(x) for k, x in v.items())
        if isinstance(v, Tree):  # skops stores the constructor tuple and the state dict
            _, args, state = v.__reduce__()
            self.names += _names(state)
            return self.value(args) + sum(self.value(x) for x in state.values())
        if isinstance(v, BaseEstimator):
            return sum(self.estimator(v).values())
        raise TypeError(f"no rule for {type(v).__name__}")

    def estimator(self, est) -> dict[str, int]:
        settings, out = _settings(est), {}
        for attr, v in est.__getstate__().items():
            if attr in settings:
                default = settings[attr]
                if default is not inspect.Parameter.empty and type(v) is type(default) and v == default:
                    continue  # a setting left at its default is free (and so is its name)
            else:
                self.names += _name(attr)
            if n := self.value(v):
                out[attr] = n
        return out


def _expected(est) -> tuple[int, dict[str, int]]:
    """(total, numbers per top-level attribute plus NAMES) by :class:`_Rule`."""
    rule = _Rule()
    per_attribute = rule.estimator(est)
    if rule.names:
        per_attribute[NAMES] = rule.names
    return sum(per_attribute.values()), per_attribute


def _scaler_stored(d: int) -> dict[str, int]:
    """A fitted StandardScaler on d features (with_mean, with_std, copy at their defaults)."""
    return {"n_features_in_": 1, "n_samples_seen_": 1, "mean_": d, "var_": d, "scale_": d,
            "_sklearn_version": _text(VERSION)}


@pytest.mark.parametrize("d", [1, 5, 30])
def test_standard_scaler(tmp_path, d):
    X, _ = _xy(d=d)
    scaler = StandardScaler().fit(X)
    count = _count(scaler, tmp_path)
    expected = _with_names(_scaler_stored(d))
    # names, one per 5 characters: n_features_in_ 3, n_samples_seen_ 3, mean_ 1, var_ 1, scale_ 2,
    # _sklearn_version 4
    assert expected[NAMES] == 14
    assert count.breakdown == expected
    assert count.total == 3 * d + 2 + _text(VERSION) + 14
    assert _expected(scaler) == (count.total, count.breakdown)  # the rule, applied generically


def _logreg_stored(d: int, k: int) -> dict[str, int]:
    """A fitted lbfgs LogisticRegression on d features and k classes (``classes_`` 0..k-1: an
    integer array of a few bits per element, one counted number for small k)."""
    rows = 1 if k == 2 else k
    return {"n_features_in_": 1, "classes_": -(-(1 + k * max(1, (k - 1).bit_length())) // 32), "n_iter_": 1, "coef_": rows * d, "intercept_": rows,
            "_sklearn_version": _text(VERSION)}


@pytest.mark.parametrize("d", [2, 30])
def test_logistic_regression_binary(tmp_path, d):
    X, y = _xy(d=d)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    count = _count(clf, tmp_path)
    # max_iter=1000 is not the default (100): one number, its name free; the other settings free
    expected = {**_with_names(_logreg_stored(d, 2)), "max_iter": 1}
    assert expected[NAMES] == 3 + 2 + 2 + 1 + 2 + 4  # n_features_in_ classes_ n_iter_ coef_ intercept_ _sklearn_version
    assert count.breakdown == expected
    assert count.total == d + 4 + _text(VERSION) + 14 + 1
    assert _expected(clf) == (count.total, count.breakdown)


def test_logistic_regression_multiclass(tmp_path):
    X, y = _xy(d=6, k=4)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    count = _count(clf, tmp_path)
    expected = {**_with_names(_logreg_stored(6, 4)), "max_iter": 1}
    assert count.breakdown == expected
    assert (count.breakdown["coef_"], count.breakdown["intercept_"], count.breakdown["classes_"]) == (24, 4, 1)
    assert _expected(clf) == (count.total, count.breakdown)


def _tree_numbers(clf) -> dict[str, int]:
    """What a fitted Tree stores: its constructor tuple (n_features, the n_classes array,
    n_outputs) and its state dict (keys max_depth, node_count, nodes, values: the keys are
    names, under NAMES: see :data:`TREE_STATE`; the two scalars one each, ``nodes`` field by
    field at the bits of its values, ``values`` one per node per output per class)."""
    tree = clf.tree_
    _, args, state = tree.__reduce__()
    assert list(state) == ["max_depth", "node_count", "nodes", "values"], list(state)
    assert state["nodes"].shape == (tree.node_count,)
    parts = {
        "constructor tuple": 1 + _array_numbers(np.asarray(args[1])) + 1,
        "state scalars": 2,
        "nodes": _array_numbers(state["nodes"]),
        "values": tree.node_count * clf.n_outputs_ * int(np.max(tree.n_classes)),
    }
    assert _names(state) == 7 and state["values"].size == parts["values"]  # max_depth 2, node_count 2, ...
    # integer fields (children, feature, counts) need a few bits per node: far below one per field
    assert parts["nodes"] < tree.node_count * len(state["nodes"].dtype.names)
    return parts


TREE_STATE = ("max_depth", "node_count", "nodes", "values")


def _tree_stored(clf, k: int) -> dict[str, int]:
    """A fitted DecisionTreeClassifier's non-parameter attributes (single output, k classes)."""
    return {"n_features_in_": 1, "n_outputs_": 1, "classes_": _array_numbers(clf.classes_), "n_classes_": 1,
            "max_features_": 1,
            "tree_": sum(_tree_numbers(clf).values()), "_sklearn_version": _text(VERSION)}


@pytest.mark.parametrize("k,depth", [(2, 2), (3, 4), (5, None)])
def test_decision_tree(tmp_path, k, depth):
    X, y = _xy(n=200, d=4, k=k)
    clf = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
    count = _count(clf, tmp_path)
    # random_state=0 and max_depth (unless None) differ from their defaults: one number each
    settings = {"random_state": 1} | ({"max_depth": 1} if depth is not None else {})
    expected = {**_with_names(_tree_stored(clf, k), TREE_STATE), **settings}
    assert _by_attribute(count.breakdown) == expected
    assert count.total == sum(expected.values()) == _expected(clf)[0]
    node_records = _array_numbers(clf.tree_.__getstate__()["nodes"])
    assert count.breakdown["classes_"] == 1
    assert count.breakdown["n_classes_"] == 1
    nodes = [v for key, v in count.breakdown.items() if "nodes" in key]
    values = [v for key, v in count.breakdown.items() if "values" in key]
    assert nodes == [node_records], count.breakdown
    assert values == [clf.tree_.node_count * 1 * k], count.breakdown
    assert "criterion" not in count.breakdown and "splitter" not in count.breakdown  # defaults are free


def test_pipeline_sums_its_steps(tmp_path):
    X, y = _xy(d=5)
    pipe = Pipeline([("scaler", StandardScaler()), ("logreg", LogisticRegression())]).fit(X, y)
    count = _count(pipe, tmp_path)
    steps = [_count(step, tmp_path).total for _, step in pipe.steps]
    assert steps == [sum(_with_names(_scaler_stored(5)).values()), sum(_with_names(_logreg_stored(5, 2)).values())]
    # each step as if saved alone, plus the step names (strings inside `steps`, a constructor
    # parameter without a default) and the pipeline's own _sklearn_version (value and name)
    own = _strings(name for name, _ in pipe.steps) + _text(VERSION) + _name("_sklearn_version")
    assert count.total == sum(steps) + own == _expected(pipe)[0]
    assert count.breakdown["steps[0][1].mean_"] == 5 and count.breakdown["steps[1][1].coef_"] == 5
    assert "memory" not in count.breakdown and "verbose" not in count.breakdown


def test_random_forest_sums_its_trees(tmp_path):
    X, y = _xy(n=150, d=4, k=3)
    rf = RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0).fit(X, y)
    count = _count(rf, tmp_path)
    trees = [_count(t, tmp_path).total for t in rf.estimators_]
    assert trees == [_expected(t)[0] for t in rf.estimators_]
    for t in rf.estimators_:  # each tree: its fitted attributes, and the three settings the forest
        settings = {"max_depth": 1, "random_state": 1, "max_features": _text("sqrt")}  # gave it
        assert _expected(t)[0] == sum(_with_names(_tree_stored(t, 3), TREE_STATE).values()) + sum(settings.values())
    shell = copy.copy(rf)
    shell.estimators_ = []
    forest_own = _count(shell, tmp_path).total
    assert forest_own == _expected(shell)[0]
    assert count.total == forest_own + sum(trees)
    assert count.breakdown["n_estimators"] == 1 and count.breakdown["max_depth"] == 1  # not the defaults
    assert _by_attribute(count.breakdown)["estimator_params"] == _strings(rf.estimator_params)
    assert count.breakdown["classes_"] == 1  # the labels 0, 1, 2: a few bits, one number
    more = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0).fit(X, y)
    assert _count(more, tmp_path).total == forest_own + sum(_expected(t)[0] for t in more.estimators_)


def test_forest_of_many_full_trees_is_counted(tmp_path):
    """No flat cap on the schema: 60 unpruned trees (about 1 MiB of schema.json) are counted."""
    X, y = _xy(n=300, d=6, k=3)
    rf = RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y)
    path = _skops(rf, tmp_path / "forest.skops")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("schema.json").file_size > 512 * 1024
    count = count_params(path, max_mb=MAX_MB)
    assert count.total == _expected(rf)[0]
    nodes = sum(_array_numbers(t.tree_.__getstate__()["nodes"]) for t in rf.estimators_)
    assert sum(v for key, v in count.breakdown.items() if key.endswith(".nodes")) == nodes


@pytest.mark.parametrize("container", ["list", "tuple", "dict_of_list", "nested_dict"])
def test_numbers_in_containers_on_an_estimator_are_counted(tmp_path, container):
    X, _ = _xy(d=3)
    base = _count(StandardScaler().fit(X), tmp_path)
    floats = [float(v) for v in _rng(1).random(500)]
    value = {"list": floats, "tuple": tuple(floats), "dict_of_list": {"w": floats},
             "nested_dict": {"layer": {"w": floats}}}[container]
    keys = {"list": 0, "tuple": 0, "dict_of_list": _text("w"), "nested_dict": _text("layer") + _text("w")}[container]
    est = StandardScaler().fit(X)
    est.lookup_ = value
    count = _count(est, tmp_path)
    smuggled = sum(v for key, v in count.breakdown.items() if key.startswith("lookup_"))
    numbers = sum(v for key, v in count.breakdown.items() if key.startswith("lookup_") and key.endswith("]")
                  and key.rsplit("[", 1)[-1][:-1].isdigit())
    assert numbers == 500, count.breakdown
    assert smuggled == 500 + keys, count.breakdown  # the numbers and the container's keys
    assert count.breakdown[NAMES] == base.breakdown[NAMES] + _name("lookup_")
    assert count.total == base.total + smuggled + _name("lookup_") == _expected(est)[0]


@pytest.mark.parametrize("kind", ["text", "float", "int", "bool"])
def test_scalars_stored_directly_on_an_estimator_are_counted(tmp_path, kind):
    X, _ = _xy(d=3)
    base = _count(StandardScaler().fit(X), tmp_path)
    hidden = ",".join(f"{v:.6f}" for v in _rng(2).random(2000))  # 17,999 characters
    value = {"text": hidden, "float": 0.123456789, "int": 2**40 + 17, "bool": True}[kind]
    est = StandardScaler().fit(X)
    est.memo_ = value
    count = _count(est, tmp_path)
    cost = _text(hidden) if kind == "text" else _int(value) if kind == "int" else 1
    assert count.breakdown["memo_"] == cost
    assert count.breakdown[NAMES] == base.breakdown[NAMES] + _name("memo_")
    assert count.total == base.total + cost + _name("memo_") == _expected(est)[0]
    if kind == "text":
        assert cost == 4500  # 17,999 bytes of UTF-8, 4 per number
    if kind == "int":
        assert cost == 2  # 41 bits


def test_attribute_names_are_counted(tmp_path):
    """Names carry numbers too: 400 attributes whose values are None (free) but whose names are
    a float each cost their names, one per 5 characters, under NAMES."""
    X, _ = _xy(d=3)
    base = _count(StandardScaler().fit(X), tmp_path)
    est = StandardScaler().fit(X)
    names = [f"w_{v:.12f}".replace(".", "_") + "_" for v in _rng(3).random(400)]  # 17 characters each
    for name in names:
        setattr(est, name, None)
    long_name = "x" * 800 + "_"
    setattr(est, long_name, None)
    count = _count(est, tmp_path)
    assert count.breakdown[NAMES] == base.breakdown[NAMES] + 400 * 4 + 161
    assert count.total == base.total + 400 * 4 + 161 == _expected(est)[0]
    assert not any(name in count.breakdown for name in names)  # the values (None) cost nothing


def test_settings_count_unless_left_at_their_default(tmp_path):
    X, y = _xy(d=4)
    default = _count(LogisticRegression().fit(X, y), tmp_path)
    assert default.breakdown == _with_names(_logreg_stored(4, 2))  # no setting appears
    # passing a default explicitly changes nothing
    explicit = _count(LogisticRegression(C=1.0, solver="lbfgs", max_iter=100, class_weight=None).fit(X, y), tmp_path)
    assert explicit.breakdown == default.breakdown
    # non-default settings cost their value (a number 1, a string 1 per 4 bytes, a dict its
    # keys and values); their names stay free
    tuned = LogisticRegression(C=0.5, solver="liblinear", class_weight={0: 1.0, 1: 2.5}, tol=1e-3).fit(X, y)
    count = _count(tuned, tmp_path)
    settings = {"C": 1, "solver": _text("liblinear"), "class_weight": 2 + 2, "tol": 1}
    liblinear = _logreg_stored(4, 2)  # liblinear stores the same fitted attributes
    assert _by_attribute(count.breakdown) == {**_with_names(liblinear), **settings}
    assert count.breakdown["class_weight"] == 2  # the keys; the values under class_weight[0], [1]
    assert count.total == default.total + sum(settings.values()) == default.total + 9
    assert count.breakdown[NAMES] == default.breakdown[NAMES]  # the settings' names are free
    assert _expected(tuned) == (count.total, _by_attribute(count.breakdown))
    # a boolean setting: with_mean=False costs one; with_std and copy, left at True, are free
    scaler = StandardScaler(with_mean=False).fit(X)
    scaled = _count(scaler, tmp_path)
    assert scaled.breakdown == {**_with_names(_scaler_stored(4)), "with_mean": 1}
    assert _expected(scaler) == (scaled.total, scaled.breakdown)



def test_nan_default_setting_is_free(tmp_path):
    X = _xy(d=3)[0]
    X[::7, 1] = np.nan
    imputer = SimpleImputer().fit(X)
    count = _count(imputer, tmp_path)
    # _fit_dtype, _fill_dtype (dtype objects) are stored as empty arrays of that dtype: their dtype
    # and shape cost one each; indicator_ (None) stores no number, but its name costs
    stored = {"n_features_in_": 1, "statistics_": 3, "_sklearn_version": _text(VERSION), "_fit_dtype": 1,
              "_fill_dtype": 1}
    names = _names(["n_features_in_", "_fit_dtype", "_fill_dtype", "indicator_", "statistics_", "_sklearn_version"])
    assert {k: v for k, v in count.breakdown.items() if k != "missing_values"} == {**stored, NAMES: names}
    assert "missing_values" not in count.breakdown, count.breakdown  # left at its default (NaN)


# ============================================================================================
# (5) malformed artifacts and smuggling: skops
# ============================================================================================

def _base_skops(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    X, _ = _xy(d=3)
    path = _skops(StandardScaler().fit(X), tmp_path / "base.skops")
    with zipfile.ZipFile(path) as zf:
        return path, {i.filename: zf.read(i.filename) for i in zf.infolist()}


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_skops_rebuilt_zip_is_accepted(tmp_path):
    _, members = _base_skops(tmp_path)
    count = count_params(_zip(tmp_path / "ok.skops", list(members.items())), max_mb=MAX_MB)
    assert count.breakdown == _with_names(_scaler_stored(3))
    assert count.total == 3 * 3 + 2 + _text(VERSION) + 14


def test_pickle_named_skops_rejected(tmp_path):
    X, _ = _xy(d=3)
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps(StandardScaler().fit(X)))
    _expect_artifact_error(path, "zip")


def test_torch_save_named_skops_rejected(tmp_path):
    # torch.save writes a zip archive too, with pickles inside
    path = tmp_path / "model.skops"
    torch.save(nn.Linear(3, 2).state_dict(), path)
    assert zipfile.is_zipfile(path)
    _expect_artifact_error(path, "schema.json")


def test_skops_extra_member_rejected(tmp_path):
    _, members = _base_skops(tmp_path)
    extra = ("hidden.npy", _npy(_rng().random(10_000)))
    _expect_artifact_error(_zip(tmp_path / "extra.skops", [*members.items(), extra]), "only schema.json")


def test_skops_bytes_attribute_rejected(tmp_path):
    X, _ = _xy(d=3)
    est = StandardScaler().fit(X)
    est.blob_ = _rng().random(5000).tobytes()  # skops stores bytes as a separate, uncounted member
    _expect_artifact_error(_skops(est, tmp_path / "bytes.skops"))


def test_skops_zip_bomb_rejected_by_declared_size(tmp_path):
    _, members = _base_skops(tmp_path)
    npy_name = next(k for k in members if k.endswith(".npy"))
    bomb = _npy(np.zeros(65 * 2**20 // 8 + 1024))  # > 64 MiB unpacked, ~70 KiB deflated
    path = _zip(tmp_path / "bomb.skops", [(k, bomb if k == npy_name else v) for k, v in members.items()])
    assert path.stat().st_size < 1 * 2**20
    _expect_artifact_error(path, "unpack")


def test_skops_big_schema_is_counted_not_capped(tmp_path):
    """No flat cap on the schema: numbers in a large schema.json are counted one each."""
    X, _ = _xy(d=3)
    est = StandardScaler().fit(X)
    est.lookup_ = {"w": [float(v) for v in _rng().random(3000)]}  # ~800 KiB of schema.json
    path = _skops(est, tmp_path / "schema.skops")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("schema.json").file_size > 256 * 1024
    count = count_params(path, max_mb=MAX_MB)
    assert _by_attribute(count.breakdown)["lookup_"] == 3000 + _text("w")
    assert count.total == sum(_with_names(_scaler_stored(3)).values()) + 3000 + _text("w") + _name("lookup_")


def test_skops_schema_over_the_sanity_cap_rejected(tmp_path):
    _, members = _base_skops(tmp_path)
    schema = members["schema.json"] + b" " * (8 * 2**20)  # still valid JSON; deflates to ~8 KiB
    path = _zip(tmp_path / "huge.skops", [(k, schema if k == "schema.json" else v) for k, v in members.items()])
    assert path.stat().st_size < 2**20
    _expect_artifact_error(path, "schema.json over 8 MiB")


def test_artifact_size_suffix_and_presence(tmp_path):
    X, _ = _xy(d=3)
    path = _skops(StandardScaler().fit(X), tmp_path / "model.skops")
    _expect_artifact_error(tmp_path / "missing.skops", "no such file")
    with pytest.raises(ArtifactError, match="at most 0 MiB"):
        count_params(path, max_mb=0)
    other = tmp_path / "model.pkl"
    other.write_bytes(path.read_bytes())
    _expect_artifact_error(other, ".pkl")


@pytest.mark.parametrize("case", [
    "not_a_zip",
    "no_schema",
    "schema_not_json",
    "schema_not_utf8",
    "missing_array",
    "corrupt_array",
    "array_file_not_a_string",
    "attributes_not_a_dict",
    "json_node_not_json",
    "huge_integer",
    "nested_too_deep",
])
def test_skops_malformed_is_an_artifact_error(tmp_path, case):
    _, members = _base_skops(tmp_path)
    npy_name = next(k for k in members if k.endswith(".npy"))
    schema = json.loads(members["schema.json"])
    path = tmp_path / f"{case}.skops"

    def with_schema(text: bytes) -> None:
        _zip(path, [(k, text if k == "schema.json" else v) for k, v in members.items()])

    if case == "not_a_zip":
        path.write_bytes(b"PK\x03\x04 but not really a zip")
    elif case == "no_schema":
        _zip(path, [(k, v) for k, v in members.items() if k != "schema.json"])
    elif case == "schema_not_json":
        with_schema(b"{not json")
    elif case == "schema_not_utf8":
        with_schema(b'{"a": "\xff\xfe"}')
    elif case == "missing_array":
        _zip(path, [(k, v) for k, v in members.items() if k != npy_name])
    elif case == "corrupt_array":
        _zip(path, [(k, b"garbage" if k == npy_name else v) for k, v in members.items()])
    elif case == "array_file_not_a_string":
        _attr(schema, "mean_")["file"] = 5
        with_schema(json.dumps(schema).encode())
    elif case == "attributes_not_a_dict":
        schema["content"]["content"] = [1, 2]
        with_schema(json.dumps(schema).encode())
    elif case == "json_node_not_json":
        _attr(schema, "n_features_in_")["content"] = "{not json"
        with_schema(json.dumps(schema).encode())
    elif case == "huge_integer":  # beyond Python's int-from-text limit
        _attr(schema, "n_features_in_")["content"] = "9" * 5000
        with_schema(json.dumps(schema).encode())
    elif case == "nested_too_deep":
        with_schema(b"[" * 5000 + b"]" * 5000)
    _expect_artifact_error(path)


@pytest.mark.parametrize("kind", ["str", "bytes", "void"])
def test_skops_non_numeric_arrays_rejected(tmp_path, kind):
    """One string, bytes or void element of a .npy array can hold any amount of data: refused."""
    hidden = _rng().random(50_000)
    if kind == "str":
        value = np.array([",".join(f"{v:.5f}" for v in hidden)])  # one element, dtype <U400000
    elif kind == "bytes":
        value = np.array([hidden.tobytes()])  # dtype |S400000
    else:
        value = np.frombuffer(hidden.tobytes(), dtype=f"V{hidden.nbytes}")
    _expect_artifact_error(_scaler_with(tmp_path, f"{kind}.skops", memo_=value), "must be numeric")


def test_skops_object_array_of_strings_counted_or_rejected(tmp_path):
    """skops writes an object array as a list of JSON nodes, not as .npy: its strings must cost
    one per 8 characters (or the array be refused), never one per element."""
    text = ",".join(f"{v:.6f}" for v in _rng().random(5000))
    value = np.array([text, "x"], dtype=object)
    _counted_or_rejected(_scaler_with(tmp_path, "object.skops", memo_=value), _text(text) + 1)


@pytest.mark.parametrize("dtype,cost", [("f8", 21), ("f4", 21), ("f2", 11), ("c16", 42), ("c8", 42),
                                        ("i1", 1), ("u8", 1), ("?", 1)])
def test_skops_numeric_array_dtypes(tmp_path, dtype, cost):
    """21 ones: a float 32 bits (a float16 16, complex twice); integers and booleans one bit each
    (a range of 0 and a base of 1), so 22 bits in all: one number."""
    value = np.ones((7, 3), dtype=dtype)
    count = count_params(_scaler_with(tmp_path, f"{dtype}.skops", memo_=value), max_mb=MAX_MB)
    assert count.breakdown["memo_"] == cost


def test_skops_structured_and_subarray_fields_count_by_size(tmp_path):
    hidden = _rng().random(50_000)
    wide = np.zeros(1, dtype=[("w", "f8", (hidden.size,))])  # one row whose one field holds 50,000
    wide["w"][0] = hidden
    rows = np.zeros(10, dtype=[("a", "i8"), ("b", "f4", (2, 3)), ("c", [("x", "u1"), ("y", "c8")])])
    count = count_params(_scaler_with(tmp_path, "fields.skops", wide_=wide, rows_=rows), max_mb=MAX_MB)
    assert count.breakdown["wide_"] == hidden.size + _name("w")  # and its field name (see below)
    # a: ten zeros (one number); b: 60 float32; c.x: ten zeros (one); c.y: ten complex64 (20)
    assert count.breakdown["rows_"] == 1 + 60 + 1 + 20 + _names("abcxy")


@pytest.mark.parametrize("rows", [0, 3])
def test_skops_field_names_of_structured_arrays_are_counted(tmp_path, rows):
    """Field names sit in the .npy header, which the predictor's copy keeps: they are names (one
    per 5 characters, even with no rows), scikit-learn's own record fields aside; titles and
    names that are not identifiers are refused."""
    text = "w_" + "_".join(f"{v:.6f}".replace(".", "d") for v in _rng().random(400))  # 3,601 characters
    value = np.zeros(rows, dtype=[(text, "f8"), ("left_child", "i8")])
    count = count_params(_scaler_with(tmp_path, "fields.skops", memo_=value), max_mb=MAX_MB)
    assert count.breakdown["memo_"] == rows + 1 + _name(text)  # left_child zeros (or no rows: the shape) 1
    titled = np.zeros(rows, dtype=[((text[:800], "w"), "f8")])
    _expect_artifact_error(_scaler_with(tmp_path, "titled.skops", titled_=titled), "titles")
    digits = np.zeros(rows, dtype=[(text[2:], "f8")])
    _expect_artifact_error(_scaler_with(tmp_path, "digits.skops", memo_=digits), "identifiers")


def test_skops_numbers_in_dict_keys(tmp_path):
    hidden = _rng().random(15_000)
    key = ",".join(f"{v:.6f}" for v in hidden)  # ~135 KiB
    path = _scaler_with(tmp_path, "keys.skops", memo_={key: None})
    count = count_params(path, max_mb=MAX_MB)
    assert count.breakdown["memo_"] == _text(key) >= hidden.size


def test_skops_duplicate_member_name_rejected(tmp_path):
    _, members = _base_skops(tmp_path)
    npy_name = next(k for k in members if k.endswith(".npy"))
    hidden = _rng().random(100_000)
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = _zip(tmp_path / "dup.skops", [(npy_name, _npy(hidden)), *members.items()])
    _expect_artifact_error(path, "duplicate member names")


def test_skops_bytes_before_the_archive_rejected(tmp_path):
    _, members = _base_skops(tmp_path)
    hidden = _rng().random(100_000)
    path = _zip(tmp_path / "prefix.skops", list(members.items()), prefix=hidden.tobytes())
    _expect_artifact_error(path, "bytes before the archive")


def test_skops_archive_comment_rejected(tmp_path):
    _, members = _base_skops(tmp_path)
    hidden = _rng().random(8000)
    path = _zip(tmp_path / "comment.skops", list(members.items()), comment=hidden.tobytes())
    _expect_artifact_error(path, "zip comments or extra fields")


@pytest.mark.parametrize("where", ["extra", "comment"])
def test_skops_member_extra_field_or_comment_rejected(tmp_path, where):
    _, members = _base_skops(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name == "schema.json":
                if where == "extra":  # one well-formed extra block (id 0xCAFE) of 4,000 bytes
                    info.extra = struct.pack("<HH", 0xCAFE, 4000) + _rng().random(500).tobytes()
                else:
                    info.comment = _rng().random(500).tobytes()
            zf.writestr(info, data)
    path = tmp_path / f"member-{where}.skops"
    path.write_bytes(buf.getvalue())
    _expect_artifact_error(path, "zip comments or extra fields")


# Free structural fields of the skops schema: the walker skips __id__, __class__, __module__ and
# __loader__ (and the keys of known node types it does not read), so they carry data uncounted.


def test_skops_numbers_in_node_ids_never_reach_the_predictor(tmp_path):
    """Node ids are free to count, so the predictor's copy renumbers them: the hidden bits are gone."""
    hidden = _rng().random(4000)

    def edit(schema):
        for node, v in zip(_attr(schema, "memo_")["content"], hidden):
            node["__id__"] = int(np.float64(v).view(np.int64))  # the float's bits, exactly

    src = _with_schema(tmp_path, "ids.skops", edit, _nones(hidden.size))
    canonicalize(src, tmp_path / "ids.c.skops", code_files=[])
    with zipfile.ZipFile(tmp_path / "ids.c.skops") as zf:
        text = zf.read("schema.json").decode()
    ids = [int(i) for i in re.findall(r'"__id__": (-?\d+)', text)]
    assert ids and max(ids) <= len(set(ids)) <= 2 * hidden.size  # small sequential ids only
    assert not {int(np.float64(v).view(np.int64)) for v in hidden[:50]} & set(ids)


def test_skops_numbers_in_class_names_are_rejected(tmp_path):
    """A node may only name a library class or one defined in the prediction code (a JsonNode only
    builtins.str, the class skops writes for every one)."""
    hidden = _rng().random(1000 * 8).reshape(1000, 8)
    names = ["_".join(f"{v:.6f}".replace(".", "") for v in row) for row in hidden]  # 63 characters

    def edit(schema):
        for node, name in zip(_attr(schema, "memo_")["content"], names):
            node["__class__"] = name

    src = _with_schema(tmp_path, "classes.skops", edit, _nones(len(names)))
    with pytest.raises(ArtifactError, match="must name its class as skops.io.dump writes it"):
        canonicalize(src, tmp_path / "classes.c.skops", code_files=[])


@pytest.mark.parametrize("where", ["root", "attribute_node", "array_node", "key_types"])
def test_skops_numbers_in_unread_keys(tmp_path, where):
    hidden = [round(float(v), 6) for v in _rng().random(5000)]

    def edit(schema):
        if where == "root":
            schema["notes"] = hidden
        elif where == "attribute_node":
            _attr(schema, "n_features_in_")["notes"] = hidden
        elif where == "array_node":
            _attr(schema, "mean_")["notes"] = hidden
        else:
            schema["content"]["key_types"]["content"].append(
                {"__class__": "float", "__module__": "builtins", "__loader__": "JsonNode",
                 "content": json.dumps(hidden), "is_json": True, "__id__": 1})

    _counted_or_rejected(_with_schema(tmp_path, f"{where}.skops", edit), len(hidden))

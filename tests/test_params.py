"""Parameter counting in trusted code (pitfalls.budget.artifacts) against independent oracles.

The oracles are the frameworks themselves (``model.parameters()``, ``model.buffers()``, the fitted
estimators' state) and the counting rule in the module docstring of runner/budget/artifacts.py:

- safetensors: every element of every tensor in the file (parameters and saved buffers; a tied
  tensor once). Header entries hold exactly dtype/shape/data_offsets, names are 1-128
  characters, empty tensors are refused.
- skops: a counted parameter is worth 32 bits (README, "What counts as a parameter"). An array
  costs the bits of its values rounded up per leaf field: a float32 or float64 element 32 (the
  predictor gets float64 rounded to float32), a float16 16, a complex element twice, a boolean
  one bit, an integer field ``bits(min) + n * bit_length(max - min)`` (at least one bit each);
  long doubles and non-numeric arrays are refused. A scalar float or bool counts one, an integer
  one per 32 bits (sign included), a string or dict key one per 4 bytes of UTF-8 (at least
  one); an attribute name (an identifier) one per 5 characters, summed under "(attribute
  names)"; free are a scikit-learn estimator's constructor settings left at their default and
  the names of its constructor parameters. Odd zip layouts are refused. The finer print
  (runner/budget/skops_count.py): a list or tuple element counts at least one (None and the first 64
  of a file aside), a structured array's field names count as names (scikit-learn's own
  aside), a Tree's state keys are attribute names, and the schema keys skops writes about a
  node must hold what it writes there.

The second half feeds the counter artifacts built to smuggle numbers past it or to break it. A
counter that can be fooled makes the parameter budget meaningless, and one that crashes on a
malformed file takes the runner down instead of rejecting the submission. Section (7) holds the
channels the attack catalogue (tests/test_attacks.py) found, each closed on a hand-built file.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import io
import json
import math
import pickle
import re
import struct
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sklearn
import skops.io as sio
import torch
from safetensors.torch import save_model
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from torch import nn

from conftest import submit_json
from pitfalls.budget.artifacts import ArtifactError, count_params, count_safetensors
from pitfalls.budget.canonical import canonicalize
from pitfalls.budget.code_count import count_code, free_code
from pitfalls.library.scaffold import load_scaffold

MAX_MB = 16


class Smuggled(AssertionError):
    """Numbers got past the counter (the failure the xfails below document)."""


class NotAnArtifactError(AssertionError):
    """A malformed artifact crashed the counter with something other than ArtifactError."""


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ============================================================================================
# (1)-(3) torch, saved with safetensors.torch.save_model
# ============================================================================================

class _EmbeddingClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, idx):
        return self.head(self.emb(idx).mean(dim=1))


ARCHITECTURES = {
    "linear_stack": lambda: nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                          nn.Linear(32, 3)),
    "linear_no_bias": lambda: nn.Sequential(nn.Linear(7, 5, bias=False), nn.Tanh(), nn.Linear(5, 2)),
    "conv1d": lambda: nn.Sequential(nn.Conv1d(3, 8, 5), nn.ReLU(), nn.Conv1d(8, 4, 3, groups=2),
                                    nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 2)),
    "conv2d": lambda: nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 12, (3, 5), bias=False),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)),
    "embedding": _EmbeddingClassifier,
    "gru_layernorm": lambda: nn.ModuleDict({"rnn": nn.GRU(8, 16, num_layers=2), "norm": nn.LayerNorm(16)}),
    "attention": lambda: nn.MultiheadAttention(16, 4),
}


def _save(model: nn.Module, path: Path) -> Path:
    save_model(model, str(path))
    return path


TENSOR_NAMES = "(tensor names)"


def _entries_cost(tensors: dict[str, torch.Tensor]) -> int:
    """The documented header-entry charge: one per 5 characters of the name, one more character
    for the dtype and one per dimension, rounded up per tensor."""
    return sum(-(-(len(name) + 1 + t.dim()) // 5) for name, t in tensors.items())


def _elements(count) -> dict[str, int]:
    """The counter's per-tensor costs, without the header entries' charge."""
    return {k: v for k, v in count.breakdown.items() if k != TENSOR_NAMES}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_torch_count_equals_parameters(tmp_path, arch):
    torch.manual_seed(0)
    model = ARCHITECTURES[arch]()
    assert not list(model.buffers())  # these architectures hold parameters only
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    assert count.total == sum(p.numel() for p in model.parameters()) + count.breakdown[TENSOR_NAMES]
    assert _elements(count) == {name: p.numel() for name, p in model.named_parameters()}
    assert count.breakdown[TENSOR_NAMES] == _entries_cost(dict(model.named_parameters()))


@pytest.mark.parametrize("dtype,bits", [(torch.float16, 16), (torch.bfloat16, 16), (torch.float32, 32),
                                        (torch.float64, 32)])
def test_torch_count_is_information_not_bytes(tmp_path, dtype, bits):
    """A float16 element carries 16 bits (half a parameter); a float64 one is rounded to float32
    in the predictor's copy, so it counts one like a float32 (rounded up per tensor)."""
    model = ARCHITECTURES["linear_stack"]().to(dtype)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert _elements(count) == {n: -(-p.numel() * bits // 32) for n, p in model.named_parameters()}


class _WithNorms(nn.Module):
    def __init__(self, track=True):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.bn2 = nn.BatchNorm2d(8, track_running_stats=track)
        self.fc = nn.Linear(8, 32)
        self.bn1 = nn.BatchNorm1d(32, track_running_stats=track)
        self.out = nn.Linear(32, 3)

    def forward(self, x):
        x = torch.relu(self.bn2(self.conv(x))).mean(dim=(2, 3))
        return self.out(torch.relu(self.bn1(self.fc(x))))


def test_batchnorm_buffers_are_counted(tmp_path):
    torch.manual_seed(0)
    model = _WithNorms()
    model.train()
    for _ in range(3):  # running statistics learned from data, num_batches_tracked = 3
        model(torch.randn(16, 1, 8, 8))
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for b in model.buffers())
    assert n_buffers == (8 + 8 + 1) + (32 + 32 + 1)  # running mean, var and num_batches_tracked per BN
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    assert count.total - count.breakdown[TENSOR_NAMES] == n_params + n_buffers
    for bn, width in (("bn2", 8), ("bn1", 32)):
        assert count.breakdown[f"{bn}.running_mean"] == width
        assert count.breakdown[f"{bn}.running_var"] == width
        assert count.breakdown[f"{bn}.num_batches_tracked"] == 1
    assert _elements(count) == {k: v.numel() for k, v in model.state_dict().items()}
    assert count.breakdown[TENSOR_NAMES] == _entries_cost(model.state_dict())


def test_batchnorm_without_running_stats_has_no_buffers(tmp_path):
    model = _WithNorms(track=False)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert not list(model.buffers())
    assert count.total - count.breakdown[TENSOR_NAMES] == sum(p.numel() for p in model.parameters())
    assert not any("running" in k for k in count.breakdown)


def test_persistent_buffers_count_and_non_persistent_do_not(tmp_path):
    model = nn.Linear(4, 2)
    model.register_buffer("centroids", torch.randn(10, 4))
    model.register_buffer("scratch", torch.randn(1000), persistent=False)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert count.total - count.breakdown[TENSOR_NAMES] == 4 * 2 + 2 + 40
    assert "scratch" not in count.breakdown


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.mix = nn.Linear(8, 8)
        self.out = nn.Linear(8, 50, bias=False)
        self.out.weight = self.emb.weight  # weight tying

    def forward(self, idx):
        return self.out(torch.relu(self.mix(self.emb(idx))))


def test_tied_weights_count_once(tmp_path):
    model = _Tied()
    naive = sum(t.numel() for t in model.state_dict().values())
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    elements = count.total - count.breakdown[TENSOR_NAMES]
    assert elements == sum(p.numel() for p in model.parameters()) == 50 * 8 + 8 * 8 + 8
    assert naive - elements == 50 * 8  # the tied copy is not counted twice
    assert len({"emb.weight", "out.weight"} & set(count.breakdown)) == 1


# ============================================================================================
# (4) scikit-learn, saved with skops.io.dump: hand counts from the documented rule
# ============================================================================================
#
# The expectations below are derived from the fitted Python objects (their ``__getstate__``,
# which is what skops writes, and ``Tree.__reduce__``), never from the file or from runner code:
# the simple estimators by an explicit list of what each attribute stores, the composite ones
# (trees, forests, pipelines) additionally by ``_Rule``, a short independent implementation of
# the documented rule. Attribute-name costs appear under the single breakdown key NAMES.

NAMES = "(attribute names)"
VERSION = sklearn.__version__  # every estimator stores it as `_sklearn_version`


def _skops(est, path: Path) -> Path:
    sio.dump(est, path)
    return path


def _count(est, tmp_path: Path, name: str = "model.skops"):
    return count_params(_skops(est, tmp_path / f"{uuid.uuid4().hex[:8]}-{name}"), max_mb=MAX_MB)


def _text(value: str) -> int:
    """The rule for a string value: one per 4 bytes of UTF-8, at least one."""
    return max(1, -(-len(value.encode()) // 4))


def _strings(values) -> int:
    return sum(_text(v) for v in values)


def _name(value: str) -> int:
    """The rule for a name (attribute, Tree state key, field): one per 5 characters, at least one."""
    return max(1, -(-len(value) // 5))


def _names(values) -> int:
    return sum(_name(v) for v in values)


def _int(value: int) -> int:
    """A scalar integer: one per 32 bits of magnitude and sign."""
    return max(1, -(-(abs(value).bit_length() + (value < 0)) // 32))


def _with_names(stored: dict[str, int], extra: tuple[str, ...] = ()) -> dict[str, int]:
    """``stored`` (attribute -> numbers, none of them a constructor parameter) plus the cost of
    those attributes' names (and ``extra`` names, e.g. a Tree's state keys) under NAMES."""
    return {**stored, NAMES: _names(stored) + _names(extra)}


def _by_attribute(breakdown: dict[str, int]) -> dict[str, int]:
    """The counter's breakdown summed per top-level attribute (``tree_[nodes]`` -> ``tree_``)."""
    out: dict[str, int] = {}
    for key, n in breakdown.items():
        top = key if key == NAMES else re.split(r"[.\[]", key, maxsplit=1)[0]
        out[top] = out.get(top, 0) + n
    return out


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


def _xy(n=120, d=5, k=2, seed=0):
    rng = _rng(seed)
    X = rng.normal(size=(n, d))
    signal = X[:, 0] * 2 + X[:, min(1, d - 1)] + rng.normal(scale=0.5, size=n)
    y = (signal > 0).astype(int)
    if k > 2:
        y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1]))
    assert len(np.unique(y)) == k
    return X, y


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
# (5) malformed artifacts and smuggling: safetensors
# ============================================================================================

def _safetensors_parts(tmp_path: Path) -> tuple[dict, bytes]:
    path = _save(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)), tmp_path / "base.safetensors")
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _write_safetensors(path: Path, header, data: bytes, raw_header: bytes | None = None) -> Path:
    blob = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


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


def test_safetensors_roundtrip_of_the_rebuilt_file_is_accepted(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    count = count_params(_write_safetensors(tmp_path / "ok.safetensors", header, data), max_mb=MAX_MB)
    assert count.total - count.breakdown[TENSOR_NAMES] == 11


def test_safetensors_trailing_bytes_rejected(tmp_path):
    path = _save(nn.Linear(3, 2), tmp_path / "model.safetensors")
    path.write_bytes(path.read_bytes() + np.arange(1000, dtype=np.float32).tobytes())
    _expect_artifact_error(path, "extra bytes|only tensor data")


def test_safetensors_truncated_data_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    _expect_artifact_error(_write_safetensors(tmp_path / "short.safetensors", header, data[:-4]))


def test_safetensors_header_length_beyond_file_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    blob = json.dumps(header).encode()
    path = tmp_path / "liar.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob) + 10_000) + blob + data)
    _expect_artifact_error(path, "header")


def test_safetensors_tensor_claiming_more_bytes_than_exist_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    last = max(header.values(), key=lambda t: t["data_offsets"][1])
    last["shape"] = [last["shape"][0] * 1000] + last["shape"][1:]
    last["data_offsets"][1] = last["data_offsets"][0] + math.prod(last["shape"]) * 4
    _expect_artifact_error(_write_safetensors(tmp_path / "big.safetensors", header, data))


def test_safetensors_overlapping_tensors_rejected(tmp_path):
    # two names over the same bytes would let one tensor's data stand in for two
    data = np.arange(6, dtype=np.float32).tobytes()
    header = {"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
              "b": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}
    _expect_artifact_error(_write_safetensors(tmp_path / "alias.safetensors", header, data), "contiguous")


def test_safetensors_big_metadata_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    header["__metadata__"] = {"notes": ",".join(f"{v:.6f}" for v in _rng().random(2000))}
    _expect_artifact_error(_write_safetensors(tmp_path / "meta.safetensors", header, data), "metadata")



@pytest.mark.parametrize("case", [
    "not_json",
    "not_utf8",
    "unknown_dtype",
    "header_is_list",
    "entry_not_dict",
    "missing_dtype",
    "short_offsets",
    "shape_not_list",
    "negative_dim",
    "offsets_not_ints",
    "nested_too_deep",
])
def test_safetensors_malformed_header_is_an_artifact_error(tmp_path, case):
    """pipeline.check_artifact only catches ArtifactError: anything else crashes the runner."""
    header, data = _safetensors_parts(tmp_path)
    first = next(iter(header.values()))
    raw = None
    if case == "not_json":
        raw = b"{this is not json" + b" " * 7
    elif case == "not_utf8":
        raw = b'{"a": "\xff\xfe"}'
    elif case == "unknown_dtype":
        first["dtype"] = "F128"
    elif case == "header_is_list":
        header = [header]
    elif case == "entry_not_dict":
        header = {"weight": 5}
    elif case == "missing_dtype":
        del first["dtype"]
    elif case == "short_offsets":
        first["data_offsets"] = [0]
    elif case == "shape_not_list":
        first["shape"] = "ab"
    elif case == "negative_dim":
        first["shape"] = [-1] + first["shape"][1:]
    elif case == "offsets_not_ints":
        first["data_offsets"] = [str(o) for o in first["data_offsets"]]
    elif case == "nested_too_deep":
        raw = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    _expect_artifact_error(_write_safetensors(tmp_path / f"{case}.safetensors", header, data, raw))


def _counted_or_rejected(path: Path, at_least: int) -> None:
    """A smuggling artifact must either be rejected or have its hidden numbers counted."""
    try:
        total = count_params(path, max_mb=MAX_MB).total
    except ArtifactError:
        return
    if total < at_least:
        raise Smuggled(f"{path.name}: {at_least:,} hidden numbers, but the counter reports {total:,}")


def test_safetensors_extra_fields_in_a_tensor_entry_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    hidden = [round(float(v), 6) for v in _rng().random(20_000)]
    next(iter(header.values()))["notes"] = hidden
    _expect_artifact_error(_write_safetensors(tmp_path / "fields.safetensors", header, data),
                           "exactly dtype, shape and data_offsets")


def test_safetensors_empty_tensors_rejected(tmp_path):
    """Zero-size tensors cost nothing, so their names would carry numbers for free."""
    header, data = _safetensors_parts(tmp_path)
    hidden = _rng().random(4000)
    for i, v in enumerate(hidden):
        header[f"{v:.8f}_{i}"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}
    _expect_artifact_error(_write_safetensors(tmp_path / "names.safetensors", header, data), "empty")


def test_safetensors_tensor_name_length_and_charge(tmp_path):
    """Names are ASCII [A-Za-z0-9_.], 1-128 characters, and each header entry costs one per 5
    characters of its name plus one for the dtype and one per dimension."""
    data = np.zeros(2, dtype=np.float32).tobytes()
    for name, ok in (("w" * 128, True), ("w" * 129, False), ("", False), ("wé", False), ("a b", False),
                     ("w\n", False), ("ｗ", False)):
        header = {name: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
        path = _write_safetensors(tmp_path / f"name{len(name)}.safetensors", header, data)
        if ok:
            assert count_params(path, max_mb=MAX_MB).breakdown == {name: 2, TENSOR_NAMES: -(-(128 + 2) // 5)}
        else:
            _expect_artifact_error(path, "tensor names must be strings of 1-128 characters from")


def test_safetensors_numbers_in_tensor_names(tmp_path):
    """Numbers written into names: charged at one per 5 characters (about 6 bits each)."""
    hidden = _rng().random(300 * 14)
    names = [",".join(f"{v:.6f}" for v in chunk) for chunk in hidden.reshape(300, 14)]  # 125 characters
    assert max(map(len, names)) <= 128 and len(set(names)) == 300
    header = {name: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
              for i, name in enumerate(names)}
    _counted_or_rejected(_write_safetensors(tmp_path / "names.safetensors", header,
                                            np.zeros(300, dtype=np.float32).tobytes()), hidden.size)


# ============================================================================================
# (5) malformed artifacts and smuggling: skops
# ============================================================================================

def _base_skops(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    X, _ = _xy(d=3)
    path = _skops(StandardScaler().fit(X), tmp_path / "base.skops")
    with zipfile.ZipFile(path) as zf:
        return path, {i.filename: zf.read(i.filename) for i in zf.infolist()}


def _zip(path: Path, members: list[tuple[str, bytes]], *, prefix: bytes = b"", comment: bytes = b"") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        zf.comment = comment
    path.write_bytes(prefix + buf.getvalue())
    return path


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


def _scaler_with(tmp_path: Path, name: str, **attrs) -> Path:
    X, _ = _xy(d=3)
    est = StandardScaler().fit(X)
    for key, value in attrs.items():
        setattr(est, key, value)
    return _skops(est, tmp_path / name)


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
def _nones(n: int) -> StandardScaler:
    est = StandardScaler().fit(_xy(d=3)[0])
    est.memo_ = [None] * n  # each element its own JsonNode, worth nothing by itself
    return est


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


# ============================================================================================
# The budget, end to end through the CLI (digits_budget, max_params = 20,000)
# ============================================================================================

def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"candidate_model_{uuid.uuid4().hex[:8]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_over_budget_digits_model_is_rejected_with_the_exact_count(workspace, tmp_path):
    scaffold = load_scaffold("digits_budget")
    limit = scaffold.manifest.budgets.max_params
    hidden = 106  # parameters alone fit the budget; with BatchNorm's buffers they do not
    model_py = (scaffold.solution_dir / "model.py").read_text()
    assert "HIDDEN = 64" in model_py
    train_py = (scaffold.solution_dir / "train.py").read_text()
    assert "EPOCHS = 30" in train_py
    ws = workspace("digits_budget", reference=True, files={
        "model.py": model_py.replace("HIDDEN = 64", f"HIDDEN = {hidden}"),
        "train.py": train_py.replace("EPOCHS = 30", "EPOCHS = 2"),
    })
    model = _load_module(ws / "model.py").build_model()
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for b in model.buffers())
    # Every header entry is charged for its name, dtype and dimensions (one per 5 characters), and
    # the prediction code for what it adds to the scaffold's own (here the literal 106).
    names = sum(math.ceil((len(k) + 1 + v.dim()) / 5) for k, v in model.state_dict().items())
    code = count_code({"model.py": (ws / "model.py").read_text()},
                      free_code(scaffold.root.resolve(), ("model.py",))).total
    assert 0 < names < 100 and code == 1
    assert n_params + names + code <= limit < n_params + n_buffers  # the case only the buffer rule decides
    total = n_params + n_buffers + names + code

    result = submit_json(ws, "--no-probes")
    assert result["status"] == "rejected", result
    budget = [v for v in result["violations"] if v["constraint"] == "max_params"]
    assert len(budget) == 1, result["violations"]
    assert budget[0]["limit"] == limit
    assert budget[0]["actual"] == total
    assert result["params"] == total
    assert f"{total:,}" in result["message"]
    assert result["score"] is None


# ============================================================================================
# (6) the predictor's copy: a canonical re-encoding that keeps the model and its count
# ============================================================================================

MODEL_CODE = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def double(X):
    return X * 2


class Centre(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        self.mu_ = np.asarray(X).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X) - self.mu_
'''


def test_canonical_skops_keeps_predictions_and_count(tmp_path, monkeypatch):
    """Does the re-encoded skops file load to the same model, with the same count, for library
    estimators and for a function and a class defined in the prediction code? Floats reach the
    predictor rounded to float32 values, so probabilities agree to about 1e-7 and labels exactly."""
    import sys

    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    (tmp_path / "model.py").write_text(MODEL_CODE)
    spec = importlib.util.spec_from_file_location("model", tmp_path / "model.py")
    code = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "model", code)  # as the predictor imports it
    spec.loader.exec_module(code)
    X, y = _xy(d=4)
    models = {"pipe": make_pipeline(FunctionTransformer(code.double), code.Centre(), LogisticRegression()),
              "hgb": HistGradientBoostingClassifier(max_iter=5), "forest": RandomForestClassifier(n_estimators=3)}
    for name, model in models.items():
        model.fit(X, y)
        src, dst = tmp_path / f"{name}.skops", tmp_path / f"{name}.c.skops"
        sio.dump(model, src)
        canonicalize(src, dst, code_files=[tmp_path / "model.py"])
        again = sio.load(dst, trusted=sio.get_untrusted_types(file=dst))
        np.testing.assert_allclose(model.predict_proba(X), again.predict_proba(X), rtol=0, atol=1e-6, err_msg=name)
        assert np.array_equal(model.predict(X), again.predict(X)), name
        assert count_params(dst, max_mb=MAX_MB).total == count_params(src, max_mb=MAX_MB).total, name


def test_canonical_safetensors_keeps_tensors_and_drops_extra_metadata(tmp_path):
    """Same tensors, same count; metadata other than format=pt does not reach the predictor."""
    from safetensors.torch import load_file, save_file

    tensors = {"b.weight": torch.randn(3, 4), "a.bias": torch.randn(4)}
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt", "notes": "1.5,2.5,3.5"})
    canonicalize(tmp_path / "m.safetensors", tmp_path / "c.safetensors", code_files=[])
    again = load_file(tmp_path / "c.safetensors")
    assert all(torch.equal(again[k], v) for k, v in tensors.items()) and set(again) == set(tensors)
    assert b"notes" not in (tmp_path / "c.safetensors").read_bytes()
    assert count_safetensors(tmp_path / "c.safetensors").breakdown == {"a.bias": 4, "b.weight": 12, TENSOR_NAMES: 2 + 3}


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

"""Canonical re-encoding of a counted artifact: the predictor gets this copy, never the original.

Counting (``artifacts.py``) decides how many numbers an artifact stores; re-encoding makes sure
the predictor cannot read anything that was not counted. Free parts of the formats are
rewritten: safetensors headers are rebuilt (names, dtypes, shapes, offsets; metadata reduced to
``format``); in skops files every node gets a fresh id (so no node refers to another by id),
array files are renamed and re-saved (no padding or trailing bytes), a JsonNode's text is
re-encoded from the value it was counted as, schema.json is re-dumped with sorted keys (a
dict's ``key_types`` follow its keys), every class a node names must be a library class in the
one spelling skops writes for it (:func:`pitfalls.budget.skops_classes.canonical_class`) or one defined
in the prediction code, and the root's format fields are the runner's own skops's.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pitfalls.budget.bits import CANONICAL_NAN
from pitfalls.budget.skops_arrays import load_npy
from pitfalls.budget.skops_classes import JSON_CLASS, canonical_class
from pitfalls.budget.types import ArtifactError

LOADERS = {"BytearrayNode", "BytesNode", "ConstructorFromReduceNode", "DTypeNode",
           "DefaultDictNode", "DictNode", "FunctionNode", "JsonNode", "ListNode", "LossNode",
           "MaskedArrayNode", "MethodNode", "NdArrayNode", "ObjectNode", "OperatorFuncNode",
           "PartialNode", "RandomGeneratorNode", "RandomStateNode", "SetNode", "SliceNode",
           "SparseMatrixNode", "TreeNode", "TupleNode", "TypeNode"}
"""skops's loaders, less CachedNode (a reference by id, which skops does not write)."""


def canonical_safetensors(src: Path, dst: Path) -> None:
    """Rewrite a safetensors file: rebuilt header, F64 rounded to F32, one quiet NaN, BOOL 0/1
    (:func:`pitfalls.budget.safetensors_count.write_canonical`).

    Raises:
        ArtifactError: the file is malformed (the same checks as counting).
    """
    from pitfalls.budget.safetensors_count import write_canonical

    write_canonical(src, dst)


def defined_names(files: list[Path]) -> dict[str, set[str]]:
    """Module name -> top-level functions and classes defined in each prediction file."""
    found = {}
    for f in files:
        try:
            tree = ast.parse(f.read_text())
        except (SyntaxError, ValueError):
            tree = ast.Module(body=[], type_ignores=[])
        found[f.stem] = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return found


class _Rewriter:
    def __init__(self, zf: zipfile.ZipFile, code: dict[str, set[str]]) -> None:
        self.zf, self.code = zf, code
        self.ids = 0
        self.files: dict[str, str] = {}
        self.arrays: dict[str, bytes] = {}

    def node(self, value: object) -> object:
        if isinstance(value, list):
            return [self.node(v) for v in value]
        if not isinstance(value, dict):
            return _float32_values(value)
        loader = value.get("__loader__")
        if loader == "DictNode":  # keys in order before ids and array names are handed out
            value = dict(value)
            _sort_dict_node(value)
        node_id = self._fresh_id() if "__id__" in value else None  # a parent's before its children's
        # sorted keys: ids and array names follow no order the candidate chose
        out = {k: self.node(value[k]) for k in sorted(value)}
        if node_id is not None:
            out["__id__"] = node_id
        if loader is not None and (not isinstance(loader, str) or loader not in LOADERS):
            raise ArtifactError(f"skops nodes must use skops's own loaders. Got {str(loader)[:40]!r}.")
        if "__class__" in value or "__module__" in value:  # the counter checked both are names
            module, cls = JSON_CLASS if loader == "JsonNode" else canonical_class(
                str(value.get("__module__")), str(value.get("__class__")), self.code)
            out["__module__"], out["__class__"] = module, cls
        if isinstance(value.get("file"), str) and value.get("type") == "numpy":
            out["file"] = self._array(value["file"])
        if loader == "JsonNode" and isinstance(value.get("content"), str):
            out["content"] = json.dumps(_float32_values(json.loads(value["content"])))  # the counted value
        return out

    def _fresh_id(self) -> int:
        """A new id for every node: none may point at another (skops would load the earlier one)."""
        self.ids += 1
        return self.ids

    def _array(self, name: str) -> str:
        if name not in self.files:
            arr = load_npy(self.zf, name)  # rebuilt from zeroed memory: no runner byte can follow
            new = f"{len(self.files)}.npy"
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            self.files[name], self.arrays[new] = new, buf.getvalue()
        return self.files[name]


def _float32_values(value: object) -> object:
    """``value`` with every float rounded to the nearest float32 value and NaN made canonical:
    a JSON float counts one, so it may carry no more than 32 bits."""
    if isinstance(value, float):
        with np.errstate(over="ignore"):
            return CANONICAL_NAN if value != value else float(np.float32(value))
    if isinstance(value, list):
        return [_float32_values(v) for v in value]
    if isinstance(value, dict):
        return {k: _float32_values(v) for k, v in value.items()}
    return value


def _sort_dict_node(node: dict[str, Any]) -> None:
    """Order a DictNode's keys as ``json.dumps(sort_keys=True)`` will, its key_types alike."""
    content, key_types = node.get("content"), node.get("key_types")
    types = key_types.get("content") if isinstance(key_types, dict) else None
    if isinstance(key_types, dict):
        key_types = node["key_types"] = dict(key_types)  # the candidate's schema stays as read
    if not (isinstance(content, dict) and isinstance(types, list) and len(types) == len(content)):
        return  # the counter refuses such a node; nothing to keep in step
    order = sorted(range(len(content)), key=list(content).__getitem__)
    items = list(content.items())
    node["content"] = dict(items[i] for i in order)
    key_types["content"] = [types[i] for i in order]


@functools.cache
def _format_fields() -> dict[str, object]:
    """The root fields skops writes about its own format, as the runner's skops writes them.

    Read from skops' source rather than imported: importing ``skops.io`` imports every scikit-learn
    estimator (about 4 s of CPU, paid on the candidate's critical path at every submission)."""
    import skops

    origin = importlib.util.find_spec("skops")
    assert origin is not None and origin.submodule_search_locations, "skops is a dependency of pitfalls"
    source = Path(origin.submodule_search_locations[0]) / "io" / "_protocol.py"
    for node in ast.parse(source.read_text()).body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PROTOCOL"]
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)):
            return {"protocol": node.value.value, "_skops_version": skops.__version__}
    raise RuntimeError(f"skops' format version must be set as `PROTOCOL = <int>` in {source}. Got no such line "
                       "instead: this skops release is not supported; install the version pyproject.toml names.")


def canonical_skops(src: Path, dst: Path, *, code: dict[str, set[str]]) -> None:
    """Rewrite a skops file (counted again first): fresh ids, arrays renamed and rebuilt from their
    values (:func:`pitfalls.budget.skops_arrays.load_npy`: zeroed padding, floats rounded to float32
    values, one NaN), JsonNodes re-encoded from their values (floats alike), checked classes.

    Args:
        code: module name -> names defined in the prediction files (see :func:`defined_names`).

    Raises:
        ArtifactError: a node names a class that is neither a library class nor defined in code,
            or a module the runner must not import.
    """
    from pitfalls.budget.skops_count import count_skops

    count_skops(src)  # every check of the counter first: what is rewritten below is well formed
    with zipfile.ZipFile(src) as zf:
        rewriter = _Rewriter(zf, code)
        try:
            schema = rewriter.node(json.loads(zf.read("schema.json")))
            schema.update(_format_fields())  # the candidate's values were checked, not kept
        except ArtifactError:
            raise
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ArtifactError(f"{src.name} must be a readable skops file. Got {type(exc).__name__}.") from None
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("schema.json", json.dumps(schema, sort_keys=True))
        for name in sorted(rewriter.arrays):
            out.writestr(name, rewriter.arrays[name])


def canonicalize(src: Path, dst: Path, *, code_files: list[Path]) -> None:
    """Write the predictor's copy of a counted artifact to ``dst`` (same format as ``src``)."""
    if src.suffix == ".safetensors":
        canonical_safetensors(src, dst)
    else:
        canonical_skops(src, dst, code=defined_names(code_files))

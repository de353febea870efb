"""Counting a skops artifact (scikit-learn) from its schema and ``.npy`` headers.

The rule is in :mod:`pitfalls.artifacts`; nothing here unpickles or instantiates anything.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np

from .artifact_defaults import constructor_defaults, is_default
from .artifacts import ArtifactError, ParamCount

MAX_SCHEMA_BYTES = 8 * 1024 * 1024


def _numbers_per_element(dtype: np.dtype, name: str) -> int:
    if dtype.names:
        return sum(_numbers_per_element(dtype.fields[f][0], name) for f in dtype.names)
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return math.prod(shape) * _numbers_per_element(base, name)
    if dtype.kind in "biuf":
        return 1
    if dtype.kind == "c":
        return 2
    raise ArtifactError(f"array {name} must be numeric. Got dtype {dtype} instead. Store numbers, "
                        "or encode labels as integers.")


def _npy_count(raw, name: str) -> int:
    try:
        version = np.lib.format.read_magic(raw)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(raw)
    except (ValueError, OSError, SyntaxError, TypeError):
        raise ArtifactError(f"array {name} must be a valid .npy file. Got unreadable bytes instead.") from None
    if dtype.hasobject:
        raise ArtifactError(f"array {name} must not hold Python objects (that needs pickle). "
                            "Convert it to a numeric array.")
    return math.prod(shape) * _numbers_per_element(dtype, name)


def _cost(value: object) -> int:
    """Numbers a JSON value carries: 1 per number or bool, 1 per 8 characters of text."""
    if value is None:
        return 0
    if isinstance(value, (bool, int, float)):
        return 1
    if isinstance(value, str):
        return math.ceil(len(value) / 8)
    if isinstance(value, list):
        return sum(_cost(v) for v in value)
    if isinstance(value, dict):
        return sum(_cost(k) + _cost(v) for k, v in value.items())
    return math.ceil(len(str(value)) / 8)


NAMES = "(attribute names)"
KNOWN_KEYS = {"NdArrayNode": {"content"}, "JsonNode": {"content"}, "ObjectNode": {"content"},
              "DictNode": {"content"}}
STRUCTURE = {"__class__", "__module__", "__loader__", "__id__", "is_json", "type", "file"}


class _SkopsWalker:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf, self.breakdown, self.files = zf, {}, set()

    def add(self, path: str, n: int) -> None:
        if n:
            self.breakdown[path or "(root)"] = self.breakdown.get(path or "(root)", 0) + n

    def walk(self, node: object, path: str, defaults: dict | None = None, key: str | None = None) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                self.walk(item, f"{path}[{i}]")
            return
        if not isinstance(node, dict):
            self.add(path, _cost(node))
            return
        loader, content = node.get("__loader__"), node.get("content")
        if loader in KNOWN_KEYS:  # anything skops does not write there still counts
            for k, child in node.items():
                if k not in STRUCTURE and k not in KNOWN_KEYS[loader]:
                    self.walk(child, f"{path}.{k}" if path else k)
        if loader == "NdArrayNode":
            self._array(node, path)
        elif loader == "JsonNode":
            value = json.loads(content) if isinstance(content, str) else content
            if not (defaults is not None and key in defaults and is_default(value, defaults[key])):
                self.add(path, _cost(value))
        elif loader == "ObjectNode":
            self._object(node, path)
        elif loader == "DictNode" and isinstance(content, dict):
            for k, child in content.items():
                self.add(path, _cost(k))
                self.walk(child, f"{path}[{k}]")
        else:  # lists, tuples, reduce/type/function nodes and plain schema dicts
            for k, child in node.items():
                if k not in STRUCTURE:
                    self.walk(child, path if k in ("content", "__reduce__", "args", "state") else f"{path}.{k}")

    def _array(self, node: dict, path: str) -> None:
        if node.get("type") == "numpy":
            name = node.get("file")
            if not isinstance(name, str) or name not in self.zf.namelist():
                raise ArtifactError(f"array at {path or 'the root'} must be stored in the file. "
                                    f"Got a reference to {str(name)[:40]!r}, which is missing.")
            self.files.add(name)
            with self.zf.open(name) as raw:
                self.add(path, _npy_count(raw, name))
        else:  # an object array stored as JSON nodes, e.g. feature_names_in_
            content = node.get("content")
            for item in content if isinstance(content, list) else [content]:
                self.walk(item, path)

    def _object(self, node: dict, path: str) -> None:
        content = node.get("content")
        defaults = constructor_defaults(str(node.get("__module__", "")), str(node.get("__class__", "")))
        if isinstance(content, dict) and content.get("__loader__") == "DictNode":
            for k, child in content.items():  # key_types, and anything else beside the attributes
                if k not in STRUCTURE and k != "content":
                    self.walk(child, path)
            for k, child in (content.get("content") or {}).items():
                sub = f"{path}.{k}" if path else str(k)
                if defaults is None or k not in defaults:
                    self.add(NAMES, _cost(k))  # an attribute costs its name, unless it is a setting
                self.walk(child, sub, defaults, k)
        else:
            self.walk(content, path)


def _pop_format_fields(schema: object) -> None:
    """Drop the two root fields skops writes about its own format, once they look like it."""
    if not isinstance(schema, dict):
        raise ArtifactError("schema.json must hold a JSON object. Got something else instead.")
    protocol, version = schema.pop("protocol", None), schema.pop("_skops_version", None)
    if not (isinstance(protocol, int) and isinstance(version, str) and len(version) <= 20
            and all(c.isdigit() or c in ".rcabdevpost" for c in version)):
        raise ArtifactError("schema.json must carry skops's integer `protocol` and its version "
                            f"string. Got protocol={str(protocol)[:20]!r}, _skops_version="
                            f"{str(version)[:20]!r} instead.")


def _open_zip(path: Path, max_unpacked_mb: int) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArtifactError(f"{path.name} must be a skops file (a zip archive). Got something "
                            "else instead. Save with `skops.io.dump(model, path)`.") from None
    infos = zf.infolist()
    names = [i.filename for i in infos]
    problems = []
    if len(set(names)) != len(names):
        problems.append("duplicate member names")
    if zf.comment or any(i.extra or i.comment for i in infos):
        problems.append("zip comments or extra fields")
    if infos and min(i.header_offset for i in infos) != 0:
        problems.append("bytes before the archive")
    if sum(i.file_size for i in infos) > max_unpacked_mb * 1024 * 1024:
        problems.append(f"more than {max_unpacked_mb} MiB unpacked")
    if "schema.json" not in names:
        problems.append("no schema.json")
    elif zf.getinfo("schema.json").file_size > MAX_SCHEMA_BYTES:
        problems.append(f"a schema.json over {MAX_SCHEMA_BYTES // 2**20} MiB")
    if problems:
        zf.close()
        raise ArtifactError(f"{path.name} must be a plain skops archive written by skops.io.dump. "
                            f"Got {', '.join(problems)} instead.")
    return zf


def count_skops(path: Path, *, max_unpacked_mb: int = 64) -> ParamCount:
    """Count the numbers stored in a skops file by reading its schema and ``.npy`` headers."""
    with _open_zip(path, max_unpacked_mb) as zf:
        try:
            schema = json.loads(zf.read("schema.json"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, RecursionError):
            raise ArtifactError(f"{path.name}: schema.json must be JSON. Got unreadable text instead.") from None
        walker = _SkopsWalker(zf)
        try:
            _pop_format_fields(schema)
            walker.walk(schema, "")
        except (TypeError, KeyError, AttributeError, ValueError, RecursionError) as exc:
            if isinstance(exc, ArtifactError):
                raise
            raise ArtifactError(f"{path.name}: schema.json must follow the skops format. Got a "
                                f"malformed node instead ({type(exc).__name__}).") from None
        stray = set(zf.namelist()) - walker.files - {"schema.json"}
        if stray:
            raise ArtifactError(f"{path.name} must contain only schema.json and the arrays it "
                                f"references. Got {sorted(stray)[:3]} as well.")
    return ParamCount(total=sum(walker.breakdown.values()), breakdown=walker.breakdown)

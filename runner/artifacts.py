"""Trusted parameter counting of model artifacts, without running any candidate code.

What counts as a parameter (also in README.md):

- **safetensors** (torch): every element of every tensor in the file. That is
  ``model.parameters()`` *and* buffers saved in the state dict (BatchNorm's ``running_mean``,
  ``running_var`` and ``num_batches_tracked`` count: they are learned from the training data).
  Tied weights count once when saved with ``safetensors.torch.save_model`` (which stores a shared
  tensor once). The header may hold only ``dtype``, ``shape`` and ``data_offsets`` per tensor,
  tensor names of at most 128 characters, no empty tensors, and a ``__metadata__`` of at most
  4 KiB; nothing may follow the tensor data.
- **skops** (scikit-learn): every number the file stores. Each element of a numeric array counts
  one (a complex element two; a structured array one per field per row: a tree's ``nodes``);
  every scalar counts one, and every string one per 8 characters, wherever it is (including
  dict keys and attribute names). Free: a scikit-learn estimator's constructor settings left at
  their default value, and the names of its constructor parameters. Arrays of strings, bytes or
  objects are rejected. The zip must hold exactly ``schema.json`` and the arrays it references.

The artifact is parsed from its bytes (JSON headers, ``.npy`` headers); nothing is unpickled or
instantiated, and any malformed structure is an :class:`ArtifactError`, never a crash.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .artifact_defaults import constructor_defaults, is_default


class ArtifactError(ValueError):
    """The artifact is missing, malformed, or in a format that cannot be counted safely."""


@dataclass
class ParamCount:
    total: int
    breakdown: dict[str, int] = field(default_factory=dict)
    """Count per tensor name (torch) or per attribute path (sklearn)."""

    def top(self, n: int = 12) -> dict[str, int]:
        """The ``n`` largest entries, for reports."""
        return dict(sorted(self.breakdown.items(), key=lambda kv: -kv[1])[:n])


SAFETENSORS_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2,
                           "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8,
                           "U64": 8, "F64": 8}
MAX_METADATA_BYTES = 4 * 1024
MAX_TENSOR_NAME = 128
MAX_NAME_BYTES = 1024
MAX_SCHEMA_BYTES = 8 * 1024 * 1024


def _tensor(path: Path, name: object, info: object) -> tuple[int, int, int]:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TENSOR_NAME:
        raise ArtifactError(f"{path.name}: tensor names must be strings of 1-{MAX_TENSOR_NAME} "
                            f"characters. Got {str(name)[:40]!r}... instead.")
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        keys = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise ArtifactError(f"{path.name}: tensor {name!r} must have exactly dtype, shape and "
                            f"data_offsets. Got {keys} instead.")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in SAFETENSORS_DTYPE_BYTES:
        raise ArtifactError(f"{path.name}: tensor {name!r} must have a numeric dtype. Got {dtype!r} instead.")
    if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)):
        raise ArtifactError(f"{path.name}: tensor {name!r} must have an integer shape and two integer "
                            f"data_offsets. Got shape={shape!r}, data_offsets={offsets!r} instead.")
    numel = math.prod(shape)
    if numel == 0:
        raise ArtifactError(f"{path.name}: tensor {name!r} must not be empty. Drop empty tensors.")
    if offsets[1] - offsets[0] != numel * SAFETENSORS_DTYPE_BYTES[dtype]:
        raise ArtifactError(f"{path.name}: tensor {name!r} byte range must match its shape.")
    return numel, offsets[0], offsets[1]


def count_safetensors(path: Path) -> ParamCount:
    """Count tensor elements in a safetensors file, validating its layout strictly."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        (n,) = struct.unpack("<Q", head) if len(head) == 8 else (size,)
        if n > min(size - 8, 16 * 1024 * 1024):
            raise ArtifactError(f"{path.name} must be a safetensors file. Got a {size}-byte file "
                                "without a valid header instead. Save with `safetensors.torch.save_model`.")
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError, RecursionError):
            header = None
    if not isinstance(header, dict):
        raise ArtifactError(f"{path.name} must have a JSON object as its safetensors header. Got "
                            "something else instead. Save with `safetensors.torch.save_model`.")
    meta = header.pop("__metadata__", None) or {}
    if len(json.dumps(meta)) > MAX_METADATA_BYTES:
        raise ArtifactError(f"{path.name}: __metadata__ must be at most {MAX_METADATA_BYTES} bytes.")
    names = sum(len(str(k)) for k in header)
    if names > MAX_NAME_BYTES + 16 * len(header):
        raise ArtifactError(f"{path.name}: tensor names must total at most {MAX_NAME_BYTES} + 16 per "
                            f"tensor characters. Got {names} instead. Use the module's own names.")
    breakdown, spans = {}, []
    for name, info in header.items():
        numel, start, end = _tensor(path, name, info)
        breakdown[name] = numel
        spans.append((start, end))
    pos = 0
    for start, end in sorted(spans):
        if start != pos:
            raise ArtifactError(f"{path.name}: tensor data must be contiguous. Found a gap or "
                                f"overlap at byte {pos}.")
        pos = end
    if pos != size - 8 - n:
        raise ArtifactError(f"{path.name} must contain only tensor data after its header. Got "
                            f"{size - 8 - n - pos} bytes more (or fewer) instead.")
    return ParamCount(total=sum(breakdown.values()), breakdown=breakdown)


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


def count_params(path: Path, *, max_mb: int) -> ParamCount:
    """Count parameters of an artifact, dispatching on its suffix.

    Raises:
        ArtifactError: missing, too large, malformed, or unsupported artifact.
    """
    if not path.is_file():
        raise ArtifactError(f"Training must write the model to {path.name}. Got no such file "
                            "instead. Check that train.py saves it and finishes within the time budget.")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise ArtifactError(f"The artifact must be at most {max_mb} MiB. Got "
                            f"{size / 2**20:.1f} MiB instead.")
    if path.suffix == ".safetensors":
        return count_safetensors(path)
    if path.suffix == ".skops":
        return count_skops(path)
    raise ArtifactError(f"The artifact must be .safetensors or .skops. Got {path.suffix!r} instead.")

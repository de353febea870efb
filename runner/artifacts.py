"""Trusted parameter counting of model artifacts, without running any candidate code.

What counts as a parameter (also in README.md):

- **safetensors** (torch): every element of every tensor in the file. That is
  ``model.parameters()`` *and* buffers saved in the state dict (BatchNorm's ``running_mean``,
  ``running_var`` and ``num_batches_tracked`` count: they are learned from the training data).
  Tied weights count once when saved with ``safetensors.torch.save_model`` (which stores a shared
  tensor once). The file must be exactly header + tensor data: no trailing bytes, and
  ``__metadata__`` at most 4 KiB.
- **skops** (scikit-learn): every element of every array (``coef_``, ``intercept_``,
  ``classes_``, ``mean_``, tree ``nodes`` with one count per field per node, tree ``values``,
  ...), and every number or string inside a list, tuple or dict (a string counts one per 8
  characters). Plain scalar settings stored directly on an estimator (``C=1.0``,
  ``solver='lbfgs'``, ``n_features_in_``) do not count, but the non-array part of the file
  (``schema.json``) must stay under 256 KiB, which bounds what can hide there.

The artifact is parsed from its bytes (JSON headers, ``.npy`` headers); nothing is unpickled or
instantiated here.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


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
MAX_SCHEMA_BYTES = 256 * 1024
MAX_METADATA_BYTES = 4 * 1024


def count_safetensors(path: Path) -> ParamCount:
    """Count tensor elements in a safetensors file, validating its layout."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise ArtifactError(f"{path.name} must be a safetensors file. Got {size} bytes instead.")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, 16 * 1024 * 1024):
            raise ArtifactError(f"{path.name} must start with a safetensors header. Got a header "
                                f"length of {n} bytes in a {size}-byte file instead.")
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            raise ArtifactError(f"{path.name} must have a JSON safetensors header. Got unreadable "
                                "bytes instead. Save with `safetensors.torch.save_model`.") from None
    meta = header.pop("__metadata__", None) or {}
    if len(json.dumps(meta)) > MAX_METADATA_BYTES:
        raise ArtifactError(f"{path.name}: __metadata__ must be at most {MAX_METADATA_BYTES} bytes.")
    breakdown, spans = {}, []
    for name, info in header.items():
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in SAFETENSORS_DTYPE_BYTES:
            raise ArtifactError(f"{path.name}: tensor {name!r} has unsupported dtype {dtype!r}.")
        numel = math.prod(shape)
        if end - start != numel * SAFETENSORS_DTYPE_BYTES[dtype]:
            raise ArtifactError(f"{path.name}: tensor {name!r} byte range does not match its shape.")
        breakdown[name] = numel
        spans.append((start, end))
    data_len = size - 8 - n
    covered = sorted(spans)
    pos = 0
    for start, end in covered:
        if start != pos:
            raise ArtifactError(f"{path.name}: tensor data must be contiguous. Found a gap or "
                                f"overlap at byte {pos}.")
        pos = end
    if pos != data_len:
        raise ArtifactError(f"{path.name} must contain only tensor data after its header. Got "
                            f"{data_len - pos} extra bytes instead.")
    return ParamCount(total=sum(breakdown.values()), breakdown=breakdown)


def _npy_count(raw: zipfile.ZipExtFile, name: str) -> int:
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(raw)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(raw)
    if dtype.hasobject:
        raise ArtifactError(f"array {name} must not hold Python objects (that needs pickle). "
                            "Convert it to a numeric array.")
    return math.prod(shape) * max(1, len(dtype.names or ()))


def _json_scalar_count(text: str) -> int:
    value = json.loads(text)
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, str):
        return math.ceil(len(value) / 8)
    return _nested_count(value)


def _nested_count(value: object) -> int:
    if isinstance(value, (list, tuple)):
        return sum(_nested_count(v) for v in value)
    if isinstance(value, dict):
        return sum(_nested_count(v) + _nested_count(k) for k, v in value.items())
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return 1
    return math.ceil(len(str(value)) / 8)


class _SkopsWalker:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf, self.breakdown, self.files = zf, {}, set()

    def add(self, path: str, n: int) -> None:
        if n:
            self.breakdown[path] = self.breakdown.get(path, 0) + n

    def walk(self, node: object, path: str, in_container: bool) -> None:
        if not isinstance(node, dict):
            return
        loader, content = node.get("__loader__"), node.get("content")
        if loader == "NdArrayNode":
            if node.get("type") == "numpy":
                self.files.add(node["file"])
                with self.zf.open(node["file"]) as raw:
                    self.add(path, _npy_count(raw, node["file"]))
            else:
                self.add(path, _nested_count(content))
        elif loader == "JsonNode":
            if in_container:
                self.add(path, _json_scalar_count(content))
        elif loader == "ObjectNode" and isinstance(content, dict):
            # an object's own state: its direct scalar settings are free, its containers are not
            if content.get("__loader__") == "DictNode":
                for key, child in content.get("content", {}).items():
                    self.walk(child, f"{path}.{key}" if path else key, in_container=False)
            else:
                self.walk(content, path, in_container)
        elif loader in ("ListNode", "TupleNode") and isinstance(content, list):
            for i, child in enumerate(content):
                self.walk(child, f"{path}[{i}]", in_container=True)
        elif loader == "DictNode" and isinstance(content, dict):
            self.add(path, sum(math.ceil(len(str(k)) / 8) for k in content) if in_container else 0)
            for key, child in content.items():
                self.walk(child, f"{path}[{key}]", in_container=True)
        else:
            for key, child in node.items():
                if isinstance(child, (dict, list)) and key not in ("__id__",):
                    items = child if isinstance(child, list) else [child]
                    for item in items:
                        self.walk(item, f"{path}.{key}", in_container)


def count_skops(path: Path, *, max_unpacked_mb: int = 64) -> ParamCount:
    """Count the numbers stored in a skops file by reading its schema and ``.npy`` headers."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ArtifactError(f"{path.name} must be a skops file (a zip archive). Got something "
                            "else instead. Save with `skops.io.dump(model, path)`.") from None
    with zf:
        infos = zf.infolist()
        unpacked = sum(i.file_size for i in infos)
        if unpacked > max_unpacked_mb * 1024 * 1024:
            raise ArtifactError(f"{path.name} must unpack to at most {max_unpacked_mb} MiB. Got "
                                f"{unpacked / 2**20:.1f} MiB instead.")
        names = {i.filename for i in infos}
        if "schema.json" not in names:
            raise ArtifactError(f"{path.name} must contain schema.json. Save with skops.io.dump.")
        schema_size = zf.getinfo("schema.json").file_size
        if schema_size > MAX_SCHEMA_BYTES:
            raise ArtifactError(f"{path.name}: the non-array part (schema.json) must be at most "
                                f"{MAX_SCHEMA_BYTES // 1024} KiB. Got {schema_size // 1024} KiB "
                                "instead. Store learned values in arrays, where they are counted.")
        walker = _SkopsWalker(zf)
        walker.walk(json.loads(zf.read("schema.json")), "", in_container=False)
        stray = names - walker.files - {"schema.json"}
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

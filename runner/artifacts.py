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
  every scalar counts one (an integer one per 64 bits), every string one per 8 characters,
  wherever it is (including dict keys, attribute names and structured-array field names), and
  every element of a list, tuple or set at least one (None and the first 64 free ones aside).
  Free: a scikit-learn estimator's constructor settings left at their default value, and the
  names of its constructor parameters. Arrays of strings, bytes or objects are rejected, and so
  is any structural key (``type``, ``is_json``, ``file``, ``key_types``...) that does not hold
  what skops writes there. The zip must hold exactly ``schema.json`` and the arrays it references.

The artifact is parsed from its bytes (JSON headers, ``.npy`` headers); nothing is unpickled or
instantiated, and any malformed structure is an :class:`ArtifactError`, never a crash.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path


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
        from .skops_count import count_skops

        return count_skops(path)
    raise ArtifactError(f"The artifact must be .safetensors or .skops. Got {path.suffix!r} instead.")

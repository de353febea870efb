"""safetensors artifacts: strict parsing, counting by information, and the canonical copy.

The rule (README, "What counts as a parameter"; :mod:`pitfalls.budget.bits`): a counted parameter is
worth at most 32 bits. A tensor costs the bits its values carry, rounded up to whole parameters
per tensor: F32 elements 32 bits, F16/BF16 16, F8 8, F64 32 (the canonical copy rounds them to
float32 and writes F32: ``load_state_dict`` copies into the model's dtype), integers by the bits
their value range needs (so a 64-bit payload in I64 costs two), BOOL one bit. Every NaN becomes
one quiet NaN and every BOOL 0 or 1 in the canonical copy, so payload bits never reach the
predictor. Each tensor's header entry costs one per 5 characters of its name, counting one more
character for its dtype and one per dimension (summed under ``(tensor names)``); names must be
ASCII ``[A-Za-z0-9_.]``, at most 128 characters.

Everything here is parsed from bytes; any malformed input is an :class:`ArtifactError`.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pitfalls.budget.bits import NAME_CHARS_PER_PARAM, leaf_bits, params_for_bits
from pitfalls.budget.types import ArtifactError, ParamCount

DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("u1", 1), "U8": ("u1", 8), "I8": ("i1", 8), "F8_E5M2": ("u1", 8), "F8_E4M3": ("u1", 8),
    "I16": ("<i2", 16), "U16": ("<u2", 16), "F16": ("<u2", 16), "BF16": ("<u2", 16),
    "I32": ("<i4", 32), "U32": ("<u4", 32), "F32": ("<u4", 32),
    "I64": ("<i8", 64), "U64": ("<u8", 64), "F64": ("<u8", 32)}
"""safetensors dtype -> (numpy dtype the raw bytes are read as, float bits charged per element).

Floats are read as unsigned integers of their width (numpy has no bfloat16 or float8), so their
NaNs can be rewritten bit-exactly; integer dtypes are charged by value range instead."""
NAN_FIX: dict[str, tuple[int, int, int]] = {
    "F32": (0x7FFFFFFF, 0x7F800000, 0x7FC00000), "F16": (0x7FFF, 0x7C00, 0x7E00),
    "BF16": (0x7FFF, 0x7F80, 0x7FC0), "F8_E5M2": (0x7F, 0x7C, 0x7E), "F8_E4M3": (0x7F, 0x7E, 0x7F)}
"""dtype -> (mask without the sign, largest non-NaN magnitude, the canonical quiet NaN).

An element is a NaN iff ``raw & mask > largest`` (F8_E4M3 has no infinities: 0x7F is its NaN)."""
INT_DTYPES = {"U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64"}
NAME_RE = re.compile(r"[A-Za-z0-9_.]+", re.ASCII)
MAX_METADATA_BYTES = 4 * 1024
MAX_TENSOR_NAME = 128
MAX_NAME_BYTES = 1024
MAX_DIMS = 8
MAX_HEADER = 16 * 1024 * 1024
NAMES = "(tensor names)"


@dataclass(frozen=True)
class Tensor:
    """One validated header entry."""

    name: str
    dtype: str
    shape: list[int]
    start: int
    end: int


def _fail(path: Path, msg: str) -> ArtifactError:
    return ArtifactError(f"{path.name}: {msg}")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _tensor(path: Path, name: object, info: object) -> Tensor:
    """One header entry, checked: an identifier-like name, exactly dtype/shape/data_offsets."""
    if not isinstance(name, str) or len(name) > MAX_TENSOR_NAME or not NAME_RE.fullmatch(name):
        raise _fail(path, f"tensor names must be strings of 1-{MAX_TENSOR_NAME} characters from "
                          f"[A-Za-z0-9_.]. Got {str(name)[:40]!r} instead. Use the module's own names "
                          "(save with `safetensors.torch.save_model`).")
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        keys = sorted(map(str, info)) if isinstance(info, dict) else type(info).__name__
        raise _fail(path, f"tensor {name!r} must have exactly dtype, shape and data_offsets. "
                          f"Got {keys} instead.")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _fail(path, f"tensor {name!r} must have a numeric dtype ({', '.join(DTYPES)}). "
                          f"Got {str(dtype)[:20]!r} instead.")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(_is_int(d) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)):
        raise _fail(path, f"tensor {name!r} must have a shape of at most {MAX_DIMS} non-negative "
                          f"integers and two integer data_offsets. Got shape={str(shape)[:60]}, "
                          f"data_offsets={str(offsets)[:60]} instead.")
    numel = math.prod(shape)
    if numel == 0:
        raise _fail(path, f"tensor {name!r} must not be empty. Drop empty tensors.")
    if offsets[1] - offsets[0] != numel * np.dtype(DTYPES[dtype][0]).itemsize:
        raise _fail(path, f"tensor {name!r} byte range must match its shape. Got "
                          f"{offsets[1] - offsets[0]} bytes for shape {shape} instead.")
    return Tensor(name, dtype, shape, offsets[0], offsets[1])


def _read_header(path: Path) -> tuple[dict, bytes]:
    """The JSON header (a dict) and the bytes after it."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8]) if len(raw) >= 8 else (len(raw),)
    if n > min(len(raw) - 8, MAX_HEADER):
        raise ArtifactError(f"{path.name} must be a safetensors file. Got a {len(raw)}-byte file without "
                            "a valid header instead. Save with `safetensors.torch.save_model`.")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise ArtifactError(f"{path.name} must have a JSON object as its safetensors header. Got "
                            "something else instead. Save with `safetensors.torch.save_model`.")
    return header, raw[8 + n:]


def _metadata(path: Path, meta: object) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _fail(path, f"__metadata__ must be an object of strings to strings. Got "
                          f"{type(meta).__name__} {str(meta)[:40]} instead. Save with "
                          "`safetensors.torch.save_model`.")
    if len(json.dumps(meta)) > MAX_METADATA_BYTES:
        raise _fail(path, f"__metadata__ must be at most {MAX_METADATA_BYTES} bytes. Got "
                          f"{len(json.dumps(meta))} instead. Keep learned values in tensors.")
    return meta


def parse_safetensors(path: Path) -> tuple[list[Tensor], dict[str, str], bytes]:
    """Validated tensors (by name), metadata and the data section of a safetensors file.

    Raises:
        ArtifactError: anything but a well-formed file with contiguous, non-empty tensors.
    """
    header, data = _read_header(path)
    meta = _metadata(path, header.pop("__metadata__", None))
    names = sum(len(str(k)) for k in header)
    if names > MAX_NAME_BYTES + 16 * len(header):
        raise _fail(path, f"tensor names must total at most {MAX_NAME_BYTES} + 16 per tensor characters. "
                          f"Got {names} instead. Use the module's own names.")
    tensors = sorted((_tensor(path, k, v) for k, v in header.items()), key=lambda t: t.name)
    pos = 0
    for t in sorted(tensors, key=lambda t: (t.start, t.end)):
        if t.start != pos:
            raise _fail(path, f"tensor data must be contiguous. Found a gap or overlap at byte {pos}.")
        pos = t.end
    if pos != len(data):
        raise ArtifactError(f"{path.name} must contain only tensor data after its header. Got "
                            f"{len(data) - pos} bytes more (or fewer) instead.")
    return tensors, meta, data


def raw_values(t: Tensor, data: bytes) -> np.ndarray:
    """The tensor's elements as read (floats as unsigned integers of their width)."""
    return np.frombuffer(data, dtype=DTYPES[t.dtype][0], count=math.prod(t.shape), offset=t.start)


def tensor_cost(t: Tensor, raw: np.ndarray) -> int:
    """Counted parameters for one tensor's values (rounded up per tensor, at least one)."""
    if t.dtype == "BOOL":
        return params_for_bits(raw.size)
    if t.dtype in INT_DTYPES:
        return params_for_bits(leaf_bits(raw))
    return params_for_bits(raw.size * DTYPES[t.dtype][1])


def entry_cost(t: Tensor) -> int:
    """A header entry: one per 5 characters of its name, plus one character for its dtype and
    one per dimension."""
    return math.ceil((len(t.name) + 1 + len(t.shape)) / NAME_CHARS_PER_PARAM)


def count_tensors(path: Path) -> ParamCount:
    """Count a safetensors file by the rule in this module's docstring."""
    tensors, _, data = parse_safetensors(path)
    breakdown = {t.name: tensor_cost(t, raw_values(t, data)) for t in tensors}
    breakdown[NAMES] = sum(entry_cost(t) for t in tensors)
    return ParamCount(total=sum(breakdown.values()), breakdown=breakdown)


def canonical_values(t: Tensor, raw: np.ndarray) -> tuple[str, bytes]:
    """The dtype and bytes the predictor gets: F64 rounded to F32, one quiet NaN, BOOL 0/1."""
    if t.dtype == "BOOL":
        return "BOOL", (raw != 0).astype("u1").tobytes()
    if t.dtype == "F64":
        with np.errstate(over="ignore", invalid="ignore"):
            raw = raw.view("<f8").astype("<f4").view("<u4")
        return canonical_values(Tensor(t.name, "F32", t.shape, 0, 0), raw)
    if t.dtype in NAN_FIX:
        mask, largest, nan = NAN_FIX[t.dtype]
        out = raw.copy()
        out[(out & mask) > largest] = nan
        return t.dtype, out.tobytes()
    return t.dtype, raw.tobytes()


def write_canonical(src: Path, dst: Path) -> None:
    """Rewrite ``src`` to ``dst``: rebuilt header (sorted names, fresh offsets, metadata reduced
    to ``format``), canonical tensor bytes (:func:`canonical_values`)."""
    tensors, meta, data = parse_safetensors(src)
    out: dict[str, object] = {}
    chunks, pos = [], 0
    for t in tensors:
        dtype, blob = canonical_values(t, raw_values(t, data))
        out[t.name] = {"dtype": dtype, "shape": t.shape, "data_offsets": [pos, pos + len(blob)]}
        chunks.append(blob)
        pos += len(blob)
    if meta.get("format") == "pt":
        out["__metadata__"] = {"format": "pt"}
    text = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))

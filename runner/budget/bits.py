"""The information a stored value carries, in counted parameters of at most 32 bits each.

One rule for every artifact format (README, "What counts as a parameter"): a counted parameter
is worth at most :data:`BITS_PER_PARAM` bits, and no encoding may carry more than that per
counted parameter. Floats are charged by the width the predictor gets (a float64 is rounded to
the nearest float32 value in the canonical copy, see :func:`canonical_array`, so it costs one
like a float32; a float16 costs half), integers by the bits their values need, booleans one bit,
strings one per 4 bytes of UTF-8 and names (identifiers only) one per 5 characters.

Both counters (``skops_count.py``, ``artifacts.py``) and the re-encoder (``canonical.py``) use
these functions, so what is counted and what the predictor receives cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np

from pitfalls.budget.types import ArtifactError

BITS_PER_PARAM = 32
NAME_CHARS_PER_PARAM = 5  # an identifier character carries about 6 bits
STRING_BYTES_PER_PARAM = 4
FLOAT_BITS = {2: 16, 4: 32, 8: 32}
"""Bits charged per float element by item size: a float64 counts as the float32 it becomes."""
CANONICAL_NAN = float("nan")


def params_for_bits(bits: int) -> int:
    """Counted parameters needed to carry ``bits`` bits (at least one for any value)."""
    return max(1, math.ceil(bits / BITS_PER_PARAM))


def int_bits(value: int) -> int:
    """Bits an integer needs: its magnitude's bit length plus a sign bit if negative (at least 1)."""
    return max(1, abs(value).bit_length() + (value < 0))


def int_cost(value: int) -> int:
    """A scalar integer: one per 32 bits of :func:`int_bits`."""
    return params_for_bits(int_bits(value))


def string_cost(value: str) -> int:
    """A string value: one per 4 bytes of UTF-8, at least one (the empty string too)."""
    return max(1, math.ceil(len(value.encode("utf-8", "surrogatepass")) / STRING_BYTES_PER_PARAM))


def check_name(name: object, where: str) -> str:
    """``name`` if it is a Python identifier of printable ASCII; else an :class:`ArtifactError`."""
    if not (isinstance(name, str) and name.isascii() and name.isidentifier() and name.isprintable()):
        raise ArtifactError(f"Names in the artifact ({where}) must be Python identifiers of printable "
                            f"ASCII. Got {str(name)[:40]!r} instead. Store data in arrays, not in names.")
    return name


def name_cost(name: str) -> int:
    """An attribute or field name (already checked): one per 5 characters, at least one."""
    return max(1, math.ceil(len(name) / NAME_CHARS_PER_PARAM))


def leaf_bits(values: np.ndarray) -> int:
    """Bits carried by a plain (non-structured) numeric array, by the rule above.

    Integers: ``int_bits(min) + n * bit_length(max - min)`` (at least one bit each): n values
    in a range of R+1 carry at most n*log2(R+1) bits, and the range's base is one integer more.
    Booleans one bit each; floats by :data:`FLOAT_BITS` (complex: twice).

    Raises:
        ArtifactError: a dtype the rule does not price (long double, strings, objects, dates).
    """
    dtype, n = values.dtype, int(values.size)
    if dtype.kind == "b":
        return n
    if dtype.kind in "iu":
        if n == 0:
            return 0
        low, high = int(values.min()), int(values.max())
        return int_bits(low) + n * max(1, (high - low).bit_length())
    if dtype.kind in "fc" and (dtype.itemsize // (2 if dtype.kind == "c" else 1)) in FLOAT_BITS:
        per = FLOAT_BITS[dtype.itemsize // (2 if dtype.kind == "c" else 1)]
        return n * per * (2 if dtype.kind == "c" else 1)
    if dtype.kind in "fc":
        raise ArtifactError(f"Arrays must hold float16, float32 or float64 numbers. Got {dtype} (extended "
                            "precision) instead. Convert it with .astype(np.float64).")
    raise ArtifactError(f"Arrays must be numeric (bool, integer, float or complex). Got dtype {dtype} "
                        "instead. Store numbers, or encode labels as integers.")


def _leaves(arr: np.ndarray):
    """(field path, plain array) for every leaf field of a (possibly structured) array."""
    if arr.dtype.names is None:
        yield "", arr
        return
    for name in arr.dtype.names:
        for sub, leaf in _leaves(arr[name]):
            yield f"{name}.{sub}" if sub else name, leaf


def array_bits(arr: np.ndarray) -> int:
    """Bits carried by an array's values: each leaf field priced by :func:`leaf_bits`."""
    return sum(leaf_bits(leaf) for _, leaf in _leaves(arr))


def array_cost(arr: np.ndarray) -> int:
    """Counted parameters for an array's values, rounded up per leaf field (at least one each).

    An empty array's shape is all it carries: its dimensions cost as integers.
    """
    if arr.size == 0:
        return params_for_bits(sum(int_bits(d) for d in arr.shape) + arr.ndim)
    return sum(params_for_bits(leaf_bits(leaf)) for _, leaf in _leaves(arr))


def check_layout(dtype: np.dtype, name: str) -> None:
    """A structured dtype must be laid out packed or as C aligns it (no other gaps), without titles.

    Raises:
        ArtifactError: gaps other than C alignment, titles, or fields that are not identifiers.
    """
    if dtype.subdtype is not None:
        check_layout(dtype.subdtype[0], name)
        return
    if dtype.names is None:
        return
    fields = []
    for field in dtype.names:
        check_name(field, f"a field of array {name}")
        sub, _, *title = dtype.fields[field]
        if title:
            raise ArtifactError(f"Fields of array {name} must have no titles. Got a title on {field!r} "
                                "instead. Use plain field names.")
        check_layout(sub, name)
        fields.append((field, sub))
    spec = {"names": [f for f, _ in fields], "formats": [s for _, s in fields]}
    if dtype not in (np.dtype(spec), np.dtype(spec, align=True)):
        raise ArtifactError(f"Structured array {name} must be packed or C-aligned. Got offsets "
                            f"{[dtype.fields[f][1] for f in dtype.names][:8]} and itemsize "
                            f"{dtype.itemsize} instead (gaps could carry uncounted bytes).")


def _canonical_leaf(values: np.ndarray) -> np.ndarray:
    """A plain leaf with canonical bits: booleans 0/1, floats of at most 32 bits, one NaN."""
    if values.dtype.kind == "b":
        raw = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8).reshape(values.shape)
        return raw != 0
    if values.dtype.kind == "c":
        return _canonical_leaf(values.real) + 1j * _canonical_leaf(values.imag)
    if values.dtype.kind == "f":
        out = values.astype(np.float32).astype(values.dtype) if values.dtype.itemsize > 4 else values.copy()
        out[np.isnan(out)] = CANONICAL_NAN
        return out
    return values


def canonical_array(arr: np.ndarray) -> np.ndarray:
    """A fresh native-endian C-order copy of a checked numeric array, built from zeroed memory.

    Every byte is determined by the counted values: padding is zero, booleans are 0/1, float64
    values are rounded to the nearest float32 value (dtype kept), and every NaN is one quiet NaN.
    """
    dtype = arr.dtype.newbyteorder("=") if arr.dtype.names is None else _native(arr.dtype)
    out = np.zeros(arr.shape, dtype=dtype)
    if arr.dtype.names is None:
        with np.errstate(over="ignore", invalid="ignore"):
            out[...] = _canonical_leaf(arr)
        return out
    for field in arr.dtype.names:
        out[field] = canonical_array(arr[field])
    return out


def _native(dtype: np.dtype) -> np.dtype:
    """``dtype`` with every leaf field in native byte order, layout (offsets, itemsize) kept."""
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return np.dtype((_native(base), shape))
    if dtype.names is None:
        return dtype.newbyteorder("=")
    return np.dtype({"names": list(dtype.names), "formats": [_native(dtype.fields[f][0]) for f in dtype.names],
                     "offsets": [dtype.fields[f][1] for f in dtype.names], "itemsize": dtype.itemsize})

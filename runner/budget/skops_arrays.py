"""The ``.npy`` members of a skops file: read, checked, counted and rebuilt from their values.

The counter (``skops_count.py``) and the re-encoder (``canonical.py``) both read arrays through
:func:`load_npy`, which refuses what the rule cannot price (objects, strings, long doubles,
structured layouts with gaps other than C alignment, field titles, field names that are not
identifiers) and returns :func:`pitfalls.budget.bits.canonical_array` of the values: a fresh array built
from zeroed memory, so no byte of it (padding included) comes from anywhere but the values the
candidate's file determined, with floats at most 32 bits wide and one NaN.
"""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np

from pitfalls.budget.bits import array_cost, canonical_array, check_layout, leaf_bits, name_cost
from pitfalls.budget.types import ArtifactError

RECORD_FIELDS = frozenset(
    "left_child right_child feature threshold impurity n_node_samples weighted_n_node_samples missing_go_to_left "
    "value count feature_idx num_threshold left right gain depth is_leaf bin_threshold is_categorical bitset_idx "
    "idx_start idx_end radius".split())  # scikit-learn's records: tree, HGB predictor and KD/ball-tree nodes


def _check_dtype(dtype: np.dtype, name: str) -> None:
    """Every leaf field must be a dtype the rule prices (checked on an empty array of it)."""
    if dtype.hasobject:
        raise ArtifactError(f"array {name} must not hold Python objects (that needs pickle). "
                            "Convert it to a numeric array.")
    check_layout(dtype, name)
    empty = np.zeros(0, dtype=dtype)
    for field in dtype.names or ():
        _check_dtype(dtype.fields[field][0], name)
    if dtype.names is None:
        leaf_bits(empty if dtype.subdtype is None else np.zeros(0, dtype.subdtype[0]))


def load_npy(zf: zipfile.ZipFile, member: str) -> np.ndarray:
    """The canonical copy of the numeric array stored in ``member`` (see the module docstring).

    Raises:
        ArtifactError: unreadable bytes, or a dtype or layout the rule refuses.
    """
    try:
        raw = io.BytesIO(zf.read(member))
        version = np.lib.format.read_magic(raw)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(raw)
        size = len(raw.getbuffer()) - raw.tell()
    except ArtifactError:
        raise
    except Exception:  # noqa: BLE001 - zip, zlib and numpy raise many types on bad bytes
        raise ArtifactError(f"array {member[:60]} must be a valid .npy file. Got unreadable bytes "
                            "instead. Save with skops.io.dump.") from None
    _check_dtype(dtype, member[:60])
    if size != math.prod(shape) * dtype.itemsize:
        raise ArtifactError(f"array {member[:60]} must hold exactly the {shape} values its header declares. "
                            f"Got {size} bytes of data for {math.prod(shape)} values of {dtype.itemsize} "
                            "bytes instead. Save with skops.io.dump.")
    try:
        raw.seek(0)
        arr = np.load(raw, allow_pickle=False)
    except Exception:  # noqa: BLE001 - truncated data, a shape the bytes do not fill
        raise ArtifactError(f"array {member[:60]} must hold the {shape} values its header declares. "
                            "Got unreadable or missing data instead. Save with skops.io.dump.") from None
    return canonical_array(arr)


def field_name_cost(dtype: np.dtype) -> int:
    """Field names of a structured dtype (checked identifiers), scikit-learn's record fields aside."""
    if dtype.subdtype is not None:
        return field_name_cost(dtype.subdtype[0])
    return sum((f not in RECORD_FIELDS) * name_cost(f) + field_name_cost(dtype.fields[f][0])
               for f in dtype.names or ())


def npy_cost(arr: np.ndarray) -> int:
    """Counted parameters of a loaded array: its values and its field names."""
    return array_cost(arr) + field_name_cost(arr.dtype)

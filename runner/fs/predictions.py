"""Reading the prediction sandbox's ``predictions.npy``: any bytes in, an array or a verdict out.

The file is written inside the prediction sandbox, where candidate code runs, so every byte of it
is the candidate's. This trusted reader opens it without following links, reads at most a bound,
parses the ``.npy`` header itself and checks that the data holds exactly the values the header
declares before building an array from those bytes: no pickle, no allocation the file does not
pay for, and a :class:`~pitfalls.core.results.Violation` with a clear message for anything else.
"""

from __future__ import annotations

import ast
import errno
import io
import math
import os
import stat
from pathlib import Path

import numpy as np

from pitfalls.core.results import Violation

MAGIC = b"\x93NUMPY"
MAX_HEADER_BYTES = 4096
HOW = "Return a numeric array from predict(model, features); the harness saves it with np.save."


def _refuse(actual: str, n_rows: int, why: str = "") -> Violation:
    return Violation(constraint="predictions", limit=f"a .npy array of {n_rows} rows", actual=actual,
                     message=f"Predictions must be a numeric array saved as one .npy file, one row per held-out "
                             f"row ({n_rows}). Got {actual} instead.{' ' + why if why else ''} {HOW}")


def read_capped(folder: Path, name: str, limit: int) -> bytes | str:
    """The bytes of ``folder/name`` if it is a regular file of at most ``limit`` bytes (never
    following a link, never blocking on a FIFO); else what was found instead, as text."""
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return {errno.ENOENT: "no file", errno.ELOOP: "a link"}.get(exc.errno or 0, f"an unreadable file ({exc.strerror})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "something other than a regular file (a folder, FIFO or device)"
        if st.st_size > limit:
            return f"{st.st_size} bytes"
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(2**20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return f"an unreadable file ({exc.strerror})"
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data if len(data) <= limit else f"more than {limit:,} bytes"


def _header(raw: io.BytesIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of a ``.npy`` header (ValueError for anything malformed)."""
    version = np.lib.format.read_magic(raw)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"format version {version}")
    size_bytes = 2 if version == (1, 0) else 4
    length = int.from_bytes(raw.read(size_bytes), "little")
    if length > MAX_HEADER_BYTES:
        raise ValueError(f"a {length}-byte header")
    text = raw.read(length)
    if len(text) != length:
        raise ValueError("a truncated header")
    header = ast.literal_eval(text.decode("utf-8" if version == (3, 0) else "latin1"))
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError("a header without exactly descr, fortran_order and shape")
    shape, fortran = header["shape"], header["fortran_order"]
    if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)) or type(fortran) is not bool:
        raise ValueError("a malformed shape or order")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    return shape, fortran, dtype


def parse_npy(data: bytes, *, n_rows: int) -> np.ndarray | Violation:
    """The array stored in ``data`` (``.npy`` bytes), or a verdict saying why it cannot be read."""
    if not data:
        return _refuse("an empty file", n_rows)
    if data.startswith(b"PK"):
        return _refuse("a zip archive (np.savez / .npz)", n_rows, "Save one array with np.save, not np.savez.")
    if not data.startswith(MAGIC):
        return _refuse("a file that is not .npy (no \\x93NUMPY header)", n_rows)
    raw = io.BytesIO(data)
    try:
        shape, fortran, dtype = _header(raw)
    except Exception as exc:  # noqa: BLE001 - literal_eval and numpy raise many types on bad bytes
        return _refuse(f"an unreadable .npy header ({type(exc).__name__}: {str(exc)[:80]})", n_rows)
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.itemsize == 0:
        return _refuse(f"dtype {str(dtype)[:80]}", n_rows, "Objects, records and sub-arrays cannot be scored.")
    count, left = math.prod(shape), len(data) - raw.tell()
    if left != count * dtype.itemsize:
        return _refuse(f"{left} bytes of data where the header declares {count:,} values of {dtype.itemsize} "
                       "bytes (a truncated or padded file)", n_rows)
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=raw.tell())
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def load_predictions(out: Path, *, n_rows: int, n_cols: int) -> np.ndarray | Violation:
    """``out/predictions.npy`` as an array, or a verdict; never an exception for any content."""
    limit = n_rows * max(n_cols, 1) * 16 * 8 + MAX_HEADER_BYTES + 16
    found = read_capped(out, "predictions.npy", limit)
    if isinstance(found, str):
        return _refuse(found, n_rows, "The prediction harness writes predictions.npy itself; do not replace it.")
    return parse_npy(found, n_rows=n_rows)

"""Property-based tests: every byte of ``predictions.npy`` is the candidate's, so the trusted loader
and the scoring validation must answer any content with an array or a clear verdict, never an
exception, and any array that loads must score to finite numbers or be refused.

Fast by design (no sandbox): the loader (runner/fs/predictions.py, behind pipeline._load_predictions)
and pipeline.score_array run in this process on real scaffolds' held-out labels.
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pitfalls.core.results import Violation
from pitfalls.fs.predictions import parse_npy
from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.scoring.pipeline import _load_predictions, score_array

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
SCAFFOLDS = ("tumor_triage", "clinic_visits", "digits_budget", "diabetes_progression")  # label, 2 probas, value


@functools.cache
def scaffold(name: str) -> Scaffold:
    sc = load_scaffold(name)
    sc.dataset()
    return sc


def n_rows(sc: Scaffold) -> int:
    return len(sc.dataset().heldout)


def npy(arr: np.ndarray, **kw: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def header_bytes(header: str, version: int = 1, pad: bytes = b"") -> bytes:
    """A hand-made ``.npy`` header (any text, any declared length) followed by ``pad``."""
    raw = header.encode("latin1", "replace")
    size = struct.pack("<H", len(raw)) if version == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes([version, 0]) + size + raw + pad


def assert_verdict(v: Violation) -> None:
    """A clear rejection: the predictions constraint, "must be ... Got ... instead", and short."""
    assert isinstance(v, Violation), v
    assert v.constraint == "predictions", v
    assert v.message.startswith("Predictions must be") and "Got" in v.message and "instead" in v.message, v.message
    assert len(v.message) < 1000 and "Traceback" not in v.message


def load_bytes(data: bytes, rows: int, cols: int = 0) -> np.ndarray | Violation:
    """The real loader on ``data`` written as the prediction sandbox would leave it."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "predictions.npy").write_bytes(data)
        return _load_predictions(Path(tmp), rows, cols)


def judge(sc: Scaffold, data: bytes) -> np.ndarray | Violation:
    """Load then validate and score ``data`` for ``sc``; assert only arrays or verdicts come back."""
    got = load_bytes(data, n_rows(sc), len(sc.manifest.task.classes))
    if isinstance(got, Violation):
        assert_verdict(got)
        return got
    assert isinstance(got, np.ndarray) and not got.dtype.hasobject
    result = score_array(sc, got)
    if isinstance(result, Violation):
        assert_verdict(result)
    else:
        public, private = result
        assert math.isfinite(public) and (private is None or math.isfinite(private)), result
    return got


# --- any bytes ------------------------------------------------------------------------------------

@FAST
@given(data=st.binary(max_size=4096), name=st.sampled_from(SCAFFOLDS))
def test_any_bytes_give_an_array_or_a_verdict(data, name):
    judge(scaffold(name), data)


@FAST
@given(data=st.binary(max_size=600), name=st.sampled_from(SCAFFOLDS))
def test_any_bytes_after_the_npy_magic_give_an_array_or_a_verdict(data, name):
    judge(scaffold(name), b"\x93NUMPY" + data)


@FAST
@given(name=st.sampled_from(SCAFFOLDS), cut=st.integers(0, 10_000), junk=st.binary(max_size=64),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4))
def test_damaged_honest_files_give_a_verdict_or_an_array(name, cut, junk, flips):
    """An honest predictions file truncated, padded and with bytes flipped (header or data)."""
    sc = scaffold(name)
    k = len(sc.manifest.task.classes)
    honest = np.full((n_rows(sc), k), 1 / k) if sc.manifest.task.prediction == "proba" else np.zeros(n_rows(sc))
    data = bytearray(npy(honest))
    for at, x in flips:
        data[at % len(data)] ^= x
    judge(sc, bytes(data[: max(0, len(data) - cut % (len(data) + 1))]) + junk)


DESCRS = ["'<f8'", "'>f4'", "'<f2'", "'<f16'", "'|b1'", "'<i8'", "'|u1'", "'<c16'", "'|O'", "'<U3'", "'|S0'",
          "'|V8'", "'<M8[ns]'", "'<m8'", "[('a', '<f8')]", "[('', '|V4'), ('b', '<i4')]", "('<f8', (2,))",
          "[('a', '<f8', (2, 2))]", "'x'", "3", "None", "{}", "'<f8' * 9999"]


@FAST
@given(name=st.sampled_from(SCAFFOLDS), descr=st.sampled_from(DESCRS),
       shape=st.lists(st.integers(-3, 2**40), max_size=3).map(tuple) | st.sampled_from(["()", "(250,)", "[1]", "'x'"]),
       fortran=st.sampled_from(["False", "True", "1", "'no'"]), version=st.sampled_from([1, 2, 3, 9]),
       extra=st.sampled_from(["", ", 'x': 1"]), pad=st.binary(max_size=256))
def test_hand_made_headers_give_a_verdict_or_an_array(name, descr, shape, fortran, version, extra, pad):
    """Headers no np.save would write: huge or negative shapes, objects, records, sub-arrays, junk."""
    header = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}{extra}, }}"
    judge(scaffold(name), header_bytes(header, version=min(version, 2), pad=pad))


def test_a_huge_header_is_refused_unread():
    v = parse_npy(header_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (250,)}" + " " * 60_000), n_rows=250)
    assert_verdict(v)
    assert "header" in v.actual


# --- any array np.save or np.savez can write --------------------------------------------------------

ANY_DTYPE = (hnp.scalar_dtypes() | hnp.byte_string_dtypes() | hnp.unicode_string_dtypes()
             | hnp.array_dtypes(subtype_strategy=hnp.scalar_dtypes(), max_size=3)
             | st.sampled_from([np.dtype("f2"), np.dtype(">f8"), np.dtype(np.longdouble), np.dtype("c8")]))


@FAST
@given(name=st.sampled_from(SCAFFOLDS),
       arr=hnp.arrays(ANY_DTYPE, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)),
       fortran=st.booleans())
def test_any_saved_array_round_trips_or_gets_a_verdict(name, arr, fortran):
    """Whatever np.save writes comes back bit for bit (or is refused); scoring answers with a verdict."""
    arr = np.asfortranarray(arr) if fortran else arr
    got = judge(scaffold(name), npy(arr))
    if isinstance(got, np.ndarray):
        assert got.dtype == arr.dtype and got.shape == arr.shape
        assert got.tobytes() == np.ascontiguousarray(arr).tobytes()


@FAST
@given(name=st.sampled_from(SCAFFOLDS), values=st.floats(allow_nan=True, allow_infinity=True, width=64)
       | st.sampled_from([1e308, -1e308, 1e200, 5e-324, 2.0**63, -0.0]), where=st.integers(0, 10**6),
       width=st.sampled_from(["<f8", ">f8", "<f4", "<f2"]))
def test_right_shaped_arrays_with_any_value_score_finitely_or_get_a_verdict(name, values, where, width):
    """The honest shape with one extreme value (NaN, infinities, the largest floats, subnormals)."""
    sc = scaffold(name)
    k = len(sc.manifest.task.classes)
    kind = sc.manifest.task.prediction
    arr = np.full((n_rows(sc), k), 1 / k) if kind == "proba" else np.zeros(n_rows(sc))
    with np.errstate(all="ignore"):
        arr = arr.astype(width)
        arr.flat[where % arr.size] = values
    judge(sc, npy(arr))


@pytest.mark.parametrize("arrays", [{"arr_0": np.zeros(250)}, {"a": np.zeros(250), "b": np.ones(3)}, {}])
def test_npz_archives_get_a_clear_verdict(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    v = load_bytes(buf.getvalue(), 250)
    assert_verdict(v)
    assert "np.savez" in v.message and "np.save" in v.message


@pytest.mark.parametrize("data, said", [(b"", "an empty file"), (npy(np.zeros(250))[:-1], "truncated"),
                                        (npy(np.zeros(250)) + b"\0", "padded"), (b"\x80\x04K\x01.", "not .npy"),
                                        (npy(np.array([{}] * 250), allow_pickle=True), "dtype object"),
                                        (npy(np.zeros(250, dtype=[("a", "<f8")])), "dtype [('a', '<f8')]")])
def test_each_kind_of_bad_file_is_named(data, said):
    v = load_bytes(data, 250)
    assert_verdict(v)
    assert said in v.message


def test_a_fortran_ordered_file_loads_as_written():
    arr = np.asfortranarray(np.arange(500, dtype=np.float32).reshape(250, 2))
    got = load_bytes(npy(arr), 250, 2)
    assert isinstance(got, np.ndarray) and np.array_equal(got, arr)


@pytest.mark.parametrize("kind", ["fifo", "link", "folder", "missing"])
def test_what_is_not_a_regular_file_gets_a_verdict_without_blocking(tmp_path, kind):
    """A FIFO would block a plain open(); a link would make this trusted process read a host file."""
    target = tmp_path / "predictions.npy"
    secret = tmp_path / "secret.npy"
    secret.write_bytes(npy(np.zeros(250)))
    {"fifo": lambda: os.mkfifo(target), "link": lambda: target.symlink_to(secret),
     "folder": target.mkdir, "missing": lambda: None}[kind]()
    v = _load_predictions(tmp_path, 250, 0)
    assert_verdict(v)


def test_an_honest_file_still_scores():
    sc = scaffold("tumor_triage")
    got = judge(sc, npy(np.zeros(n_rows(sc), dtype=np.int64)))
    assert isinstance(got, np.ndarray) and not isinstance(score_array(sc, got), Violation)

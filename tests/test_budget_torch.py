"""Packing attacks on the safetensors budget and on the prediction code: a counted parameter must
carry at most 32 bits.

Each test hides trained-looking data where it once rode for free or at more than 32 bits per
counted number (fp16 weights in float64 bits, NaN payloads, 64-bit integers, boolean bytes,
tensor names, literals, identifiers, docstrings, comments, the shape of the code itself) and
checks it is refused with a clear message or counted at its information, and that the copy the
predictor receives (runner/budget/canonical.py, code_count.predictor_source) holds nothing beyond what
was counted. The rule: README, "What counts as a parameter"; runner/budget/safetensors_count.py and
runner/budget/code_count.py.
"""

from __future__ import annotations

import base64
import json
import lzma
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_model
from torch import nn

from pitfalls.budget.artifacts import ArtifactError, count_params
from pitfalls.budget.canonical import canonicalize
from pitfalls.budget.code_count import CODE, count_code, free_code, predictor_source
from pitfalls.library.scaffold import load_scaffold
from pitfalls.scoring.pipeline import check_artifact
from pitfalls.scoring.predictor import stage_model

MAX_MB = 16
NAMES = "(tensor names)"
RAW = {"F64": "<u8", "F32": "<u4", "F16": "<u2", "BF16": "<u2", "F8_E5M2": "u1", "F8_E4M3": "u1",
       "I64": "<i8", "U64": "<u8", "BOOL": "u1", "I32": "<i4"}


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _write(path: Path, tensors: dict[str, tuple[str, list[int], bytes]], meta: object = None) -> Path:
    """A safetensors file from (dtype, shape, raw bytes) per name, laid out in the given order."""
    header: dict[str, object] = {}
    pos, blobs = 0, []
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + len(blob)]}
        pos += len(blob)
        blobs.append(blob)
    if meta is not None:
        header["__metadata__"] = meta
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return path


def _read(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Name -> (dtype, raw elements) of a safetensors file, read independently of the runner."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {k: (v["dtype"], np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], RAW[v["dtype"]]))
            for k, v in header.items()}


def _canonical(tmp_path: Path, src: Path) -> dict[str, tuple[str, np.ndarray]]:
    dst = tmp_path / f"c_{src.name}"
    canonicalize(src, dst, code_files=[])
    return _read(dst)


# ============================================================================================
# safetensors: values
# ============================================================================================

def test_fp16_weights_packed_into_float64_lose_what_was_not_counted(tmp_path):
    """The issue's attack: 4 fp16 weights in the 64 bits of one float64 element. One F64 element
    counts one (32 bits), and the predictor gets it rounded to F32: the packed weights are gone."""
    weights = _rng().standard_normal(4 * 2000).astype(np.float16)
    src = _write(tmp_path / "packed.safetensors", {"w": ("F64", [2000], weights.tobytes())})
    count = count_params(src, max_mb=MAX_MB)
    assert count.breakdown["w"] == 2000
    dtype, got = _canonical(tmp_path, src)["w"]
    assert dtype == "F32" and got.nbytes * 8 <= 32 * count.breakdown["w"]  # nothing beyond the count
    unpacked = got.view("<f4").astype("<f8").view("<f2")
    assert np.mean(unpacked == weights) < 0.6  # the low 32 bits of every double were rounded away


def _nan_patterns(dtype: str, n: int = 500) -> np.ndarray:
    """Many distinct NaNs of ``dtype`` (payloads, signalling and negative ones) as raw integers."""
    width = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16}
    if dtype in width:
        exp_bits = {"F64": 11, "F32": 8, "F16": 5, "BF16": 8}[dtype]
        mant = width[dtype] - 1 - exp_bits
        payload = _rng().integers(1, 2 ** min(mant, 62), size=n, dtype=np.uint64)  # 1 = signalling
        exp = np.uint64(((1 << exp_bits) - 1) << mant)
        sign = (np.arange(n, dtype=np.uint64) % 2) << np.uint64(width[dtype] - 1)
        return (sign | exp | payload).astype(RAW[dtype])
    if dtype == "F8_E5M2":
        return np.array([0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF] * 10, dtype="u1")
    return np.array([0x7F, 0xFF] * 10, dtype="u1")  # F8_E4M3: its only NaNs


@pytest.mark.parametrize("dtype", ["F64", "F32", "F16", "BF16", "F8_E5M2", "F8_E4M3"])
def test_nan_payloads_become_one_quiet_nan(tmp_path, dtype):
    """NaN payloads (signalling NaNs included) would carry bits past any canonical float check."""
    nans = _nan_patterns(dtype)
    assert len(np.unique(nans)) > 1
    src = _write(tmp_path / f"nan_{dtype}.safetensors", {"w": (dtype, [nans.size], nans.tobytes())})
    out_dtype, got = _canonical(tmp_path, src)["w"]
    canonical = {"F64": 0x7FC00000, "F32": 0x7FC00000, "F16": 0x7E00, "BF16": 0x7FC0,
                 "F8_E5M2": 0x7E, "F8_E4M3": 0x7F}[dtype]
    assert out_dtype == ("F32" if dtype == "F64" else dtype)
    assert set(got.tolist()) == {canonical}


def test_nan_payloads_are_canonical_for_torch_too(tmp_path):
    """The predictor reads the copy with torch: every NaN has the one bit pattern there as well."""
    nans = _nan_patterns("F32")
    src = _write(tmp_path / "t.safetensors", {"w": ("F32", [nans.size], nans.tobytes())})
    canonicalize(src, tmp_path / "c.safetensors", code_files=[])
    w = load_file(tmp_path / "c.safetensors")["w"]
    assert torch.isnan(w).all() and set(w.view(torch.int32).tolist()) == {0x7FC00000}


def test_ordinary_floats_pass_through_bit_for_bit(tmp_path):
    """Honest float32/float16 weights (infinities, -0.0, subnormals) reach the predictor unchanged."""
    w32 = np.concatenate([_rng().standard_normal(100), [np.inf, -np.inf, -0.0, 1e-45]]).astype("<f4")
    w16 = _rng().standard_normal(64).astype("<f2")
    src = _write(tmp_path / "ok.safetensors", {"a": ("F32", [w32.size], w32.tobytes()),
                                               "b": ("F16", [8, 8], w16.tobytes())})
    got = _canonical(tmp_path, src)
    assert got["a"][1].tobytes() == w32.tobytes() and got["b"][1].tobytes() == w16.tobytes()
    assert count_params(src, max_mb=MAX_MB).breakdown["b"] == 32  # 64 halves


@pytest.mark.parametrize("dtype", ["I64", "U64"])
def test_64_bit_integer_payloads_cost_two_each(tmp_path, dtype):
    payload = _rng().integers(0, 2 ** 63, size=1000, dtype=np.int64).astype(RAW[dtype]) | np.array(1 << 62, RAW[dtype])
    src = _write(tmp_path / "i.safetensors", {"w": (dtype, [1000], payload.tobytes())})
    assert count_params(src, max_mb=MAX_MB).breakdown["w"] >= 1000 * 62 // 32
    small = np.arange(1000, dtype=RAW[dtype]) % 7
    src = _write(tmp_path / "s.safetensors", {"w": (dtype, [1000], small.tobytes())})
    assert count_params(src, max_mb=MAX_MB).breakdown["w"] == math.ceil((2 + 1000 * 3) / 32)


def test_bool_bytes_are_bits(tmp_path):
    """A BOOL element is one byte on disk: any byte would ride along unless made 0/1."""
    raw = np.arange(256, dtype="u1")
    src = _write(tmp_path / "b.safetensors", {"mask": ("BOOL", [256], raw.tobytes())})
    assert count_params(src, max_mb=MAX_MB).breakdown["mask"] == 8  # 256 bits
    assert _canonical(tmp_path, src)["mask"][1].tolist() == [0] + [1] * 255


def test_float64_model_loads_from_its_canonical_copy(tmp_path):
    """load_state_dict copies into the model's dtype: a float64 model loads the F32 copy."""
    from safetensors.torch import load_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    save_model(model, str(tmp_path / "m.safetensors"))
    canonicalize(tmp_path / "m.safetensors", tmp_path / "c.safetensors", code_files=[])
    again = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    load_model(again, str(tmp_path / "c.safetensors"))
    x = torch.randn(20, 5, dtype=torch.float64)
    assert torch.allclose(model(x), again(x), atol=1e-6)


# ============================================================================================
# safetensors: names and header
# ============================================================================================

@pytest.mark.parametrize("name", ["wé", "ｗeight", "w\u200b", "a-b", "a b", "x" * 129, "名前"])
def test_names_outside_ascii_identifier_characters_are_refused(tmp_path, name):
    src = _write(tmp_path / "n.safetensors", {name: ("F32", [1], b"\0" * 4)})
    with pytest.raises(ArtifactError, match=r"\[A-Za-z0-9_\.\]"):
        count_params(src, max_mb=MAX_MB)


def test_numbers_in_long_ascii_names_are_charged_their_bits(tmp_path):
    """The issue's attack, in ASCII: 128-character names over one-element tensors, each name
    holding 96 bytes of weights in a base64-like alphabet (6 bits a character)."""
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_."))
    symbols = _rng().integers(0, 64, size=(8, 128))  # more would pass the 1 KiB + 16 per tensor total
    names = ["".join(alphabet[row]) for row in symbols]
    src = _write(tmp_path / "names.safetensors", {n: ("F32", [1], b"\0" * 4) for n in names})
    count = count_params(src, max_mb=MAX_MB)
    hidden_bits = symbols.size * 6 + len(names) * 32
    assert count.total * 32 >= hidden_bits
    assert count.breakdown[NAMES] == len(names) * math.ceil((128 + 1 + 1) / 5)


@pytest.mark.parametrize("meta", ["pt", ["format", "pt"], 7, {"format": 1}, {"a": ["b"]}, {"a": None}])
def test_metadata_that_is_not_strings_to_strings_is_a_verdict(tmp_path, meta):
    """The runner used to crash on a string or list __metadata__ (meta.get)."""
    src = _write(tmp_path / "m.safetensors", {"w": ("F32", [1], b"\0" * 4)}, meta=meta)
    for action in (lambda: count_params(src, max_mb=MAX_MB),
                   lambda: canonicalize(src, tmp_path / "c.safetensors", code_files=[])):
        with pytest.raises(ArtifactError, match="__metadata__ must be an object of strings to strings"):
            action()


def test_too_many_dimensions_refused(tmp_path):
    """The number of unit dimensions would be a free choice per tensor."""
    src = _write(tmp_path / "d.safetensors", {"w": ("F32", [1] * 9, b"\0" * 4)})
    with pytest.raises(ArtifactError, match="at most 8"):
        count_params(src, max_mb=MAX_MB)


# ============================================================================================
# prediction code
# ============================================================================================

DIGITS = load_scaffold("digits_budget")
SMALL_NET = '''
import torch
from safetensors.torch import load_model as load_weights
from torch import nn

PIXELS = [f"p{i}" for i in range(64)]


def build_model():
    return nn.Sequential(nn.Linear(64, 10))


def load_model(path):
    model = build_model()
    load_weights(model, path)
    return model


def predict(model, features):
    X = torch.tensor(features[PIXELS].to_numpy(), dtype=torch.float32) / 16.0
    with torch.no_grad():
        return torch.softmax(model(X), dim=1).numpy()
'''


def _digits_work(tmp_path: Path, code: str) -> Path:
    """A finished training folder for digits_budget: a 650-parameter network and ``code``."""
    work = tmp_path / "work"
    (work / "artifacts").mkdir(parents=True)
    save_model(nn.Sequential(nn.Linear(64, 10)), str(work / "artifacts" / "model.safetensors"))
    (work / "model.py").write_text(code)
    return work


def _free() -> object:
    return free_code(DIGITS.root.resolve(), tuple(DIGITS.manifest.predict_files))


def _training_matrix() -> np.ndarray:
    train = DIGITS.dataset().train
    return np.column_stack([train.drop(columns=["label"]).to_numpy(), train["label"].to_numpy()]).astype(np.uint8)


def test_training_set_as_literals_is_over_budget(tmp_path):
    """The issue's attack: training rows in model.py (to train on inside load_model), within the
    64 KiB code bound, with a 650-parameter network. Every number is charged: over budget."""
    rows = _training_matrix()[:400]  # 26,000 numbers, about 57 KiB as text
    work = _digits_work(tmp_path, SMALL_NET + "\nTRAIN = " + repr(rows.tolist()).replace(" ", "") + "\n")
    assert (work / "model.py").stat().st_size <= DIGITS.manifest.budgets.max_code_kb * 1024
    total, found = check_artifact(scaffold=DIGITS, work=work, enforce=True)
    assert [v.constraint for v in found] == ["max_params"], found
    assert "prediction code" in found[0].message
    assert found[0].details[CODE] >= rows.size - 200  # a few small numbers appear in the starter


def test_packed_training_set_is_charged_its_bytes(tmp_path):
    """Packed tighter (lzma in a bytes literal), the whole training set costs its bits: one per
    4 bytes. Known limit (README): digits_budget's 20,000 x 32 bits exceed the training set's
    information, so this fits the budget; it is charged, not free."""
    payload = base64.b85encode(lzma.compress(_training_matrix().tobytes(), preset=9))
    for literal in (payload, payload.decode()):  # bytes, str
        count = count_code({"model.py": SMALL_NET + f"\nTRAIN = {literal!r}\n"}, _free())
        assert sum(count.literals.values()) >= len(payload) / 4
    work = _digits_work(tmp_path, SMALL_NET + f"\nTRAIN = {payload.decode()!r}\n")
    total, found = check_artifact(scaffold=DIGITS, work=work, enforce=True)
    assert not found and total >= 650 + len(payload) / 4


def test_str_bytes_and_fstring_literals_are_charged(tmp_path):
    text = "x" * 400
    for code in (f"A = {text!r}\n", f"A = {text.encode()!r}\n", f"A = f'{text}{{1}}'\n"):
        assert sum(count_code({"model.py": code}).literals.values()) >= 100, code


def test_double_precision_float_literals_cost_two(tmp_path):
    """A float literal is a double: 64 bits unless it is exactly a float32 value."""
    doubles = _rng().standard_normal(100).tolist()
    halves = [float(np.float32(v)) for v in doubles]
    assert sum(count_code({"m.py": f"A = {doubles!r}\n"}).literals.values()) == 200
    assert sum(count_code({"m.py": f"A = {halves!r}\n"}).literals.values()) == 100


def test_starter_literals_are_free_only_as_often_as_the_starter_has_them():
    base = count_code({"model.py": SMALL_NET}, _free())
    assert sum(base.literals.values()) == 0  # 64, 10, 16.0, 1, "p" ... all appear in the starter
    more = count_code({"model.py": SMALL_NET + "\nX = [64] * 1\nY = (64, 64, 64, 64, 64, 64)\n"}, _free())
    assert more.literals.get("64", 0) >= 1


def test_data_in_identifiers_is_charged_or_refused():
    names = [f"w{_rng(i).integers(10 ** 17, 10 ** 18)}{i:04d}" for i in range(200)]  # 23 characters
    code = "\n".join(f"{n} = None" for n in names)
    assert count_code({"model.py": code}).identifiers >= 200 * 23 // 5
    with pytest.raises(ArtifactError, match="at most 32 characters"):
        count_code({"model.py": "a" * 33 + " = 1\n"})
    with pytest.raises(ArtifactError, match="ASCII"):
        count_code({"model.py": "wé = 1\n"})
    with pytest.raises(ArtifactError, match="at most 32 characters"):
        count_code({"model.py": "import numpy as " + "n" * 40 + "\n"})
    with pytest.raises(ArtifactError, match="at most 32 characters"):
        count_code({"model.py": "f(" + "k" * 40 + "=1)\n"})


def test_data_in_the_shape_of_the_code_is_charged():
    """Bits as a sequence of two names (no literal, no new identifier after the first two)."""
    bits = _rng().integers(0, 2, size=4000)
    code = "o = i = None\nA = [" + ",".join("oi"[b] for b in bits) + "]\n"
    assert count_code({"model.py": code}, _free()).total * 32 >= bits.size


DOC_ATTACK = '''"""{payload}"""
import torch


class Model:
    """{payload}"""

    def __init__(self):
        """{payload}"""


def load_model(path):
    """{payload}"""
    # {payload}
    return __doc__ or Model.__doc__ or load_model.__doc__ or Model.__init__.__doc__ or open(__file__).read()


def predict(model, features):
    return model
'''


def test_docstrings_and_comments_never_reach_the_predictor(tmp_path):
    """Docstrings are free because the predictor gets a copy without them (and without comments):
    staged through the real stage_model, the attack's load_model finds nothing."""
    payload = "DATA" + "0123456789abcdef" * 200
    work = _digits_work(tmp_path, DOC_ATTACK.format(payload=payload))
    total, found = check_artifact(scaffold=DIGITS, work=work, enforce=True)
    assert not found and total < 1000  # the docstrings were not charged...
    job = tmp_path / "job"
    for d in ("model", "data"):
        (job / d).mkdir(parents=True)
    stage_model(scaffold=DIGITS, work=work, job=job)
    staged = (job / "model" / "model.py").read_text()
    assert "DATA" not in staged and "0123456789abcdef" not in staged  # ...because they are gone
    namespace: dict[str, object] = {"__file__": str(job / "model" / "model.py")}
    exec(compile(staged, "model.py", "exec"), namespace)  # noqa: S102 - the predictor's view
    seen = namespace["load_model"]("unused")
    assert "DATA" not in str(seen)
    assert count_code({"model.py": staged}).total == count_code({"model.py": work.joinpath("model.py").read_text()}).total


def test_non_docstring_strings_survive_and_are_charged():
    code = 'def f():\n    x = 1\n    "not a docstring: second statement, charged"\n    return x\n'
    src = predictor_source(code, "model.py")
    assert "not a docstring" in src
    assert sum(count_code({"model.py": code}).literals.values()) >= 10


@pytest.mark.parametrize("source", [b"def f(:\n", b"\xff\xfe", b"x = 1\x00\n", b"(" * 300 + b")" * 300,
                                    b"x = " + b"-" * 60_000 + b"1\n"])
def test_bad_prediction_code_is_a_rejection_not_a_crash(tmp_path, source):
    work = _digits_work(tmp_path, "")
    (work / "model.py").write_bytes(source)
    total, found = check_artifact(scaffold=DIGITS, work=work, enforce=True)
    assert [v.constraint for v in found] == ["prediction_code"]
    assert "must be" in found[0].message


@pytest.mark.parametrize("name", ["digits_budget", "diabetes_progression", "tumor_triage", "bike_demand",
                                  "income_screen", "clinic_visits"])
def test_shipped_starters_and_references_cost_nothing(name):
    scaffold = load_scaffold(name)
    free = free_code(scaffold.root.resolve(), tuple(scaffold.manifest.predict_files))
    for folder in ("workspace", "solution"):
        files = {p: (scaffold.root / folder / p) for p in scaffold.manifest.predict_files}
        if all(f.is_file() for f in files.values()):
            assert count_code({p: f.read_bytes() for p, f in files.items()}, free).total == 0, (name, folder)


def test_reference_prediction_code_behaves_the_same_without_docstrings(tmp_path):
    """The predictor's copy of the digits reference predicts exactly what the original does."""
    import importlib.util

    torch.manual_seed(0)
    src = DIGITS.root / "solution" / "model.py"
    stripped = tmp_path / "stripped" / "model.py"
    stripped.parent.mkdir()
    stripped.write_text(predictor_source(src.read_bytes(), "model.py"))
    mods = []
    for i, path in enumerate((src, stripped)):
        spec = importlib.util.spec_from_file_location(f"digits_model_{i}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    net = mods[0].build_model()
    save_model(net, str(tmp_path / "w.safetensors"))
    canonicalize(tmp_path / "w.safetensors", tmp_path / "c.safetensors", code_files=[])
    features = DIGITS.dataset().heldout.drop(columns=["label"]).head(50)
    a = mods[0].predict(mods[0].load_model(str(tmp_path / "w.safetensors")), features)
    b = mods[1].predict(mods[1].load_model(str(tmp_path / "c.safetensors")), features)
    assert np.array_equal(a, b)
    shutil.rmtree(tmp_path / "stripped")

"""safetensors counting (pitfalls.budget.safetensors_count through pitfalls.budget.artifacts) against
independent oracles, and malformed or smuggling safetensors files.

The oracle is torch itself (``model.parameters()``, ``model.buffers()``): every element of every tensor
in the file (parameters and saved buffers; a tied tensor once). Header entries hold exactly
dtype/shape/data_offsets, names are 1-128 characters, empty tensors are refused. A counter that can be
fooled makes the parameter budget meaningless; one that crashes on a malformed file takes the runner
down instead of rejecting the submission. Artifacts are built in-process; nothing trains a scaffold.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from artifact_kit import MAX_MB, TENSOR_NAMES, _counted_or_rejected, _expect_artifact_error, _rng
from safetensors.torch import save_model
from torch import nn

from pitfalls.budget.artifacts import count_params, count_safetensors

# ============================================================================================
# (1)-(3) torch, saved with safetensors.torch.save_model
# ============================================================================================

class _EmbeddingClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, idx):
        return self.head(self.emb(idx).mean(dim=1))


ARCHITECTURES = {
    "linear_stack": lambda: nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                          nn.Linear(32, 3)),
    "linear_no_bias": lambda: nn.Sequential(nn.Linear(7, 5, bias=False), nn.Tanh(), nn.Linear(5, 2)),
    "conv1d": lambda: nn.Sequential(nn.Conv1d(3, 8, 5), nn.ReLU(), nn.Conv1d(8, 4, 3, groups=2),
                                    nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 2)),
    "conv2d": lambda: nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 12, (3, 5), bias=False),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)),
    "embedding": _EmbeddingClassifier,
    "gru_layernorm": lambda: nn.ModuleDict({"rnn": nn.GRU(8, 16, num_layers=2), "norm": nn.LayerNorm(16)}),
    "attention": lambda: nn.MultiheadAttention(16, 4),
}


def _save(model: nn.Module, path: Path) -> Path:
    save_model(model, str(path))
    return path


def _entries_cost(tensors: dict[str, torch.Tensor]) -> int:
    """The documented header-entry charge: one per 5 characters of the name, one more character
    for the dtype and one per dimension, rounded up per tensor."""
    return sum(-(-(len(name) + 1 + t.dim()) // 5) for name, t in tensors.items())


def _elements(count) -> dict[str, int]:
    """The counter's per-tensor costs, without the header entries' charge."""
    return {k: v for k, v in count.breakdown.items() if k != TENSOR_NAMES}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_torch_count_equals_parameters(tmp_path, arch):
    torch.manual_seed(0)
    model = ARCHITECTURES[arch]()
    assert not list(model.buffers())  # these architectures hold parameters only
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    assert count.total == sum(p.numel() for p in model.parameters()) + count.breakdown[TENSOR_NAMES]
    assert _elements(count) == {name: p.numel() for name, p in model.named_parameters()}
    assert count.breakdown[TENSOR_NAMES] == _entries_cost(dict(model.named_parameters()))


@pytest.mark.parametrize("dtype,bits", [(torch.float16, 16), (torch.bfloat16, 16), (torch.float32, 32),
                                        (torch.float64, 32)])
def test_torch_count_is_information_not_bytes(tmp_path, dtype, bits):
    """A float16 element carries 16 bits (half a parameter); a float64 one is rounded to float32
    in the predictor's copy, so it counts one like a float32 (rounded up per tensor)."""
    model = ARCHITECTURES["linear_stack"]().to(dtype)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert _elements(count) == {n: -(-p.numel() * bits // 32) for n, p in model.named_parameters()}


class _WithNorms(nn.Module):
    def __init__(self, track=True):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.bn2 = nn.BatchNorm2d(8, track_running_stats=track)
        self.fc = nn.Linear(8, 32)
        self.bn1 = nn.BatchNorm1d(32, track_running_stats=track)
        self.out = nn.Linear(32, 3)

    def forward(self, x):
        x = torch.relu(self.bn2(self.conv(x))).mean(dim=(2, 3))
        return self.out(torch.relu(self.bn1(self.fc(x))))


def test_batchnorm_buffers_are_counted(tmp_path):
    torch.manual_seed(0)
    model = _WithNorms()
    model.train()
    for _ in range(3):  # running statistics learned from data, num_batches_tracked = 3
        model(torch.randn(16, 1, 8, 8))
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for b in model.buffers())
    assert n_buffers == (8 + 8 + 1) + (32 + 32 + 1)  # running mean, var and num_batches_tracked per BN
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    assert count.total - count.breakdown[TENSOR_NAMES] == n_params + n_buffers
    for bn, width in (("bn2", 8), ("bn1", 32)):
        assert count.breakdown[f"{bn}.running_mean"] == width
        assert count.breakdown[f"{bn}.running_var"] == width
        assert count.breakdown[f"{bn}.num_batches_tracked"] == 1
    assert _elements(count) == {k: v.numel() for k, v in model.state_dict().items()}
    assert count.breakdown[TENSOR_NAMES] == _entries_cost(model.state_dict())


def test_batchnorm_without_running_stats_has_no_buffers(tmp_path):
    model = _WithNorms(track=False)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert not list(model.buffers())
    assert count.total - count.breakdown[TENSOR_NAMES] == sum(p.numel() for p in model.parameters())
    assert not any("running" in k for k in count.breakdown)


def test_persistent_buffers_count_and_non_persistent_do_not(tmp_path):
    model = nn.Linear(4, 2)
    model.register_buffer("centroids", torch.randn(10, 4))
    model.register_buffer("scratch", torch.randn(1000), persistent=False)
    count = count_safetensors(_save(model, tmp_path / "model.safetensors"))
    assert count.total - count.breakdown[TENSOR_NAMES] == 4 * 2 + 2 + 40
    assert "scratch" not in count.breakdown


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.mix = nn.Linear(8, 8)
        self.out = nn.Linear(8, 50, bias=False)
        self.out.weight = self.emb.weight  # weight tying

    def forward(self, idx):
        return self.out(torch.relu(self.mix(self.emb(idx))))


def test_tied_weights_count_once(tmp_path):
    model = _Tied()
    naive = sum(t.numel() for t in model.state_dict().values())
    count = count_params(_save(model, tmp_path / "model.safetensors"), max_mb=MAX_MB)
    elements = count.total - count.breakdown[TENSOR_NAMES]
    assert elements == sum(p.numel() for p in model.parameters()) == 50 * 8 + 8 * 8 + 8
    assert naive - elements == 50 * 8  # the tied copy is not counted twice
    assert len({"emb.weight", "out.weight"} & set(count.breakdown)) == 1

# ============================================================================================
# (5) malformed artifacts and smuggling: safetensors
# ============================================================================================

def _safetensors_parts(tmp_path: Path) -> tuple[dict, bytes]:
    path = _save(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)), tmp_path / "base.safetensors")
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _write_safetensors(path: Path, header, data: bytes, raw_header: bytes | None = None) -> Path:
    blob = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def test_safetensors_roundtrip_of_the_rebuilt_file_is_accepted(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    count = count_params(_write_safetensors(tmp_path / "ok.safetensors", header, data), max_mb=MAX_MB)
    assert count.total - count.breakdown[TENSOR_NAMES] == 11


def test_safetensors_trailing_bytes_rejected(tmp_path):
    path = _save(nn.Linear(3, 2), tmp_path / "model.safetensors")
    path.write_bytes(path.read_bytes() + np.arange(1000, dtype=np.float32).tobytes())
    _expect_artifact_error(path, "extra bytes|only tensor data")


def test_safetensors_truncated_data_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    _expect_artifact_error(_write_safetensors(tmp_path / "short.safetensors", header, data[:-4]))


def test_safetensors_header_length_beyond_file_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    blob = json.dumps(header).encode()
    path = tmp_path / "liar.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob) + 10_000) + blob + data)
    _expect_artifact_error(path, "header")


def test_safetensors_tensor_claiming_more_bytes_than_exist_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    last = max(header.values(), key=lambda t: t["data_offsets"][1])
    last["shape"] = [last["shape"][0] * 1000] + last["shape"][1:]
    last["data_offsets"][1] = last["data_offsets"][0] + math.prod(last["shape"]) * 4
    _expect_artifact_error(_write_safetensors(tmp_path / "big.safetensors", header, data))


def test_safetensors_overlapping_tensors_rejected(tmp_path):
    # two names over the same bytes would let one tensor's data stand in for two
    data = np.arange(6, dtype=np.float32).tobytes()
    header = {"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
              "b": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}
    _expect_artifact_error(_write_safetensors(tmp_path / "alias.safetensors", header, data), "contiguous")


def test_safetensors_big_metadata_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    header["__metadata__"] = {"notes": ",".join(f"{v:.6f}" for v in _rng().random(2000))}
    _expect_artifact_error(_write_safetensors(tmp_path / "meta.safetensors", header, data), "metadata")



@pytest.mark.parametrize("case", [
    "not_json",
    "not_utf8",
    "unknown_dtype",
    "header_is_list",
    "entry_not_dict",
    "missing_dtype",
    "short_offsets",
    "shape_not_list",
    "negative_dim",
    "offsets_not_ints",
    "nested_too_deep",
])
def test_safetensors_malformed_header_is_an_artifact_error(tmp_path, case):
    """pipeline.check_artifact only catches ArtifactError: anything else crashes the runner."""
    header, data = _safetensors_parts(tmp_path)
    first = next(iter(header.values()))
    raw = None
    if case == "not_json":
        raw = b"{this is not json" + b" " * 7
    elif case == "not_utf8":
        raw = b'{"a": "\xff\xfe"}'
    elif case == "unknown_dtype":
        first["dtype"] = "F128"
    elif case == "header_is_list":
        header = [header]
    elif case == "entry_not_dict":
        header = {"weight": 5}
    elif case == "missing_dtype":
        del first["dtype"]
    elif case == "short_offsets":
        first["data_offsets"] = [0]
    elif case == "shape_not_list":
        first["shape"] = "ab"
    elif case == "negative_dim":
        first["shape"] = [-1] + first["shape"][1:]
    elif case == "offsets_not_ints":
        first["data_offsets"] = [str(o) for o in first["data_offsets"]]
    elif case == "nested_too_deep":
        raw = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    _expect_artifact_error(_write_safetensors(tmp_path / f"{case}.safetensors", header, data, raw))


def test_safetensors_extra_fields_in_a_tensor_entry_rejected(tmp_path):
    header, data = _safetensors_parts(tmp_path)
    hidden = [round(float(v), 6) for v in _rng().random(20_000)]
    next(iter(header.values()))["notes"] = hidden
    _expect_artifact_error(_write_safetensors(tmp_path / "fields.safetensors", header, data),
                           "exactly dtype, shape and data_offsets")


def test_safetensors_empty_tensors_rejected(tmp_path):
    """Zero-size tensors cost nothing, so their names would carry numbers for free."""
    header, data = _safetensors_parts(tmp_path)
    hidden = _rng().random(4000)
    for i, v in enumerate(hidden):
        header[f"{v:.8f}_{i}"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}
    _expect_artifact_error(_write_safetensors(tmp_path / "names.safetensors", header, data), "empty")


def test_safetensors_tensor_name_length_and_charge(tmp_path):
    """Names are ASCII [A-Za-z0-9_.], 1-128 characters, and each header entry costs one per 5
    characters of its name plus one for the dtype and one per dimension."""
    data = np.zeros(2, dtype=np.float32).tobytes()
    for name, ok in (("w" * 128, True), ("w" * 129, False), ("", False), ("wé", False), ("a b", False),
                     ("w\n", False), ("ｗ", False)):
        header = {name: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
        path = _write_safetensors(tmp_path / f"name{len(name)}.safetensors", header, data)
        if ok:
            assert count_params(path, max_mb=MAX_MB).breakdown == {name: 2, TENSOR_NAMES: -(-(128 + 2) // 5)}
        else:
            _expect_artifact_error(path, "tensor names must be strings of 1-128 characters from")


def test_safetensors_numbers_in_tensor_names(tmp_path):
    """Numbers written into names: charged at one per 5 characters (about 6 bits each)."""
    hidden = _rng().random(300 * 14)
    names = [",".join(f"{v:.6f}" for v in chunk) for chunk in hidden.reshape(300, 14)]  # 125 characters
    assert max(map(len, names)) <= 128 and len(set(names)) == 300
    header = {name: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
              for i, name in enumerate(names)}
    _counted_or_rejected(_write_safetensors(tmp_path / "names.safetensors", header,
                                            np.zeros(300, dtype=np.float32).tobytes()), hidden.size)

"""Trusted parameter counting of model artifacts, without running any candidate code.

What counts as a parameter (also in README.md):

- **safetensors** (torch): every tensor in the file, by the information its values carry
  (``safetensors_count.py``): an F32 element one, F16/BF16 a half, F8 a quarter, F64 one (the
  predictor gets it rounded to F32), integers by the bits their range needs, BOOL one bit,
  rounded up per tensor. That is ``model.parameters()`` *and* buffers saved in the state dict
  (BatchNorm's ``running_mean``, ``running_var`` and ``num_batches_tracked`` count: they are
  learned from the training data). Tied weights count once when saved with
  ``safetensors.torch.save_model``. Each header entry costs one per 5 characters of its name
  (``[A-Za-z0-9_.]``, at most 128), plus one for its dtype and one per dimension, under
  ``(tensor names)``. The header may hold only ``dtype``, ``shape`` and ``data_offsets`` per
  tensor, no empty tensors, and a ``__metadata__`` of strings of at most 4 KiB; nothing may
  follow the tensor data.
- **skops** (scikit-learn): every value the file stores, at its information: a counted
  parameter is worth at most 32 bits (README; the costs are in :mod:`pitfalls.budget.bits`, the arrays
  in :mod:`pitfalls.budget.skops_arrays`). A float32/float64 element counts one (the predictor gets
  float64 rounded to float32 and one NaN), a float16 half, an integer field by the bits of its
  range, a boolean one bit; a string one per 4 bytes of UTF-8; an attribute name (an identifier)
  one per 5 characters; every element of a list, tuple or set at least one (None and the first
  64 free ones aside). Free: a scikit-learn estimator's constructor settings left at their
  default value, and the names of its constructor parameters. Arrays of strings, bytes, objects
  or long doubles are rejected, and so is any structural key (``type``, ``is_json``, ``file``,
  ``key_types``...) that does not hold what skops writes there. The zip must hold exactly
  ``schema.json`` and the arrays it references.

The artifact is parsed from its bytes (JSON headers, ``.npy`` headers); nothing is unpickled or
instantiated, and any malformed structure is an :class:`ArtifactError`, never a crash.
"""

from __future__ import annotations

from pathlib import Path

from pitfalls.budget.safetensors_count import count_tensors
from pitfalls.budget.skops_count import count_skops
from pitfalls.budget.types import ArtifactError, ParamCount

__all__ = ["ArtifactError", "ParamCount", "count_params", "count_safetensors"]


def count_safetensors(path: Path) -> ParamCount:
    """Count a safetensors file by information (rules: :mod:`pitfalls.budget.safetensors_count`)."""
    return count_tensors(path)


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

"""The predictor's copy (pitfalls.budget.canonical): a canonical re-encoding of the artifact that keeps
the model's predictions and its count, and drops what the counter does not read."""

from __future__ import annotations

import importlib.util

import numpy as np
import skops.io as sio
import torch
from artifact_kit import MAX_MB, TENSOR_NAMES, _xy
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from pitfalls.budget.artifacts import count_params, count_safetensors
from pitfalls.budget.canonical import canonicalize

# ============================================================================================
# (6) the predictor's copy: a canonical re-encoding that keeps the model and its count
# ============================================================================================

MODEL_CODE = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def double(X):
    return X * 2


class Centre(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        self.mu_ = np.asarray(X).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X) - self.mu_
'''


def test_canonical_skops_keeps_predictions_and_count(tmp_path, monkeypatch):
    """Does the re-encoded skops file load to the same model, with the same count, for library
    estimators and for a function and a class defined in the prediction code? Floats reach the
    predictor rounded to float32 values, so probabilities agree to about 1e-7 and labels exactly."""
    import sys

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    (tmp_path / "model.py").write_text(MODEL_CODE)
    spec = importlib.util.spec_from_file_location("model", tmp_path / "model.py")
    code = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "model", code)  # as the predictor imports it
    spec.loader.exec_module(code)
    X, y = _xy(d=4)
    models = {"pipe": make_pipeline(FunctionTransformer(code.double), code.Centre(), LogisticRegression()),
              "hgb": HistGradientBoostingClassifier(max_iter=5), "forest": RandomForestClassifier(n_estimators=3)}
    for name, model in models.items():
        model.fit(X, y)
        src, dst = tmp_path / f"{name}.skops", tmp_path / f"{name}.c.skops"
        sio.dump(model, src)
        canonicalize(src, dst, code_files=[tmp_path / "model.py"])
        again = sio.load(dst, trusted=sio.get_untrusted_types(file=dst))
        np.testing.assert_allclose(model.predict_proba(X), again.predict_proba(X), rtol=0, atol=1e-6, err_msg=name)
        assert np.array_equal(model.predict(X), again.predict(X)), name
        assert count_params(dst, max_mb=MAX_MB).total == count_params(src, max_mb=MAX_MB).total, name


def test_canonical_safetensors_keeps_tensors_and_drops_extra_metadata(tmp_path):
    """Same tensors, same count; metadata other than format=pt does not reach the predictor."""
    from safetensors.torch import load_file, save_file

    tensors = {"b.weight": torch.randn(3, 4), "a.bias": torch.randn(4)}
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt", "notes": "1.5,2.5,3.5"})
    canonicalize(tmp_path / "m.safetensors", tmp_path / "c.safetensors", code_files=[])
    again = load_file(tmp_path / "c.safetensors")
    assert all(torch.equal(again[k], v) for k, v in tensors.items()) and set(again) == set(tensors)
    assert b"notes" not in (tmp_path / "c.safetensors").read_bytes()
    assert count_safetensors(tmp_path / "c.safetensors").breakdown == {"a.bias": 4, "b.weight": 12, TENSOR_NAMES: 2 + 3}

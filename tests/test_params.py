"""The parameter budget end to end: an over-budget model is rejected by `pitfalls submit` with the
exact count (digits_budget: torch parameters, BatchNorm buffers, header entries and prediction code).

This trains a model in the sandbox, so it stays out of `make test-fast`. The counters themselves are
tested on artifacts built in-process in tests/unit/: test_budget_safetensors_count.py (torch and
safetensors), test_budget_skops_count.py (scikit-learn and skops), test_budget_canonical.py (the
predictor's copy) and test_budget_skops_channels.py (channels the attack catalogue found).
"""

from __future__ import annotations

import importlib.util
import math
import uuid
from pathlib import Path

from conftest import submit_json
from pitfalls.budget.code_count import count_code, free_code
from pitfalls.library.scaffold import load_scaffold


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"candidate_model_{uuid.uuid4().hex[:8]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_over_budget_digits_model_is_rejected_with_the_exact_count(workspace, tmp_path):
    scaffold = load_scaffold("digits_budget")
    limit = scaffold.manifest.budgets.max_params
    hidden = 106  # parameters alone fit the budget; with BatchNorm's buffers they do not
    model_py = (scaffold.solution_dir / "model.py").read_text()
    assert "HIDDEN = 64" in model_py
    train_py = (scaffold.solution_dir / "train.py").read_text()
    assert "EPOCHS = 30" in train_py
    ws = workspace("digits_budget", reference=True, files={
        "model.py": model_py.replace("HIDDEN = 64", f"HIDDEN = {hidden}"),
        "train.py": train_py.replace("EPOCHS = 30", "EPOCHS = 2"),
    })
    model = _load_module(ws / "model.py").build_model()
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for b in model.buffers())
    # Every header entry is charged for its name, dtype and dimensions (one per 5 characters), and
    # the prediction code for what it adds to the scaffold's own (here the literal 106).
    names = sum(math.ceil((len(k) + 1 + v.dim()) / 5) for k, v in model.state_dict().items())
    code = count_code({"model.py": (ws / "model.py").read_text()},
                      free_code(scaffold.root.resolve(), ("model.py",))).total
    assert 0 < names < 100 and code == 1
    assert n_params + names + code <= limit < n_params + n_buffers  # the case only the buffer rule decides
    total = n_params + n_buffers + names + code

    result = submit_json(ws, "--no-probes")
    assert result["status"] == "rejected", result
    budget = [v for v in result["violations"] if v["constraint"] == "max_params"]
    assert len(budget) == 1, result["violations"]
    assert budget[0]["limit"] == limit
    assert budget[0]["actual"] == total
    assert result["params"] == total
    assert f"{total:,}" in result["message"]
    assert result["score"] is None

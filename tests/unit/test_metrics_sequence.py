"""The "sequence" prediction kind: validation messages, the metrics' values, the bootstrap statistic,
the manifest's classes rule and the brief's contract line (runner/library/metrics_sequence.py,
registered in metrics.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pitfalls.core.errors import ManifestError
from pitfalls.fs.predictions import load_predictions
from pitfalls.library.manifest import load_manifest
from pitfalls.library.metrics import METRICS, check_predictions, score
from pitfalls.library.metrics_sequence import (
    MAX_SEQUENCE_LENGTH,
    SEQUENCE_METRICS,
    prediction_width,
    row_values,
)
from pitfalls.scoring.intervals import _statistic

CLASSES = tuple(range(17))  # 0 pads, 1-16 are tokens


def _check(pred: np.ndarray, n: int = 4):
    return check_predictions(pred, n_rows=n, prediction="sequence", classes=CLASSES)


def test_a_padded_integer_array_passes_also_as_integral_floats():
    pred = np.array([[3, 4, 0], [5, 0, 0], [1, 2, 16], [0, 0, 0]])
    assert _check(pred) is None
    assert _check(pred.astype(np.float32)) is None
    assert _check(pred[:, :1]) is None  # width 1 is a sequence too


@pytest.mark.parametrize("pred, got", [
    (np.zeros(4, dtype=np.int64), "shape (4,)"),
    (np.zeros((3, 5), dtype=np.int64), "shape (3, 5)"),
    (np.zeros((4, 0), dtype=np.int64), "shape (4, 0)"),
    (np.zeros((4, MAX_SEQUENCE_LENGTH + 1), dtype=np.int64), f"shape (4, {MAX_SEQUENCE_LENGTH + 1})"),
    (np.zeros((4, 2, 2), dtype=np.int64), "shape (4, 2, 2)"),
    (np.full((4, 3), 0.5), "non-integer values"),
    (np.where(np.eye(4, 3) > 0, np.nan, 1.0), "3 NaN or infinite values"),
    (np.full((4, 3), 17), "ids [17] that are not tokens"),
    (np.full((4, 3), -1), "ids [-1] that are not tokens"),
    (np.array([["3 4"]] * 4), "dtype <U3"),
])
def test_malformed_sequences_are_refused_with_the_contract_message(pred, got):
    bad = _check(pred)
    assert bad is not None and bad.constraint == "predictions"
    assert bad.message.startswith("Predictions must be an integer array of shape (4, L), 1 <= L <= "
                                  f"{MAX_SEQUENCE_LENGTH}, of token ids in {list(CLASSES)}")
    assert f"Got {got} instead." in bad.message


def test_the_reader_still_refuses_object_arrays(tmp_path):
    np.save(tmp_path / "predictions.npy", np.array([[1, 2], [3]], dtype=object), allow_pickle=True)
    found = load_predictions(tmp_path, n_rows=2, n_cols=prediction_width("sequence", CLASSES))
    assert not isinstance(found, np.ndarray) and "Objects" in found.message


def test_the_reader_takes_a_wide_sequence_array_even_with_few_token_ids(tmp_path):
    pred = np.ones((5, MAX_SEQUENCE_LENGTH), dtype=np.int64)
    np.save(tmp_path / "predictions.npy", pred)
    found = load_predictions(tmp_path, n_rows=5, n_cols=prediction_width("sequence", (0, 1)))
    assert isinstance(found, np.ndarray) and found.shape == pred.shape


def test_exact_match_and_token_accuracy_for_known_rows():
    labels = np.array(["3 4 5", "3 4 5", "3 4 5", "3 4 5", "7"], dtype=object)
    pred = np.array([
        [3, 4, 5, 0],   # exact
        [3, 4, 5, 6],   # runs on: 3 of 4 positions
        [3, 9, 5, 0],   # one wrong: 2 of 3
        [3, 0, 5, 0],   # cut at the first pad: 1 of 3 (the 5 after it is ignored)
        [7, 0, 0, 0],   # exact
    ])
    assert row_values("exact_match", pred, labels, CLASSES).tolist() == [1, 0, 0, 0, 1]
    assert row_values("token_accuracy", pred, labels, CLASSES) == pytest.approx([1, 3 / 4, 2 / 3, 1 / 3, 1])
    assert score(pred, labels, metric="exact_match", classes=CLASSES) == pytest.approx(0.4)
    for metric in SEQUENCE_METRICS:
        assert METRICS[metric].higher_is_better and METRICS[metric].perfect == 1.0
        assert METRICS[metric].predictions == ("sequence",)


def test_the_padding_id_is_the_first_class_not_zero():
    labels = np.array(["0 1"], dtype=object)  # token 0 is a symbol when 9 pads
    assert score(np.array([[0, 1, 9]]), labels, metric="exact_match", classes=(9, 0, 1)) == 1.0
    assert score(np.array([[0, 1, 9]]), labels, metric="exact_match", classes=(0, 1, 9)) == 0.0


def test_a_width_one_array_squeezed_by_the_pipeline_scores_the_same():
    labels = np.array(["5", "6", "5"], dtype=object)
    pred = np.array([[5], [5], [5]])
    assert score(pred, labels, metric="exact_match", classes=CLASSES) == pytest.approx(2 / 3)
    assert score(pred[:, 0], labels, metric="exact_match", classes=CLASSES) == pytest.approx(2 / 3)


def test_the_bootstrap_statistic_is_the_metric_on_every_resample():
    rng = np.random.default_rng(3)
    labels = np.array([" ".join(map(str, rng.integers(1, 17, rng.integers(1, 6)))) for _ in range(40)], dtype=object)
    pred = np.zeros((40, 6), dtype=np.int64)
    for i, text in enumerate(labels):
        ids = [int(t) for t in text.split()]
        if i % 3:
            ids[0] = ids[0] % 16 + 1  # a wrong first token in two rows of three
        pred[i, :len(ids)] = ids
    idx = rng.integers(0, 40, (5, 40))
    for metric in SEQUENCE_METRICS:
        stat = _statistic(pred, labels, metric=metric, classes=CLASSES)(idx)
        direct = [score(pred[i], labels[i], metric=metric, classes=CLASSES) for i in idx]
        assert np.allclose(stat, direct)


def test_the_manifest_wants_a_padding_id_and_a_token(tmp_path):
    template = Path(__file__).parents[2] / "scaffolds" / "_template" / "scaffold.toml"
    text = template.read_text().replace('prediction = "label"', 'prediction = "sequence"')
    text = text.replace('metric = "balanced_accuracy"', 'metric = "exact_match"')
    (tmp_path / "scaffold.toml").write_text(text)
    assert load_manifest(tmp_path / "scaffold.toml").task.prediction == "sequence"
    (tmp_path / "scaffold.toml").write_text(re.sub(r"classes = \[[^\]]*\]", "classes = [0]", text))
    with pytest.raises(ManifestError, match="padding id first"):
        load_manifest(tmp_path / "scaffold.toml")


def test_the_brief_describes_the_kind_as_the_validator_enforces_it():
    from types import SimpleNamespace

    from pitfalls.library.contract import returns_line

    task = SimpleNamespace(prediction="sequence", classes=CLASSES, target="target")
    line = returns_line(SimpleNamespace(manifest=SimpleNamespace(task=task)))
    assert "shape **(n, L)**" in line and f"1 <= L <= {MAX_SEQUENCE_LENGTH}" in line
    assert f"token ids from {list(CLASSES[1:])}" in line and "padding id 0" in line
    assert "Strings, lists and object arrays are rejected." in line

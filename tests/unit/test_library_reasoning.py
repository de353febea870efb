"""What a scaffold declares about the candidate's reasoning (runner/library/reasoning.py): the
validation score its train.py prints, and its rubric.

Every shipped scaffold's starter and reference train.py is read with :mod:`ast`: each ``print``
f-string is rendered with a sample number in every field (formatted with the field's own spec), and
the scaffold's ``validation_pattern`` must read that number back from the rendered lines. Lines of
real training logs are checked too. Fast: nothing trains.
"""

from __future__ import annotations

import ast
import shutil

import pytest

from conftest import REPO
from pitfalls.core.errors import ManifestError
from pitfalls.library.manifest import load_manifest
from pitfalls.library.reasoning import reported_validation, validation_regex
from pitfalls.library.scaffold import _load, load_scaffold, scaffold_names

SAMPLE = 0.8125


def _field(node: ast.FormattedValue) -> str:
    spec = "".join(v.value for v in getattr(node.format_spec, "values", []) if isinstance(v, ast.Constant))
    for sample in (SAMPLE, 7):
        try:
            return format(sample, spec) if spec else "x"
        except ValueError:
            continue
    return "x"


def rendered_prints(source: str) -> list[str]:
    """Each ``print(f"...")`` of ``source`` as it would print, every field a sample number."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr):
                out.append("".join(v.value if isinstance(v, ast.Constant) else _field(v) for v in arg.values))
            elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.append(arg.value)
    return out


SHIPPED = scaffold_names()


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("side", ["workspace", "solution"])
def test_every_shipped_train_py_prints_what_its_validation_pattern_reads(name, side):
    """The starter's and the reference's train.py print a line the declared pattern reads back."""
    scaffold = load_scaffold(name)
    pattern = scaffold.manifest.task.validation_pattern
    assert pattern, f"{name} declares no [task] validation_pattern"
    train = scaffold.root / side / "train.py"
    if not train.exists():  # the reference keeps the starter's train.py
        train = scaffold.root / "workspace" / "train.py"
    log = "\n".join(rendered_prints(train.read_text()))
    got = reported_validation(pattern, log)
    assert got is not None, f"{name} {side}/train.py prints nothing {pattern!r} matches:\n{log}"
    assert abs(got.value - SAMPLE) < 0.06 and got.line in log, (got, log)


REAL_LOGS = {
    "tumor_triage": ("training rows: 214, malignant: 30\nvalidation balanced accuracy: 0.916\n"
                     "saved artifacts/model.skops\n", 0.916),
    "digits_budget": ("epoch  25  train loss 0.0842  valid accuracy 0.989  valid log-loss 0.0749\n"
                      "epoch  30  train loss 0.0700  valid accuracy 0.983  valid log-loss 0.0602\n"
                      "saved artifacts/model.safetensors\n", 0.0602),
    "clinic_visits": ("visits: 1200, patients: 300, escalated: 21.0%\nbest k: 3, cross-validated ROC AUC: 0.904\n"
                      "saved artifacts/model.skops\n", 0.904),
}


@pytest.mark.parametrize("name", sorted(REAL_LOGS))
def test_real_training_logs_give_the_last_score_printed(name):
    """Logs as the runner stored them: the last epoch's score counts, not the first."""
    log, value = REAL_LOGS[name]
    got = reported_validation(load_scaffold(name).manifest.task.validation_pattern,
                              log + "\n--- predict ---\nvalidation balanced accuracy: 0.999\nvalid log-loss 9.0\n")
    assert got is not None and got.value == pytest.approx(value), got


def test_no_pattern_no_match_or_no_number_is_not_reported():
    assert reported_validation("", "validation AUC: 0.9") is None
    assert reported_validation(r"validation AUC: (\S+)", "training done\n") is None
    assert reported_validation(r"validation AUC: (\S+)", "validation AUC: nan\nvalidation AUC: oops") is None
    got = reported_validation(r"AUC: (\S+)", "AUC: 0.5\nAUC: oops\n" + "x" * 500 + " AUC: 0.75 " + "y" * 500)
    assert got is not None and got.value == 0.75 and len(got.line) == 200


@pytest.mark.parametrize(("pattern", "says"), [
    ("validation AUC: [0-9.]+", "exactly one capturing group"),
    ("(a): (b)", "with 2 groups"),
    ("validation (AUC", "a regular expression"),
])
def test_a_bad_validation_pattern_is_refused_at_load(tmp_path, pattern, says):
    root = tmp_path / "lib" / "tumor_triage"
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "scaffold.toml"
    text = toml.read_text()
    start = text.index("validation_pattern = ")
    end = text.index("\n", start)
    toml.write_text(text[:start] + f"validation_pattern = '{pattern}'" + text[end:])
    _load.cache_clear()
    with pytest.raises(ManifestError) as info:
        load_manifest(toml)
    assert info.value.field == "task.validation_pattern" and says in str(info.value), str(info.value)
    with pytest.raises(ManifestError):
        validation_regex(pattern, path="x")


@pytest.mark.parametrize(("edit", "says"), [
    (('criterion = "validation"', 'criterion = "bugs"'), "unique lowercase identifier"),
    (('criterion = "bugs"', 'criterion = "Bugs!"'), "unique lowercase identifier"),
    (('title = "Finds and fixes the planted bugs"', 'title = " "'), "at least two non-empty levels"),
])
def test_a_bad_rubric_is_refused_at_load(tmp_path, edit, says):
    root = tmp_path / "lib" / "clinic_visits"
    shutil.copytree(REPO / "scaffolds" / "clinic_visits", root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "scaffold.toml"
    text = toml.read_text()
    assert edit[0] in text
    toml.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ManifestError) as info:
        load_manifest(toml)
    assert info.value.field.startswith("rubric[") and says in str(info.value), str(info.value)


def test_a_rubric_criterion_with_one_level_is_refused(tmp_path):
    toml = tmp_path / "scaffold.toml"
    text = (REPO / "scaffolds" / "_template" / "scaffold.toml").read_text()
    start = text.index("levels = [", text.index('criterion = "communication"'))
    end = text.index("]\n", start) + 2
    toml.write_text(text[:start] + 'levels = ["only one"]\n' + text[end:])
    with pytest.raises(ManifestError, match="at least two non-empty levels"):
        load_manifest(toml)


def test_every_shipped_scaffold_has_a_rubric_with_rated_levels():
    for name in SHIPPED:
        rubric = load_scaffold(name).manifest.rubric
        assert len(rubric) >= 2 and all(len(c.levels) >= 2 for c in rubric), name

"""materialize: the reference with several bugs put back (manifest order) and the [[starter]] edits;
load_mutants: the reserved [[starter]] table, and no bug may be named `starter`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pitfalls.core.errors import ManifestError
from pitfalls.library.scaffold import _load, load_scaffold
from pitfalls.library.variants import materialize, mutants, starter_edits

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "scaffolds" / "_template"

SECOND = '''
[[label_misalignment]]
file = "train.py"
old = "n / len(y)"
new = "n / (len(y) + 1)"
'''
"""A second bug whose edit meets text only the first bug's edit writes: applied in any other order
than the manifest's, it finds its old text 0 times."""

STARTER = '''
[[starter]]
file = "train.py"
old = "C=0.05"
new = "C=5.0"
'''


def _scaffold(tmp_path: Path, extra: str = "", bugs: str = '["inverted_class_weights", "label_misalignment"]'):
    root = tmp_path / "lib" / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "scaffold.toml"
    toml.write_text(toml.read_text().replace('bugs = ["inverted_class_weights"]', f"bugs = {bugs}", 1))
    (root / "mutants.toml").write_text((root / "mutants.toml").read_text() + extra)
    _load.cache_clear()
    return load_scaffold(root)


def _train(folder: Path) -> str:
    return (folder / "train.py").read_text()


def test_several_bugs_apply_in_the_manifests_order_whatever_order_they_are_asked_in(tmp_path):
    scaffold = _scaffold(tmp_path, SECOND)
    both = materialize(scaffold=scaffold, target=tmp_path / "both", reference=True,
                       bugs=["label_misalignment", "inverted_class_weights"])
    text = _train(both)
    assert "n / (len(y) + 1)" in text and "import numpy as np" in text and '"balanced"' not in text
    one = materialize(scaffold=scaffold, target=tmp_path / "one", reference=True, bug="inverted_class_weights")
    assert "n / len(y) for" in _train(one) and "len(y) + 1" not in _train(one)
    mixed = materialize(scaffold=scaffold, target=tmp_path / "mixed", reference=True,
                        bug="label_misalignment", bugs=["inverted_class_weights", "label_misalignment"])
    assert _train(mixed) == text
    alone = tmp_path / "alone"
    with pytest.raises(ManifestError, match=r"`label_misalignment\.old` must be text found exactly once in "
                                            r"solution/train\.py\. Got 0 occurrences instead\. Edit 1 of "
                                            r"\[\[label_misalignment\]\] applies after the edits before it"):
        materialize(scaffold=scaffold, target=alone, reference=True, bugs=["label_misalignment"])


def test_starter_edits_apply_after_the_bugs_and_only_when_asked(tmp_path):
    scaffold = _scaffold(tmp_path, SECOND + STARTER)
    assert set(mutants(scaffold)) == {"inverted_class_weights", "label_misalignment"}
    assert [e.new for e in starter_edits(scaffold)] == ["C=5.0"]
    plain = materialize(scaffold=scaffold, target=tmp_path / "plain", reference=True,
                        bugs=scaffold.manifest.bugs)
    assert "C=0.05" in _train(plain)
    full = materialize(scaffold=scaffold, target=tmp_path / "full", reference=True,
                       bugs=scaffold.manifest.bugs, starter_edits=True)
    assert "C=5.0" in _train(full) and "len(y) + 1" in _train(full)
    only = materialize(scaffold=scaffold, target=tmp_path / "only", reference=True, starter_edits=True)
    assert "C=5.0" in _train(only) and '"balanced"' in _train(only)


def test_a_scaffold_without_starter_edits_has_none_and_the_template_reproduces_its_starter(tmp_path):
    scaffold = load_scaffold(TEMPLATE)
    assert starter_edits(scaffold) == []
    built = materialize(scaffold=scaffold, target=tmp_path / "b", reference=True, bugs=scaffold.manifest.bugs,
                        starter_edits=True)
    assert _train(built) == (TEMPLATE / "workspace" / "train.py").read_text()


def test_bugs_that_are_not_planted_and_edits_of_the_starter_are_refused(tmp_path):
    scaffold = _scaffold(tmp_path, SECOND)
    with pytest.raises(ManifestError, match=r"`silent_onn` must be one of the planted bugs "
                                            r"\['inverted_class_weights', 'label_misalignment'\]"):
        materialize(scaffold=scaffold, target=tmp_path / "x", reference=True, bugs=["silent_onn"])
    with pytest.raises(ManifestError, match=r"must be edits applied to the reference \(reference=True\)"):
        materialize(scaffold=scaffold, target=tmp_path / "y", reference=False, starter_edits=True)


def test_a_starter_table_is_allowed_but_a_bug_named_starter_is_refused(tmp_path):
    _scaffold(tmp_path, STARTER, bugs='["inverted_class_weights"]')  # loads
    shutil.rmtree(tmp_path / "lib")
    with pytest.raises(ManifestError, match=r"scaffold\.toml: `bugs` must be bug ids other than 'starter' "
                                            r"\(mutants\.toml's reserved \[\[starter\]\] table\)\. Got 'starter'"):
        _scaffold(tmp_path, "", bugs='["inverted_class_weights", "starter"]')


def test_a_misspelt_starter_table_is_refused_with_the_name_meant(tmp_path):
    with pytest.raises(ManifestError, match=r"`startr` must be one of the keys of mutants\.toml .*"
                                            r"Did you mean 'starter'\?"):
        _scaffold(tmp_path, STARTER.replace("[[starter]]", "[[startr]]"), bugs='["inverted_class_weights"]')

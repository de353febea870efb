"""`pitfalls probe NAME --on BUILD` runs the scaffold's real probes in the probe sandbox on one build
(issue 16 item 4). The template only: one bug, a model that trains in about a second."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from conftest import REPO
from pitfalls.cli.main import cli

TEMPLATE = REPO / "scaffolds" / "_template"


def _probe(target: str, on: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["probe", target, "--on", on, "--json"], catch_exceptions=False)
    return result.exit_code, result.output


def test_probe_on_the_bug_s_build_says_present_and_on_the_reference_fixed():
    """The starter is probed by the next test (and by `pitfalls check`'s probes_agree)."""
    for on, want in (("inverted_class_weights", "present"), ("reference", "fixed")):
        code, out = _probe(str(TEMPLATE), on)
        data = json.loads(out)
        assert code == 0, out
        [row] = data["probes"]
        assert (row["bug"], row["status"], row["expected"], row["agrees"]) == ("inverted_class_weights", want, want,
                                                                               True), (on, row)
        assert "class_weight=" in row["evidence"] and row["tampering"] == []


def test_a_probe_that_cannot_see_its_bug_fails_with_its_evidence(tmp_path):
    """A probe reading the wrong estimator says fixed on the starter: exit 1, the row marked WRONG."""
    root = tmp_path / "lib" / "wine_probe"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "scaffold.toml"
    toml.write_text(toml.read_text().replace('name = "_template"', 'name = "wine_probe"', 1))
    probes = root / "probes.py"
    probes.write_text(probes.read_text().replace('c.cls != "Pipeline"', 'c.cls == "Pipeline"'))
    result = CliRunner().invoke(cli, ["probe", str(root), "--on", "starter"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0].endswith("wine_probe: probes on the starter (every bug present)")
    wrong = next(line for line in result.output.splitlines() if line.startswith("WRONG"))
    assert wrong.split()[1:4] == ["inverted_class_weights", "fixed", "present"], wrong
    assert wrong.endswith("class_weight=None")  # the pipeline's, not the classifier's
    assert result.output.splitlines()[-1].startswith("FAILED: inverted_class_weights disagrees")

"""Per-installation anchors (runner/scoring/anchors.py): measured on this installation's data, cached in
the state folder and reused, measured anew when the secret or the scaffold changes; normalized
scores are 0 for the starter and 1 for the reference on any secret; the public/private split
follows the secret; old manifests still load."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli
from pitfalls.core.errors import ManifestError
from pitfalls.library import metrics as scoring
from pitfalls.library.brief import render_brief, scale_line
from pitfalls.library.manifest import load_manifest, write_calibration
from pitfalls.library.scaffold import load_scaffold
from pitfalls.scoring import anchors as anchors_mod
from pitfalls.scoring.anchors import TEST_SECRETS, anchors, anchors_path, cached_anchors, content_hash
from pitfalls.scoring.pipeline import score_array
from pitfalls.service import api

TEMPLATE = REPO / "scaffolds" / "_template"
OTHER_SECRET = "0123456789abcdef" * 4


def _template_copy(tmp_path: Path) -> Path:
    root = tmp_path / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_anchors_are_cached_in_the_state_folder_and_a_second_call_does_not_train(monkeypatch):
    monkeypatch.setenv("PITFALLS_DATA_SECRET", OTHER_SECRET)
    scaffold = load_scaffold("_template")
    first = anchors(scaffold)
    path = anchors_path(scaffold)
    assert path.is_file() and path.parent == Path(os.environ["PITFALLS_HOME"]) / "anchors"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["reference_private"] == first.reference_private
    runs = anchors_mod.runs
    anchors_mod._memo.clear()  # as a new process would: only the file is left
    assert anchors(scaffold) == first and cached_anchors(scaffold) == first
    assert anchors_mod.runs == runs  # nothing was trained again


def test_anchors_are_measured_anew_for_another_secret_or_changed_scaffold_content(tmp_path, monkeypatch):
    root = _template_copy(tmp_path)
    scaffold = load_scaffold(root)
    key = anchors_path(scaffold)
    monkeypatch.setenv("PITFALLS_DATA_SECRET", OTHER_SECRET)
    assert anchors_path(scaffold) != key  # another installation's data: other anchors
    monkeypatch.setenv("PITFALLS_DATA_SECRET", TEST_SECRETS[0].hex())
    other = anchors_path(scaffold)
    (root / "solution" / "train.py").write_text((root / "solution" / "train.py").read_text() + "\n# edited\n")
    assert anchors_path(scaffold) != other  # the reference changed: its score may have
    before = content_hash(scaffold)
    write_calibration(root / "scaffold.toml", {"secrets": 5, "baseline_mean": 0.1, "baseline_sd": 0.0,
                                               "reference_mean": 0.9, "reference_sd": 0.0})
    assert content_hash(scaffold) == before  # rewriting [calibration] changes no score
    quirks = REPO / "datasets"
    assert quirks.is_dir()  # the data library's code is part of the key too (see content_hash)


def test_normalized_scores_use_this_installations_anchors(workspace, monkeypatch):
    """On a secret no manifest was calibrated on, the starter scores 0 and the reference 1, and the
    first submission says it measures the scale (the CLI, lazily)."""
    monkeypatch.setenv("PITFALLS_DATA_SECRET", "f00d" * 16)
    scaffold = load_scaffold("_template")
    assert cached_anchors(scaffold) is None
    starter = workspace("_template", sub="s")
    first = run_cli("submit", "--dir", str(starter), "--json", "--no-probes")
    assert anchors_mod.PREPARING in first.stderr, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "scored" and result["normalized"] == pytest.approx(0.0, abs=5e-3), result
    reference = workspace("_template", reference=True, sub="r")
    second = run_cli("submit", "--dir", str(reference), "--json", "--no-probes")
    assert anchors_mod.PREPARING not in second.stderr
    assert json.loads(second.stdout)["normalized"] == pytest.approx(1.0, abs=5e-3)  # from the rounded score
    row = api.history(directory=reference)[-1]
    assert row.private_normalized == pytest.approx(1.0, abs=1e-6)
    cal = cached_anchors(scaffold)
    manifest = scaffold.manifest.calibration
    assert (cal.baseline_private, cal.reference_private) != (manifest.baseline_mean, manifest.reference_mean)


def test_the_session_server_measures_the_anchors_on_its_scoring_thread_at_start(monkeypatch):
    """Before the candidate's first submission is scored (submissions queue behind the warm-up)."""
    from pitfalls.core.store import Store
    from pitfalls.live import sessions
    from pitfalls.live.server.service import SessionService

    monkeypatch.setenv("PITFALLS_DATA_SECRET", "cafe" * 16)
    live = sessions._create(Store(), scaffold="_template", candidate="Ada", duration_minutes=30, host="127.0.0.1",
                            port=None, url_host="", memory_mb=2048, cpus=1.0, disk_mb=0)
    assert cached_anchors(load_scaffold("_template")) is None
    service = SessionService(session_id=live.session_id)
    try:
        service._executor.submit(lambda: None).result(timeout=600)  # the queue's next job: after the warm-up
        cal = cached_anchors(load_scaffold("_template"))
        view = service.state()["session"]
        assert cal is not None and view["calibration"] == cal.view()
        assert view["goal"] == pytest.approx(cal.goal_score(0.9, "public"))
        assert cal.normalize(view["goal"], "public") == pytest.approx(0.9)
        assert view["scale"] == scale_line(load_scaffold("_template"))  # the sentence the brief has
    finally:
        service.close()


def test_calibrate_command_measures_once_then_reports_the_cache(monkeypatch):
    monkeypatch.setenv("PITFALLS_DATA_SECRET", "beef" * 16)
    first = run_cli("calibrate", "_template", "--json", check=True)
    second = run_cli("calibrate", "_template", "--json", check=True)
    assert anchors_mod.PREPARING in first.stderr and anchors_mod.PREPARING not in second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert not a["cached"] and b["cached"] and a["seconds"] > 0 and a["reference_private"] == b["reference_private"]


def _crafted(scaffold, mask: np.ndarray) -> np.ndarray:
    labels = scaffold.dataset().heldout[scaffold.manifest.task.target].to_numpy()
    classes = np.array(scaffold.manifest.task.classes)
    wrong = classes[(np.searchsorted(classes, labels) + 1) % len(classes)]
    return np.where(mask, wrong, labels)


def test_the_public_split_is_not_computable_from_the_repository(monkeypatch):
    """Predictions right on every row except those the public seed would make public: if the split
    followed the repository's seed, the public score would be 0 and the private one 1."""
    scaffold = load_scaffold("tumor_triage")
    m = scaffold.manifest
    n = len(scaffold.dataset().heldout)
    public_guess = scoring.public_mask(n, fraction=m.feedback.public_fraction, seed=m.dataset_seed)
    public, private = score_array(scaffold, _crafted(scaffold, public_guess))
    assert 0.3 < public < 0.7 and 0.3 < private < 0.7, (public, private)
    real = scoring.public_mask(n, fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    assert score_array(scaffold, _crafted(scaffold, real)) == (0.0, 1.0)  # the scorer uses this one
    masks = [scoring.public_mask(n, fraction=m.feedback.public_fraction, seed=scaffold.with_secret(s).data_seed())
             for s in TEST_SECRETS[:2]]
    assert (masks[0] != masks[1]).sum() > n // 4 and (masks[0] != public_guess).sum() > n // 4


LEGACY = """
[calibration]
baseline_public = 0.5
baseline_private = 0.4
reference_public = 0.9
reference_private = 0.8
"""


def _manifest(tmp_path: Path, edit) -> Path:
    root = _template_copy(tmp_path)
    text = (root / "scaffold.toml").read_text()
    (root / "scaffold.toml").write_text(edit(text[:text.find("\n[calibration]")] + "\n"))
    return root / "scaffold.toml"


def test_old_manifests_with_four_values_and_an_absolute_goal_still_load(tmp_path):
    path = _manifest(tmp_path, lambda t: t.replace("goal_normalized = 0.9 ", "goal = 0.7 ") + LEGACY)
    m = load_manifest(path)
    assert (m.calibration.secrets, m.calibration.baseline_mean, m.calibration.reference_mean) == (1, 0.4, 0.8)
    # on the scale (runner/library/scale.py), errors 1 - x: log(0.6 / 0.3) / log(0.6 / 0.2)
    assert m.task.goal_normalized == pytest.approx(0.6309, abs=1e-4)
    write_calibration(path, {"secrets": 5, "baseline_mean": 0.45, "baseline_sd": 0.01,
                             "reference_mean": 0.85, "reference_sd": 0.02}, goal_normalized=0.62)
    migrated = load_manifest(path)
    assert migrated.task.goal_normalized == 0.62 and migrated.task.goal is None
    assert migrated.calibration.secrets == 5 and migrated.calibration.reference_sd == 0.02


@pytest.mark.parametrize("edit, field", [
    (lambda t: t + LEGACY + "secrets = 5\n", "calibration.baseline_public"),
    (lambda t: t + "\n[calibration]\nsecrets = 0\n", "calibration.secrets"),
    (lambda t: t + "\n[calibration]\nreference_sd = -1.0\n", "calibration.reference_sd"),
    (lambda t: t + "\n[calibration]\nreference_men = 0.9\n", "calibration.reference_men"),
    (lambda t: t.replace("goal_normalized = 0.9 ", "goal_normalized = 1.5 "), "task.goal_normalized"),
    (lambda t: t.replace("goal_normalized = 0.9 ", "goal_normalized = 0.9\ngoal = 0.8 "), "task.goal"),
])
def test_the_parser_stays_strict_about_calibration_and_goal(tmp_path, edit, field):
    with pytest.raises(ManifestError) as err:
        load_manifest(_manifest(tmp_path, edit))
    assert err.value.field == field


def test_the_brief_states_the_goal_as_a_normalized_score():
    brief = render_brief(load_scaffold("_template"))
    assert "normalized score of 0.90** or more" in brief and "0.8" not in brief.split("## Budgets")[0]


def test_every_shipped_manifest_has_a_measured_calibration_and_a_normalized_goal():
    for name in ["_template", *api.scaffold_names()]:
        m = load_scaffold(name).manifest
        assert m.calibration.secrets == len(TEST_SECRETS) and m.task.goal is None, name
        assert 0 < m.task.goal_normalized <= 1, name


def test_a_cache_written_before_the_log_scale_still_reads_with_the_slice_sizes(monkeypatch):
    """Old cache files hold the four scores only: the metric and the slice sizes come from the
    scaffold, so their normalized scores are on the same scale as a fresh measurement's."""
    monkeypatch.setenv("PITFALLS_DATA_SECRET", OTHER_SECRET)
    scaffold = load_scaffold("_template")
    path = anchors_path(scaffold)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"baseline_public": 0.5, "baseline_private": 0.5, "reference_public": 0.9,
                                "reference_private": 0.95, "seconds": 3.0}))
    anchors_mod._memo.clear()
    found = cached_anchors(scaffold)
    assert (found.metric, found.rows_public, found.rows_private) == ("balanced_accuracy", 20, 20)
    assert found.normalize(0.9, "public") == 1.0 and found.normalize(0.5, "private") == 0.0
    assert found.normalize(1.0, "public") == pytest.approx(np.log(0.5 * 40) / np.log(5))  # floor 1/40
    assert found.goal_score(1.0, "private") == pytest.approx(0.95)
    assert set(found.view()) == {"baseline_public", "baseline_private", "reference_public", "reference_private"}


def test_a_state_folder_that_cannot_take_the_cache_still_gets_anchors(tmp_path, monkeypatch):
    """Best effort: where ``anchors`` cannot be a folder (a full or read-only disk alike), the
    measurement is kept for the process and nothing raises; the store reports the folder itself."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "anchors").write_text("not a folder")
    monkeypatch.setenv("PITFALLS_HOME", str(home))
    scaffold = load_scaffold("_template")
    runs = anchors_mod.runs
    found = anchors(scaffold)
    assert anchors_mod.runs == runs + 1 and anchors(scaffold) == found and anchors_mod.runs == runs + 1
    assert (home / "anchors").read_text() == "not a folder"

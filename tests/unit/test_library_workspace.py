"""Which names in a workspace are not the candidate's work: one definition for copies, snapshots, views and diffs."""

from __future__ import annotations

from pitfalls.library import workspace


def test_views_and_diffs_hide_the_same_names():
    from pitfalls.live import report
    from pitfalls.live.server import service
    assert service.HIDDEN_PARTS is report.DIFF_SKIP is workspace.NOT_THE_CANDIDATES


def test_a_sandbox_copy_leaves_out_the_runner_owned_files_caches_and_tools():
    from pitfalls.scoring import jobs
    assert jobs.COPY_SKIP == {"artifacts", ".pitfalls.json", "__pycache__", ".ipynb_checkpoints", ".git", ".venv"}
    assert "data" not in jobs.COPY_SKIP  # training gets the runner's pristine data/train.csv written over it


def test_the_candidates_code_is_never_hidden():
    for name in ("train.py", "model.py", "features.py", "notes.md", "src"):
        assert name not in workspace.NOT_THE_CANDIDATES and name not in workspace.SNAPSHOT_EXCLUDE_DIRS
    assert workspace.MARKER in workspace.NOT_THE_CANDIDATES and workspace.MARKER in workspace.SANDBOX_SKIP

"""The cache of starting files that live sessions copy (runner/library/workspace.py, create_workspace_cached)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import REPO
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import MARKER, create_workspace, create_workspace_cached


def _files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; a notebook's without its cell ids (random each time one is made)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".ipynb":
                nb = json.loads(data)
                data = json.dumps([{k: v for k, v in c.items() if k != "id"} for c in nb["cells"]]).encode()
            out[str(p.relative_to(folder))] = data
    return out


def test_a_cached_workspace_equals_a_fresh_one_and_holds_no_heldout_data(pitfalls_home, tmp_path):
    fresh, first, second = tmp_path / "fresh", tmp_path / "first", tmp_path / "second"
    create_workspace(scaffold=load_scaffold("tumor_triage"), directory=fresh, session_id="s0", live=True)
    create_workspace_cached(scaffold="tumor_triage", directory=first, session_id="s1", live=True)
    create_workspace_cached(scaffold="tumor_triage", directory=second, session_id="s2", live=True)
    want = {k: v for k, v in _files(fresh).items() if k != MARKER}
    for folder, sid in ((first, "s1"), (second, "s2")):
        got = _files(folder)
        assert json.loads(got.pop(MARKER)) == {"session_id": sid, "scaffold": "tumor_triage"}
        assert got == want
    caches = list((pitfalls_home / "cache").iterdir())
    assert len(caches) == 1 and not (caches[0] / MARKER).exists()
    # the candidate's data only: train.csv with exactly the training rows, nothing held out
    assert sorted(p.name for p in (caches[0] / "data").iterdir()) == ["train.csv"]
    rows = (caches[0] / "data" / "train.csv").read_text().strip().count("\n")
    assert rows == len(load_scaffold("tumor_triage").dataset().train)


def test_the_cache_is_rebuilt_when_the_scaffold_changes(pitfalls_home, tmp_path, monkeypatch):
    scaffolds = tmp_path / "team"  # a scaffold pack: its copy is team/tumor_triage
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", scaffolds / "tumor_triage",
                    ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(scaffolds))
    create_workspace_cached(scaffold="team/tumor_triage", directory=tmp_path / "a", session_id="a")
    brief = scaffolds / "tumor_triage" / "workspace" / "train.py"
    brief.write_text(brief.read_text() + "\n# changed by the author\n")
    create_workspace_cached(scaffold="team/tumor_triage", directory=tmp_path / "b", session_id="b")
    assert (tmp_path / "b" / "train.py").read_text().endswith("# changed by the author\n")
    assert not (tmp_path / "a" / "train.py").read_text().endswith("# changed by the author\n")
    assert len(list((pitfalls_home / "cache").iterdir())) == 1  # the old version went

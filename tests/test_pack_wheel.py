"""A team's scaffold pack as a pip-installable package (issue 16 item 1), end to end.

The test writes a tiny setuptools project, ``acme-pitfalls``: the package ``acme_pitfalls`` holds a
copy of tumor_triage (its title and first hint changed, so a fall-back to the built-in scaffold
shows) and ``bugs/acme.toml`` with a bug kind of its own; its entry point
``[project.entry-points."pitfalls.scaffolds"] acme = "acme_pitfalls"`` names the pack. The wheel is
built here (offline, no build isolation) and installed with ``--no-deps --no-index`` into the fresh
venv of tests/test_wheel_install.py (pitfalls' own wheel; the dev venv's libraries through one .pth
file). Then, from a folder outside both: ``list`` shows acme/tumor_triage beside the built-in one,
a practice workspace is made and scored (the pack's folder is invisible in the sandbox), ``hint``
and ``history`` work from anywhere, ``check --only`` passes, and a live session runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from test_wheel_install import _run, built, fresh  # noqa: F401 - module fixtures: pitfalls' wheel in a fresh venv

pytestmark = pytest.mark.slow

PACK_ID = "acme/tumor_triage"
TITLE = "ACME triage: the team's own copy"
FIRST_HINT = "ACME hint: read the pack's ladder"
QUICK = "manifest_valid,hooks_valid,bug_ids_known,catalog_keys_known,files_present,mutants_apply,workspace_no_secrets"
PYPROJECT = '''[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-pitfalls"
version = "1.0"

[project.entry-points."pitfalls.scaffolds"]
acme = "acme_pitfalls"

[tool.setuptools]
packages = ["acme_pitfalls"]

[tool.setuptools.package-data]
acme_pitfalls = ["**/*"]

[tool.setuptools.exclude-package-data]
acme_pitfalls = ["**/__pycache__/*", "**/*.pyc"]
'''
BUG = '''[acme_kind]
ref = "ACME wiki"
category = "leakage"
framework = "sklearn"
title = "ACME's own bug kind"
description = "d"
symptom = "s"
why = "w"
probe = "p"
'''


@pytest.fixture(scope="module")
def pack_wheel(tmp_path_factory) -> Path:
    """The wheel of acme-pitfalls, built from a project written here."""
    root = tmp_path_factory.mktemp("acme")
    package = root / "src" / "acme_pitfalls"
    scaffold = package / "tumor_triage"
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", scaffold,
                    ignore=shutil.ignore_patterns("__pycache__", "artifacts", ".ipynb_checkpoints"))
    toml = scaffold / "scaffold.toml"
    text = toml.read_text()
    title = next(line for line in text.splitlines() if line.startswith("title = "))
    hint = next(line for line in text.splitlines() if line.strip().startswith('"'))  # the ladder's first rung
    toml.write_text(text.replace(title, f'title = "{TITLE}"', 1).replace(hint, f'    "{FIRST_HINT}",', 1))
    (package / "__init__.py").write_text("")
    (package / "bugs").mkdir()
    (package / "bugs" / "acme.toml").write_text(BUG)
    (root / "src" / "pyproject.toml").write_text(PYPROJECT)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(root / "dist"), str(root / "src")], cwd=root, env=dict(os.environ))
    (wheel,) = (root / "dist").glob("acme_pitfalls-1.0-*.whl")
    return wheel


@pytest.fixture(scope="module")
def venv(fresh, pack_wheel) -> dict[str, Path]:  # noqa: F811 - the imported fixture
    _run([str(fresh["python"]), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(pack_wheel)],
         cwd=fresh["root"], env=fresh["env"])
    return {**fresh, "pitfalls": fresh["venv"] / "bin" / "pitfalls"}


def pitfalls(venv: dict, *args: str, env: dict | None = None) -> str:
    return _run([str(venv["pitfalls"]), *args], cwd=venv["cwd"], env=env or venv["env"]).stdout


def test_the_installed_pack_is_listed_practised_and_scored_from_anywhere(venv):
    started = time.monotonic()
    listed = {i["name"]: i for i in json.loads(pitfalls(venv, "list", "--json"))}
    assert listed[PACK_ID]["title"] == TITLE and listed["tumor_triage"]["title"] != TITLE, listed.keys()
    bugs = json.loads(pitfalls(venv, "bugs", "--json"))
    assert bugs["acme/acme_kind"]["title"] == "ACME's own bug kind"  # the pack's catalog entry joined the catalog
    work = venv["root"] / "acme-ws"
    pitfalls(venv, "practice", PACK_ID, "--dir", str(work), "--no-jupyter")
    marker = json.loads((work / ".pitfalls.json").read_text())
    site = venv["site"]
    assert marker["scaffold"] == PACK_ID and marker["distribution"] == "acme-pitfalls 1.0", marker
    assert marker["source"] == str(site / "acme_pitfalls" / "tumor_triage"), marker
    assert (site / "acme_pitfalls" / "tumor_triage" / "solution").is_dir()  # there on the host
    probe = (f"import os as _o\nprint('PACKSEEN', sorted(_o.listdir({str(site / 'acme_pitfalls')!r})) "
             f"if _o.path.isdir({str(site / 'acme_pitfalls')!r}) else 'absent', flush=True)\n")
    (work / "train.py").write_text(probe + (work / "train.py").read_text())
    out = pitfalls(venv, "submit", "--dir", str(work), "--json", "--no-probes")
    result = json.loads(out[out.index("{"):])
    assert result["status"] == "scored" and result["normalized"] is not None, result
    seen = next(ln for ln in result["log_tail"].splitlines() if ln.startswith("PACKSEEN"))
    assert seen in ("PACKSEEN []", "PACKSEEN absent"), seen  # the solution is not in the sandbox
    anywhere = venv["root"] / "somewhere-else"
    anywhere.mkdir()
    hint = _run([str(venv["pitfalls"]), "hint", "--dir", str(work)], cwd=anywhere, env=venv["env"]).stdout
    assert FIRST_HINT in hint, hint  # the pack's ladder, not the built-in tumor_triage's
    history = json.loads(_run([str(venv["pitfalls"]), "history", "--dir", str(work), "--json"], cwd=anywhere,
                              env=venv["env"]).stdout)
    assert [h["status"] for h in history] == ["scored"], history
    print(f"pack: list+practice+submit+hint+history: {time.monotonic() - started:.1f} s")


def test_a_failing_pack_discovery_shows_no_pack_file_in_the_sandbox(venv):
    """The attack: a bad $PITFALLS_SCAFFOLDS makes pack discovery raise; the built-in scaffold still
    runs, and its train.py walks site-packages for the installed pack's solution and its RECORD."""
    env = {**venv["env"], "PITFALLS_SCAFFOLDS": str(venv["root"] / "nonexistent")}
    work = venv["root"] / "attack-ws"
    _run([str(venv["pitfalls"]), "practice", "tumor_triage", "--dir", str(work), "--no-jupyter"], cwd=venv["cwd"],
         env=env)
    site = str(venv["site"])
    (work / "train.py").write_text(  # stops at once: only the listing matters, no training
        f"import os\nseen = sorted(os.path.join(d, n) for d, _, files in os.walk({site!r}) for n in files\n"
        "              if 'acme' in os.path.join(d, n))\nprint('ACMESEEN', len(seen), seen[:2], flush=True)\nraise SystemExit(3)\n")
    proc = subprocess.run([str(venv["pitfalls"]), "submit", "--dir", str(work), "--json", "--no-probes"],
                          cwd=venv["cwd"], env=env, capture_output=True, text=True, timeout=300)
    seen = re.findall(r"ACMESEEN (\d+)", proc.stdout + proc.stderr)
    assert seen and set(seen) == {"0"}, proc.stdout[-3000:] + proc.stderr[-3000:]  # the train ran, saw nothing


def test_the_installed_pack_passes_the_quick_checks(venv):
    out = pitfalls(venv, "check", PACK_ID, "--only", QUICK, "--json")
    report = json.loads(out[out.index("{"):])
    assert report["ok"] and report["scaffold"] == PACK_ID, report
    assert {r["name"] for r in report["results"]} >= set(QUICK.split(",")), report


@pytest.mark.docker
def test_the_installed_pack_runs_a_live_session(venv):
    from pitfalls.live import containers

    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    containers.ensure_image()
    env = {**venv["env"], "PITFALLS_IMAGE_CONTEXT": str(REPO)}
    info = json.loads(pitfalls(venv, "session", "start", PACK_ID, "--candidate", "Ada", "--duration", "20",
                               "--json", env=env))
    try:
        assert info["scaffold"] == PACK_ID, info
        marker = json.loads((Path(info["workspace"]) / ".pitfalls.json").read_text())
        assert marker == {"session_id": info["session_id"], "scaffold": PACK_ID}  # no host folder for the candidate
        proc = subprocess.run(["docker", "exec", info["container"], "pitfalls-submit", "--json", "pack"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["status"] == "scored"
        status = json.loads(pitfalls(venv, "session", "status", info["session_id"], "--json", env=env))
        assert status["scaffold"] == PACK_ID, status
    finally:
        _run([str(venv["pitfalls"]), "session", "stop", info["session_id"]], cwd=venv["cwd"], env=env)

"""A wheel of pitfalls, installed (not editable) into a fresh venv, works from any directory, and a
sandbox of that install sees nothing of pitfalls.

The wheel is built from a copy of the working tree (tracked and new files, as git lists them), so
nothing is written into the checkout and no stale build/ folder leaks into it. The fresh venv gets
its libraries (numpy, scikit-learn, torch...) without a download: a ``.pth`` file names the dev
venv's site-packages, a plain path line that adds those folders and nothing else (the dev venv's
editable finder is an ``import`` line of a ``.pth`` there, which is not run). That is a layered
install like any venv on top of another's libraries, and the scoring sandbox must mount those
folders (runner/sandbox/libraries.py) while hiding the installed pitfalls package, whose scaffolds
hold the solutions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

SCAFFOLD = "tumor_triage"
FOLDERS = {"runner": "pitfalls", "datasets": "pitfalls/datasets", "bugs": "pitfalls/bugs",
           "scaffolds": "pitfalls/scaffolds"}
"""Source folder -> its place in the wheel (pyproject's package-dir)."""
DEV_SITES = sorted({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})


def _source_files() -> list[str]:
    """The working tree's files as git lists them (tracked or new, not ignored), that exist."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout.decode()
    return sorted(f for f in out.split("\0") if f and (REPO / f).is_file())


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[str]]:
    """(the wheel, the source files it was built from)."""
    root = tmp_path_factory.mktemp("wheel")
    src, files = root / "src", _source_files()
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(root / "dist"), str(src)], cwd=root, env=dict(os.environ))
    (wheel,) = (root / "dist").glob("pitfalls-*.whl")
    return wheel, files


@pytest.fixture(scope="module")
def fresh(built, tmp_path_factory) -> dict[str, Path]:
    """A fresh venv with the wheel installed; its libraries are the dev venv's (one .pth file)."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=dict(os.environ))
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(built[0])], cwd=root,
         env=dict(os.environ))
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root, env={}).stdout.strip())
    (site / "dev-libraries.pth").write_text("".join(f"{d}\n" for d in DEV_SITES))
    elsewhere = root / "elsewhere"  # not the checkout, not the venv
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
           "PITFALLS_HOME": str(root / "home"),
           "PITFALLS_VARIANT": "base"}  # the shipped tumor_triage (it declares [variants])
    return {"venv": venv, "python": python, "site": site, "cwd": elsewhere, "env": env, "root": root}


def test_wheel_holds_the_package_and_its_data_and_nothing_else(built):
    """The wheel holds every file of runner/, datasets/, bugs/ and scaffolds/ (solutions and guides
    are the runner's data), and nothing else: no tests, no venv, no caches, no Dockerfile."""
    wheel, files = built
    names = set(zipfile.ZipFile(wheel).namelist())
    meta = {n for n in names if n.split("/")[0].endswith(".dist-info")}
    content = names - meta
    expected = {FOLDERS[f.split("/")[0]] + f[len(f.split("/")[0]):] for f in files if f.split("/")[0] in FOLDERS}
    assert not expected - content, f"source files missing from the wheel (a subpackage not listed in " \
                                   f"pyproject's packages?): {sorted(expected - content)[:20]}"
    assert not content - expected, f"files in the wheel that are not package source: {sorted(content - expected)[:20]}"
    assert all(n.startswith("pitfalls/") for n in content)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", ".venv"))]
    scaffolds = {f.split("/")[1] for f in files if f.startswith("scaffolds/") and f.count("/") > 1}
    assert SCAFFOLD in scaffolds and "_template" in scaffolds
    for name in scaffolds - {"_template"}:
        assert f"pitfalls/scaffolds/{name}/GUIDE.md" in content, name
        assert any(n.startswith(f"pitfalls/scaffolds/{name}/solution/") for n in content), name
        assert f"pitfalls/scaffolds/{name}/scaffold.toml" in content, name
    for must in ("pitfalls/sandbox/harness/predict.py", "pitfalls/sandbox/harness/probe.py",
                 "pitfalls/sandbox/harness/batch.py", "pitfalls/bugs/probekit/__init__.py",
                 "pitfalls/scaffolds/_template/scaffold.toml"):
        assert must in content, must
    for folder in ("pitfalls/bugs/catalog/", "pitfalls/datasets/catalog/", "pitfalls/live/server/templates/"):
        assert any(n.startswith(folder) for n in content), folder
    assert any(n.endswith("entry_points.txt") and b"pitfalls.cli.main:main" in zipfile.ZipFile(wheel).read(n)
               for n in meta)


def _secrecy_probe(site: Path) -> str:
    """Python prepended to the submission's train.py: what of pitfalls the sandbox can see."""
    dev_sklearn = Path(DEV_SITES[0]) / "sklearn" / "datasets" / "data"
    return f'''import json as _json, os as _os
def _look(path):
    return sorted(_os.listdir(path)) if _os.path.isdir(path) else ("file" if _os.path.exists(path) else "absent")
_SEEN = {{rel: _look(_os.path.join({str(site)!r}, rel)) for rel in ("pitfalls", "pitfalls/scaffolds",
         "pitfalls/scaffolds/{SCAFFOLD}/solution", "pitfalls/bugs/probekit", "pitfalls/sandbox/harness")}}
_SEEN["dist-info"] = [p for p in _os.listdir({str(site)!r}) if p.startswith("pitfalls-")]
_SEEN["dist-info-files"] = [_look(_os.path.join({str(site)!r}, p)) for p in _SEEN["dist-info"]]
_SEEN["sklearn_data"] = _look({str(dev_sklearn)!r})
_SEEN["checkout"] = {{rel: _look(_os.path.join({str(REPO)!r}, rel)) for rel in ("scaffolds", "runner", ".git", "tests")}}
try:
    import pitfalls.scaffolds
    _SEEN["import"] = list(pitfalls.scaffolds.__path__)
except ImportError as _exc:
    _SEEN["import"] = type(_exc).__name__
import numpy
_SEEN["numpy"] = numpy.__file__
print("SECRECY " + _json.dumps(_SEEN), flush=True)
'''


def test_wheel_install_practices_submits_and_hides_itself_from_the_sandbox(fresh):
    """From a folder outside the checkout: `pitfalls list`, `practice`, `submit` (scored, through
    the harness mounted from the installed package), `reveal` (probes run from the installed
    probekit). The submission's train.py looks for pitfalls inside its sandbox and finds nothing."""
    started = time.monotonic()
    py, cwd, env, site = fresh["python"], fresh["cwd"], fresh["env"], fresh["site"]
    where = _run([str(py), "-c", "import pitfalls; print(pitfalls.__file__)"], cwd=cwd, env=env).stdout.strip()
    assert where == str(site / "pitfalls" / "__init__.py"), where  # the wheel, not the editable checkout
    pitfalls = str(fresh["venv"] / "bin" / "pitfalls")
    listed = _run([pitfalls, "list"], cwd=cwd, env=env).stdout
    assert SCAFFOLD in listed and "bike_demand" in listed, listed
    work = fresh["root"] / "ws"
    _run([pitfalls, "practice", SCAFFOLD, "--dir", str(work), "--no-jupyter"], cwd=cwd, env=env)
    # positive controls: on the host, everything the probe must not see is there
    assert any((site / "pitfalls" / "scaffolds" / SCAFFOLD / "solution").iterdir())
    assert any((Path(DEV_SITES[0]) / "sklearn" / "datasets" / "data").iterdir())
    train = work / "train.py"
    train.write_text(_secrecy_probe(site) + train.read_text())
    out = _run([pitfalls, "submit", "--dir", str(work), "--json"], cwd=cwd, env=env).stdout
    result = json.loads(out[out.index("{"):])
    assert result["status"] == "scored" and result["normalized"] is not None, result
    line = next((ln for ln in result["log_tail"].splitlines() if ln.startswith("SECRECY ")), None)
    assert line, result["log_tail"]
    seen = json.loads(line.removeprefix("SECRECY "))
    assert seen["numpy"].startswith(DEV_SITES[0]), seen  # the layered libraries were mounted
    assert seen["pitfalls"] == [], seen  # the installed package is an empty folder in the sandbox
    assert all(seen[k] == "absent" for k in ("pitfalls/scaffolds", f"pitfalls/scaffolds/{SCAFFOLD}/solution",
                                             "pitfalls/bugs/probekit", "pitfalls/sandbox/harness")), seen
    assert seen["dist-info-files"] and all(f == [] for f in seen["dist-info-files"]), seen
    assert seen["import"] == "ModuleNotFoundError", seen
    assert seen["sklearn_data"] == [], seen  # base data of the layered site-packages hidden too
    assert all(v == "absent" for v in seen["checkout"].values()), seen
    revealed = json.loads(_run([pitfalls, "reveal", "--dir", str(work), "--json"], cwd=cwd, env=env).stdout)
    assert revealed["bugs"] and all(b["evidence"] for b in revealed["bugs"]), revealed["bugs"]
    assert any(b["status"] == "present" for b in revealed["bugs"]), revealed["bugs"]
    print(f"list+practice+submit+reveal in the wheel install: {time.monotonic() - started:.1f} s")


def test_wheel_install_checks_a_scaffold_quickly(fresh):
    """`pitfalls check --quick` (no training) passes on the installed scaffold, from elsewhere."""
    proc = _run([str(fresh["venv"] / "bin" / "pitfalls"), "check", "--quick", SCAFFOLD, "--json"],
                cwd=fresh["cwd"], env=fresh["env"])
    report = json.loads(proc.stdout[proc.stdout.index("{"):])  # exit 0 already: every check passed
    assert report["path"] == str(fresh["site"] / "pitfalls" / "scaffolds" / SCAFFOLD), report["path"]
    # passed, or failed as the scaffold declares in [check] xfail (tumor_triage: mutants_reproduce_starter)
    assert report["ok"] and len(report["results"]) >= 10, report
    assert {r["status"] for r in report["results"]} <= {"passed", "xfailed"}, report


def test_wheel_install_needs_a_checkout_to_build_the_candidate_image(fresh):
    """No checkout, no image: a clear error naming PITFALLS_IMAGE_CONTEXT; with it, the context."""
    code = ("from pitfalls.live.containers import ContainerError, image_context\n"
            "try:\n    print(image_context())\nexcept ContainerError as exc:\n    print('ERROR', exc)\n")
    alone = _run([str(fresh["python"]), "-c", code], cwd=fresh["cwd"], env=fresh["env"]).stdout
    assert alone.startswith("ERROR The candidate image must be built from a pitfalls checkout"), alone
    assert "PITFALLS_IMAGE_CONTEXT=" in alone and "installed package" in alone, alone
    named = _run([str(fresh["python"]), "-c", code], cwd=fresh["cwd"],
                 env={**fresh["env"], "PITFALLS_IMAGE_CONTEXT": str(REPO)}).stdout.strip()
    assert named == str(REPO.resolve()), named
    wrong = _run([str(fresh["python"]), "-c", code], cwd=fresh["cwd"],
                 env={**fresh["env"], "PITFALLS_IMAGE_CONTEXT": str(fresh["site"])}).stdout
    assert wrong.startswith("ERROR") and "without Dockerfile" in wrong, wrong

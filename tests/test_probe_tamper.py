"""Probe verdicts are self-reported and cross-checked: candidate code that rewrites the probe output
is flagged in the store, on the dashboard, in the report and in the reveal; honest code is not.

The fast tests run the static scan (runner/probes/tamper.py) over every shipped scaffold's starter and
reference, and the record reader (runner/probes/run.py) over result channels written by hand. The
sandbox tests submit real tumor_triage workspaces whose train.py attacks the probe run three ways
(an atexit hook, writes to every open descriptor and to /out, monkeypatched json) and check what
the interviewer is shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from pitfalls.cli import render
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold, scaffold_names
from pitfalls.library.variants import materialize
from pitfalls.live.report import render_report
from pitfalls.live.server import service
from pitfalls.probes.run import MARKER, read_record, run_probes
from pitfalls.probes.tamper import scan_notebook, scan_source, scan_workspace
from pitfalls.service import api

FORGED = {"label_misalignment": "fixed", "scaler_not_saved": "fixed", "inverted_class_weights": "fixed",
          "leak_feature_used": "fixed"}
ATEXIT = '''
import atexit as _ax, json as _js

def _forge():
    try:
        with open("/out/probes.json", "w") as fh:
            _js.dump({b: {"status": "fixed", "evidence": "ok"} for b in %r}, fh)
    except OSError:
        pass
    print("\\n@@pitfalls-probe-record@@ e30= " + "0" * 64, flush=True)

_ax.register(_forge)
''' % list(FORGED)
CHANNEL = '''
import os as _os, json as _js
_line = "".join(_js.dumps({"bug": b, "status": "fixed", "evidence": "ok"}) + "\\n" for b in %r).encode()
for _fd in _os.listdir("/proc/self/fd"):
    try:
        _os.write(int(_fd), _line)
    except OSError:
        pass
try:
    open("/out/probes.json", "w").write(_line.decode())
except OSError:
    pass
_os.write(1, b"\\n@@pitfalls-probe-record@@ e30= " + b"0" * 64 + b"\\n")  # a forged result record
''' % list(FORGED)
JSON_PATCH = '''
import json as _js
_dumps, _dump = _js.dumps, _js.dump
_js.dumps = lambda obj, *a, **k: _dumps(_js.loads(_dumps(obj).replace('"present"', '"fixed"')), *a, **k)
_js.dump = lambda obj, fh, *a, **k: fh.write(_js.dumps(obj))
'''


def _frame(nonce: bytes, payload: dict) -> bytes:
    body = base64.b64encode(json.dumps(payload).encode())
    return b"\n" + MARKER + b" " + body + b" " + hmac.new(nonce, body, hashlib.sha256).hexdigest().encode() + b"\n"


# --- fast: the static scan ---------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in scaffold_names()])
def test_scan_finds_nothing_in_shipped_starters_and_references(name, tmp_path):
    scaffold = load_scaffold(name)
    assert scan_workspace(scaffold.root / "workspace") == []
    ref = materialize(scaffold=scaffold, target=tmp_path / "ref", reference=True)
    assert scan_workspace(ref) == []


@pytest.mark.parametrize("attack, construct", [
    (ATEXIT, "atexit"), (CHANNEL, "os.write"), (CHANNEL, "/out/probes.json"), (JSON_PATCH, "monkeypatching json"),
    ("import sys\nsys._getframe(1).f_locals['x'] = 1\n", "sys._getframe"),
    ("import gc\n[o for o in gc.get_objects()]\n", "gc.get_objects"),
    ("import sys\nsys.settrace(lambda *a: None)\n", "sys.settrace"),
    ("import ctypes\n", "import ctypes"),
    ("import signal\nsignal.signal(15, print)\n", "signal.signal"),
    ("m = __import__('o' + 's')\n", "__import__() of a computed string"),
    ("import importlib\nimportlib.import_module(name)\n", "import_module() of a computed name"),
    ("import builtins\nbuiltins.open = print\n", "monkeypatching builtins"),
    ("from sklearn.base import BaseEstimator\nBaseEstimator.fit = None\n", "monkeypatching sklearn"),
    ("exec(code)\n", "exec() of a computed string"),
    ("import os\nsetattr(os, 'write', print)\n", "setattr() on os"),
    ("open(1, 'w').write('x')\n", "open() of a file descriptor"),
])
def test_scan_flags_constructs_that_reach_the_probes(attack, construct):
    found = scan_source(attack, "train.py")
    assert any(construct in f for f in found), found


def test_scan_reads_notebook_code_cells_and_flags_shadowing_modules(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": "import atexit"},
                    {"cell_type": "code", "source": ["%matplotlib inline\n", "import atexit\n"]}]}
    assert scan_notebook(json.dumps(nb), "eda.ipynb") == ["eda.ipynb[cell 2]:2 import atexit"]
    (tmp_path / "json.py").write_text("x = 1\n")
    (tmp_path / "helper.cpython-311.so").write_bytes(b"\x7fELF")
    (tmp_path / "probekit").mkdir()
    found = scan_workspace(tmp_path)
    assert all(f.startswith("tampering suspected: ") for f in found)
    assert any("shadows 'json'" in f for f in found) and any("binary code" in f for f in found)
    assert any("shadows 'probekit'" in f for f in found)


def test_honest_code_is_not_flagged():
    honest = ("import os, gc, json\nimport numpy as np\nimport torch\nfrom pathlib import Path\n"
              "torch.backends.cudnn.deterministic = True\nmodel.eval()\ngc.collect()\n"
              "os.makedirs('artifacts', exist_ok=True)\njson.dump({'a': 1}, open('artifacts/meta.json', 'w'))\n"
              "name = getattr(model, 'name', 'x')\nout = Path('output')\n")
    assert scan_source(honest, "train.py") == []


# --- fast: the record reader -------------------------------------------------------------------

def test_read_record_accepts_one_authenticated_final_record(tmp_path):
    nonce, log = b"ab" * 32, tmp_path / "probe.log"
    payload = {"verdicts": {"x": {"status": "present", "evidence": ""}}, "issues": []}
    log.write_bytes(b"training output\n" + _frame(nonce, payload))
    assert read_record(log, nonce) == (payload, [])


@pytest.mark.parametrize("tamper, problem", [
    (lambda f, n: f.replace(f[-10:-1], b"0" * 9), "authentication"),  # a forged MAC
    (lambda f, n: _frame(b"cd" * 32, {"verdicts": {}}), "authentication"),  # another run's key
    (lambda f, n: f + b"late output\n", "output after"),
    (lambda f, n: f + _frame(n, {"verdicts": {}}), "2 result records"),
    (lambda f, n: b"\n" + MARKER + b" e30= 00\n" + f, "2 result records"),
])
def test_read_record_flags_a_tampered_channel(tmp_path, tamper, problem):
    nonce, log = b"ab" * 32, tmp_path / "probe.log"
    log.write_bytes(tamper(_frame(nonce, {"verdicts": {}, "issues": []}), nonce))
    _, problems = read_record(log, nonce)
    assert any(problem in p for p in problems), problems


def test_old_database_rows_load_with_the_new_fields(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    store = Store(path)
    sid = store.create_session(scaffold="tumor_triage", workspace=tmp_path, mode="practice")
    sub = store.insert_submission(session_id=sid, note="", metric="balanced_accuracy", snapshot="s", snapshot_sha256="h")
    store.finish_submission(sub, status="scored", score_public=0.91234567, norm_public=0.5,
                            probes=[{"bug_id": "label_misalignment", "status": "fixed", "evidence": ""}])
    store.close()
    db = sqlite3.connect(path)  # make it a database of the previous release: no new columns
    for col in ("score_public_exact", "score_interval", "probe_flags"):
        db.execute(f"ALTER TABLE submissions DROP COLUMN {col}")
    db.commit()
    db.close()
    row = Store(path).submission(sub)
    assert row["score_interval"] is None and row["probe_flags"] == [] and row["score_public_exact"] is None
    result = api.result_from_row(row, load_scaffold("tumor_triage"))
    assert result.score == 0.912 and result.score_interval is None
    assert result.probes[0].self_reported and result.probes[0].tampering == []


# --- sandbox: attacks on a real probe run ------------------------------------------------------

def _state(session_id: str) -> dict:
    """The dashboard's state JSON for a session, from the service's own functions."""
    svc = service.SessionService.__new__(service.SessionService)
    svc.scaffold = load_scaffold("tumor_triage")
    subs = [service._submission(s) for s in Store().submissions(session_id)]
    return json.loads(json.dumps({"submissions": subs, "bugs": svc._bugs(subs)}))


def test_atexit_forgery_is_flagged_in_store_dashboard_report_and_reveal(workspace):
    ws = workspace("tumor_triage")
    (ws / "train.py").write_text((ws / "train.py").read_text() + ATEXIT)
    result = api.submit(directory=ws, note="atexit forgery", probes=True)
    assert result.status == "scored"
    lo, hi = result.score_interval  # the public score: on the 0.001 grid, with its interval
    assert lo <= result.score <= hi and result.score == round(result.score, 3)
    assert "(95% interval " in render.submission(result) and f"= {result.score:.3f} " in result.message
    row = Store().submission(result.submission_id)
    assert row["probe_flags"] and all(p["tampering"] and p["self_reported"] for p in row["probes"])
    flags = " ".join(row["probe_flags"])
    assert "registered an atexit handler at train.py" in flags and "_ax.register" in flags, flags
    # the harness ends with os._exit, so the hook never ran: the starter's bugs are still present
    assert {p["bug_id"]: p["status"] for p in row["probes"]}["label_misalignment"] == "present"
    state = _state(row["session_id"])
    assert state["submissions"][0]["probe_flags"] == row["probe_flags"]
    assert all(b["self_reported"] and b["tampering"] for b in state["bugs"])
    html = render_report(session_id=row["session_id"])
    assert "Tampering suspected in the probe runs of submission(s) #1" in html and "self-reported" in html
    assert "tampering suspected: train.py:" in html
    rv = api.reveal(directory=ws)
    text = render.reveal(rv)
    assert "WARNING: tampering suspected" in text and "self-reported" in text
    assert "probe" not in json.dumps(result.candidate_view()["message"]).lower()


@pytest.mark.parametrize("attack, expected", [
    (CHANNEL, ("more than one verdict", "os.write")),  # its forged record on fd 1 reaches /dev/null
    (JSON_PATCH, ("monkeypatching json",)),
])
def test_channel_and_json_forgeries_are_flagged(workspace, attack, expected):
    ws = workspace("tumor_triage")
    (ws / "train.py").write_text((ws / "train.py").read_text() + attack)
    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=ws)
    flags = " ".join(found[0].tampering)
    for word in expected:
        assert word in flags, flags
    assert all(p.tampering == found[0].tampering for p in found)
    if attack is JSON_PATCH:  # the harness's encoder was bound before the patch: verdicts unchanged
        assert {p.bug_id: p.status for p in found}["label_misalignment"] == "present"


def test_honest_reference_is_not_flagged(workspace):
    ws = workspace("tumor_triage", reference=True)
    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=ws)
    assert [p.tampering for p in found] == [[]] * len(found)
    assert {p.status for p in found} == {"fixed"} and all(p.self_reported for p in found)


# --- the reviewer's attacks (issue 11): forging through gc/__code__, suppression, crashes ---------

def _forge(trigger: str) -> str:
    """The reviewer's forge: under the probe only, rewrite every probe function to say "fixed"."""
    return f'''
import gc, os
def _forge():
    if not ({trigger}):
        return
    g = gc
    for o in g.get_objects():
        if type(o).__name__ == "function" and getattr(o, "__module__", "") == "scaffold_probes" \\
                and o.__name__ != "setup":
            f = lambda ctx, name=o.__name__: ("fixed", "checked: 100.0% of fitted rows consistent")
            setattr(o, "__code__", getattr(f, "__code__"))
            setattr(o, "__defaults__", (o.__name__,))
_forge()
'''


# A reviewer's tell: the probe sandbox's environment or CPUs differ from training's (training gets
# PYTHONPATH and the slot's thread settings, one thread per CPU it is pinned to).
REVIEWER_TELL = ('"PYTHONPATH" not in os.environ or '
                 'os.environ.get("OMP_NUM_THREADS") != str(len(os.sched_getaffinity(0)))')
MOUNT_TELL = '"harness" in os.listdir("/")'  # a tell that remains (README.md, "Probe verdicts")
SUPPRESS = 'import os\nif "harness" in os.listdir("/"):\n    raise SystemExit(0)\n'
DEEP = {"plus.py": "x = " + "1+" * 100_000 + "1\n", "attr.py": "x = a" + ".b" * 100_000 + "\n",
        "notnot.py": "x = " + "not " * 50_000 + "1\n"}


@pytest.mark.parametrize("name", list(DEEP))
def test_code_too_deep_to_scan_is_a_finding_not_a_crash(name, tmp_path):
    assert scan_source(DEEP[name], name) == [f"{name}:0 code too deeply nested to scan: {name}"]
    (tmp_path / name).write_text(DEEP[name])
    assert scan_workspace(tmp_path) == [f"tampering suspected: {name}:0 code too deeply nested to scan: {name}"]


def test_a_probe_run_that_fails_in_the_runner_gives_flagged_unknowns(tmp_path, monkeypatch):
    """An unexpected failure in the runner is flagged for the interviewer; a failure of the host
    (a missing folder, a full disk, the queue) only says the probes did not run: no accusation."""
    from pitfalls.probes import run as probe_run

    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=tmp_path / "no-such-workspace")
    assert {p.status for p in found} == {"unknown"} and len(found) == len(FORGED)
    assert all(p.evidence.startswith("the probes did not run") and not p.tampering for p in found), found

    def crash(**_: object) -> None:
        raise RuntimeError("a runner bug")

    monkeypatch.setattr(probe_run, "_probe", crash)
    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=tmp_path)
    assert {p.status for p in found} == {"unknown"} and len(found) == len(FORGED)
    assert all("the probe run failed in the runner" in p.tampering[0] for p in found)


@pytest.mark.parametrize("attack, construct", [
    (_forge(REVIEWER_TELL), "the module 'gc' used as a value"), (_forge(REVIEWER_TELL), "setattr(..., '__code__')"),
    ("import gc\nf = gc.collect\n", "only a direct gc.collect() call"),
    ("import gc\nx = gc.get_referents(y)\n", "gc.get_referents"),
    ("import sys\nsys.path.insert(0, 'lib.zip')\n", "a change to sys.path"),
    ("import sys\nsys.path += ['lib.zip']\n", "a change to sys.path"),
    ("import sys\np = sys.path\n", "a change to sys.path"),
    ("import sys as s\nm = s.modules\n", "s.modules"), ("import sys\nsys.meta_path.append(x)\n", "sys.meta_path"),
    ("import sys\nif sys.flags.isolated: pass\n", "sys.flags"),
    ("import inspect\n", "import inspect"), ("import zipimport\n", "import zipimport"),
    ("import pkgutil\n", "import pkgutil"), ("from importlib import util\n", "from importlib import util"),
    ("fn.__dict__['x'] = 1\n", ".__dict__"), ("fn.__defaults__ = (1,)\n", ".__defaults__"),
    ("x = frame.f_globals\n", ".f_globals"), ("x = fn.func_code\n", ".func_code"),
    ("x = getattr(o, name)\n", "getattr() of a computed attribute name"),
    ("setattr(o, '__code__', c)\n", "setattr(..., '__code__')"), ("delattr(o, '__call__')\n", "delattr(..., '__call__')"),
    ("vars()['x'] = 1\n", "vars()"), ("vars(o)['x'] = 1\n", "vars()"),
    ("from sklearn.linear_model import LogisticRegression as L\nfit = L.fit.__wrapped__\n", ".__wrapped__"),
    ("import types\nf = types.FunctionType(code, {})\n", "types.FunctionType"),
])
def test_scan_flags_reflection_that_can_rewrite_probe_functions(attack, construct):
    found = scan_source(attack, "train.py")
    assert any(construct in f for f in found), found


def test_common_honest_idioms_are_not_flagged():
    honest = ("import gc, sys, argparse\nimport pandas as pd\nfrom sklearn.pipeline import make_pipeline\n"
              "gc.collect()\nargs = argparse.ArgumentParser().parse_args()\ncfg = vars(args)\n"
              "proba = getattr(model, 'predict_proba')(X)\nok = hasattr(model, 'predict_proba')\n"
              "setattr(model, 'n_jobs', 1)\ndf = df.assign(x=lambda d: d.a * 2)\ndf.loc[:, 'y'] = 1\n"
              "name = model.__class__.__name__\nprint(sys.path, sys.argv)\nsys.exit(main())\n"
              "torch.manual_seed(0)\ntorch.set_num_threads(1)\n")
    assert scan_source(honest, "train.py") == []


def test_archives_pickles_and_hidden_zips_outside_data_and_artifacts_are_findings(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "lib.zip", "w") as z:
        z.writestr("helper.py", "x = 1\n")
    (tmp_path / "notes.csv").write_bytes((tmp_path / "lib.zip").read_bytes())  # a zip by its bytes
    (tmp_path / "cache.pkl").write_bytes(b"\x80\x04N.")
    for rel in ("data/extra.pkl", "artifacts/model.pkl", "train.py"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(b"\x80\x04N." if rel.endswith("pkl") else b"x = 1\n")
    found = {f.removeprefix("tampering suspected: ").split(":")[0] for f in scan_workspace(tmp_path)}
    assert found == {"lib.zip", "notes.csv", "cache.pkl"}  # not data/extra.pkl, artifacts/ or train.py


def test_the_probe_run_looks_like_training_so_the_reviewers_tell_no_longer_fires(workspace):
    ws = workspace("tumor_triage")
    (ws / "train.py").write_text((ws / "train.py").read_text() + _forge(REVIEWER_TELL))
    found = {p.bug_id: p for p in run_probes(scaffold=load_scaffold("tumor_triage"), source=ws)}
    assert found["label_misalignment"].status == "present"  # the starter's bug: the forge never ran
    assert any("'gc' used as a value" in f for f in found["label_misalignment"].tampering)


def test_a_gc_code_forgery_that_works_is_flagged(workspace):
    ws = workspace("tumor_triage")
    (ws / "train.py").write_text((ws / "train.py").read_text() + _forge(MOUNT_TELL))
    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=ws)
    assert {p.status for p in found} == {"fixed"}  # the forgery itself succeeds in the sandbox...
    flags = " ".join(found[0].tampering)  # ...and the interviewer is told where to look
    assert "'gc' used as a value" in flags and "setattr(..., '__code__')" in flags, flags


def test_a_forgery_imported_from_a_zip_is_flagged_in_the_store(workspace):
    import zipfile

    ws = workspace("tumor_triage")
    with zipfile.ZipFile(ws / "lib.zip", "w") as z:
        z.writestr("helper.py", _forge(MOUNT_TELL))
    text = (ws / "train.py").read_text().replace("import os\n", "import os\nimport sys\nsys.path.insert(0, 'lib.zip')\nimport helper  # noqa\n", 1)
    (ws / "train.py").write_text(text)
    result = api.submit(directory=ws, note="zip forgery", probes=True)
    assert result.status == "scored"
    flags = " ".join(Store().submission(result.submission_id)["probe_flags"])
    assert "lib.zip:0" in flags and "a change to sys.path" in flags, flags


def test_suppression_under_the_probe_and_unscannable_code_are_flagged_not_fatal(workspace):
    ws = workspace("tumor_triage", files={"junk.py": DEEP["plus.py"]})
    (ws / "train.py").write_text(SUPPRESS + (ws / "train.py").read_text())
    assert [f for f in scan_workspace(ws) if "train.py" in f] == []  # the exit itself is not a finding
    result = api.submit(directory=ws, note="silent probe", probes=True)
    assert result.status == "scored"  # never "The runner failed"
    row = Store().submission(result.submission_id)
    assert {p["status"] for p in row["probes"]} == {"unknown"}
    flags = " ".join(row["probe_flags"])
    assert "junk.py:0 code too deeply nested to scan" in flags, flags
    assert "saved no countable artifact although the scored run" in flags, flags
    assert "no verdict" not in flags or "training completed" in flags
    rv = api.reveal(directory=ws)
    assert all(b["status"] == "unknown" for b in rv.bugs)


def test_a_probe_run_that_trained_but_gave_no_verdict_is_flagged(workspace):
    ws = workspace("tumor_triage")  # predict() exits only under the probe, after training saved the model
    text = (ws / "model.py").read_text().replace("def predict(model, features):\n", "def predict(model, features):\n"
                                                 "    import os\n    if 'harness' in os.listdir('/') and "
                                                 "'workspace' in os.listdir('/'):\n        raise SystemExit(0)\n", 1)
    assert "SystemExit" in text
    (ws / "model.py").write_text(text)
    found = run_probes(scaffold=load_scaffold("tumor_triage"), source=ws)
    assert {p.status for p in found} == {"unknown"}
    assert any("no verdict although training completed" in f for f in found[0].tampering), found[0].tampering

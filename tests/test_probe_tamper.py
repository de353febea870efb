"""Probe verdicts are self-reported and cross-checked: candidate code that rewrites the probe output
is flagged in the store, on the dashboard, in the report and in the reveal; honest code is not.

The fast tests run the static scan (runner/tamper.py) over every shipped scaffold's starter and
reference, and the record reader (runner/probes.py) over result channels written by hand. The
sandbox tests submit real tumor_triage workspaces whose train.py attacks the probe run three ways
(an atexit hook, writes to every open descriptor and to /out, monkeypatched json) and check what
the interviewer is shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from pitfalls import api, render
from pitfalls.probes import MARKER, read_record, run_probes
from pitfalls.report import render_report
from pitfalls.scaffold import load_scaffold, scaffold_names
from pitfalls.session_server import service
from pitfalls.store import Store
from pitfalls.tamper import scan_notebook, scan_source, scan_workspace
from pitfalls.variants import materialize

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

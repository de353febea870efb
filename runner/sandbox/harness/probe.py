"""Probe harness, run inside a probe sandbox (standalone: imports nothing of pitfalls).

The probes' ``setup()`` trains the candidate's workspace in this interpreter, under spies, so a
verdict is *self-reported*: candidate code shares the process that computes it. The harness makes
tampering detectable rather than impossible:

- A pristine parent. The harness imports the (trusted) probes file with /harness first on the path
  (no workspace module can shadow it), then forks. The child closes stdin, runs ``setup()`` and
  each probe (in its own forked grandchild, with a time limit) and sends one JSON line per verdict
  through a pipe. The parent never runs candidate code.
- A secret the candidate's process never holds. Only after the fork does the parent make itself
  non-dumpable (no ptrace, no /proc/PID/mem for the same uid) and read the run's nonce from stdin.
- One authenticated record, written last. When the child has exited and every other process of
  the sandbox is killed, the parent writes exactly one line to stdout: a marker, the base64 of a
  JSON payload and its HMAC-SHA256 under the nonce. The payload holds the verdicts as received,
  the child's exit status and what was wrong with the child's stream (malformed, duplicate,
  unexpected or missing verdicts, an atexit handler left by candidate code). The runner rejects a
  missing, extra, unauthenticated or non-final record.
"""

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import select
import signal
import sys
import time
import traceback

MARKER = b"@@pitfalls-probe-record@@"
MAX_STREAM = 1 << 20
_WRITE, _DUMPS, _EXIT = os.write, json.dumps, os._exit  # bound before any candidate code runs


def _prctl_dumpable(flag):
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, flag, 0, 0, 0)  # PR_SET_DUMPABLE
    except Exception:  # no libc prctl: the sandbox's uid separation still holds
        pass


def _load():
    sys.path[:0] = ["/harness"]
    spec = importlib.util.spec_from_file_location("scaffold_probes", "/harness/probes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_one(fn, seconds):
    read, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            try:
                status, evidence = fn()
                out = {"status": str(status)[:20], "evidence": str(evidence)[:500]}
            except BaseException as exc:  # a probe that cannot decide says so
                out = {"status": "unknown", "evidence": f"{type(exc).__name__}: {exc}"[:500]}
            _WRITE(wfd, _DUMPS(out).encode())
        finally:
            _EXIT(0)  # never the interpreter's exit: no atexit handler of candidate code runs
    os.close(wfd)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return {"status": "unknown", "evidence": f"probe timed out after {seconds:.0f} s"}
    data = os.read(read, 1 << 16)
    os.close(read)
    try:
        return json.loads(data)
    except ValueError:
        return {"status": "unknown", "evidence": "probe crashed"}


def _watch_atexit(atexit):
    """Record atexit registrations made from workspace code (libraries register their own)."""
    seen, register = [], atexit.register

    def watched(fn, *args, **kwargs):
        caller = sys._getframe(1).f_code
        code = getattr(getattr(fn, "func", fn), "__code__", None)
        for co in (caller, code):
            name = co.co_filename if co is not None else "/"
            if name.startswith("/workspace/") or not name.startswith(("/", "<")):  # relative: from /workspace
                seen.append(f"{name.removeprefix('/workspace/')}:{co.co_firstlineno}")
                break
        return register(fn, *args, **kwargs)

    atexit.register = watched
    return seen


def _look_like_training():
    """Make this process look like ``python -u train.py`` in the training sandbox (pipeline.train):
    its sys.path (script folder, then PYTHONPATH), its argv, and stdout to nowhere (as the probe
    run's output is never shown). What still differs is listed in README.md ("Probe verdicts")."""
    sys.path[:] = ["/workspace", "/workspace"] + [p for p in sys.path if p not in ("/harness", "/workspace")]
    sys.argv[:] = ["train.py"]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # the parent's own descriptor 1 (the result record) is not this one
    os.close(null)


def _single_threaded():
    """After training: each probe runs in a forked process, where an OpenMP pool inherited from
    training (the sandbox's OMP_NUM_THREADS, as in pipeline.train) would deadlock; use one thread."""
    try:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(1)
    except Exception:  # a probe that then hangs is reported as timed out
        pass


def _child(probes, seconds, wfd):
    """Run setup and every probe; send one line per verdict. Never returns."""
    write, dumps, exit_ = _WRITE, _DUMPS, _EXIT
    try:
        import atexit

        _prctl_dumpable(1)
        _look_like_training()
        items = list(probes.PROBES.items())  # before any candidate code can change the dict
        hooks = _watch_atexit(atexit)
        ctx = probes.setup() if hasattr(probes, "setup") else {}
        _single_threaded()
        for bug, fn in items:
            verdict = _run_one(lambda fn=fn: fn(ctx), seconds)
            if not isinstance(verdict, dict):
                verdict = {"status": "unknown", "evidence": "probe returned no verdict"}
            write(wfd, (dumps({"bug": bug, "status": verdict.get("status"),
                               "evidence": str(verdict.get("evidence", ""))[:500]}) + "\n").encode())
        for where in hooks[:5]:
            write(wfd, (dumps({"note": f"candidate code registered an atexit handler at {where} "
                                       "(the harness never runs it)"}) + "\n").encode())
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException:
        traceback.print_exc()
        exit_(1)
    exit_(0)


def _collect(pid, rfd):
    """Read the child's stream until it exits; returns (bytes, wait status, overflowed)."""
    chunks, size, status = [], 0, None
    while status is None:
        ready, _, _ = select.select([rfd], [], [], 0.2)
        if ready:
            data = os.read(rfd, 65536)
            size += len(data)
            if size <= MAX_STREAM:
                chunks.append(data)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    stray = _kill_others()
    os.set_blocking(rfd, False)
    while True:
        try:
            data = os.read(rfd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        size += len(data)
        if size <= MAX_STREAM:
            chunks.append(data)
    return b"".join(chunks), status, size > MAX_STREAM, stray


def _kill_others():
    """Kill every process of the sandbox but this one and its ancestors; returns how many."""
    keep, killed = {os.getpid(), os.getppid(), 1}, 0
    for _ in range(3):
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in keep:
                try:
                    os.kill(int(name), signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
        time.sleep(0.05)
    return killed


def _check(stream, expected, overflow):
    """Parse the child's lines into verdicts, and list what is wrong with them."""
    verdicts, issues, notes = {}, [], []
    if overflow:
        issues.append(f"the probe process sent more than {MAX_STREAM} bytes of verdicts")
    for line in stream.split(b"\n"):
        if not line:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            issues.append("a malformed verdict line reached the result channel")
            continue
        if not isinstance(item, dict) or not (isinstance(item.get("bug"), str) or isinstance(item.get("note"), str)):
            issues.append("a malformed verdict line reached the result channel")
        elif "note" in item:
            notes.append(item["note"][:300])
        elif item["bug"] not in expected:
            issues.append(f"a verdict for {item['bug'][:60]!r}, which the probes do not define")
        elif item["bug"] in verdicts:
            issues.append(f"more than one verdict for {item['bug']}")
        else:
            verdicts[item["bug"]] = {"status": item.get("status"), "evidence": str(item.get("evidence", ""))[:500]}
    return verdicts, issues, notes


def main(seconds):
    probes = _load()
    expected = list(probes.PROBES)
    rfd, wfd = os.pipe()
    _prctl_dumpable(0)  # before the fork: the parent is never attachable, the child resets its own
    pid = os.fork()
    if pid == 0:
        os.close(0)  # the nonce is the parent's alone
        os.close(rfd)
        _child(probes, seconds, wfd)
    os.close(wfd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    nonce = sys.stdin.buffer.readline().strip()
    if len(nonce) < 32:
        print("probe harness: no nonce on stdin", file=sys.stderr)
        return 2
    stream, status, overflow, stray = _collect(pid, rfd)
    verdicts, issues, notes = _check(stream, expected, overflow)
    code = os.waitstatus_to_exitcode(status)
    payload = json.dumps({"version": 1, "expected": expected, "verdicts": verdicts, "issues": issues,
                          "notes": notes, "child_exit": code, "stray_processes": stray}).encode()
    body = base64.b64encode(payload)
    mac = hmac.new(nonce, body, hashlib.sha256).hexdigest().encode()
    frame = b"\n" + MARKER + b" " + body + b" " + mac + b"\n"
    while frame:
        frame = frame[os.write(1, frame):]
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(float(sys.argv[1])))
    except Exception:
        traceback.print_exc()
        sys.exit(1)

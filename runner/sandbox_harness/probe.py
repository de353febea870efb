"""Probe harness, run inside a probe sandbox (standalone: imports nothing of pitfalls).

Loads the scaffold's probes file (mounted at /probes/probes.py), calls its optional ``setup()``
once (typically: train the workspace under spies), then runs each probe in its own
forked child with a time limit, so one probe's monkeypatching or hang cannot affect another.
Writes {bug_id: {"status": ..., "evidence": ...}} to /out/probes.json. Nothing from here is
shown to the candidate.
"""

import importlib.util
import json
import os
import sys
import time
import traceback


def _load():
    spec = importlib.util.spec_from_file_location("scaffold_probes", "/probes/probes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_one(fn, seconds):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            status, evidence = fn()
            out = {"status": status, "evidence": str(evidence)[:500]}
        except BaseException as exc:  # a probe that cannot decide says so
            out = {"status": "unknown", "evidence": f"{type(exc).__name__}: {exc}"[:500]}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
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
    return json.loads(data) if data else {"status": "unknown", "evidence": "probe crashed"}


def main(seconds: float) -> int:
    sys.path[:0] = ["/workspace", "/probes"]
    os.chdir("/workspace")
    probes = _load()
    ctx = probes.setup() if hasattr(probes, "setup") else {}
    results = {bug: _run_one(lambda fn=fn: fn(ctx), seconds) for bug, fn in probes.PROBES.items()}
    with open("/out/probes.json", "w") as fh:
        json.dump(results, fh)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(float(sys.argv[1])))
    except Exception:
        traceback.print_exc()
        sys.exit(1)

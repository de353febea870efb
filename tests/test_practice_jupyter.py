"""`pitfalls practice` starts a real JupyterLab on the workspace; the EDA notebook runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import nbformat
from nbclient import NotebookClient

from pitfalls.live.jupyter import free_port


def _read_json_object(stream) -> dict:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError("practice printed no JSON object:\n" + "".join(lines))


def test_practice_serves_the_workspace_in_jupyterlab(tmp_path):
    """Is JupyterLab up, token-protected, rooted at the workspace, and does Ctrl-C keep the files?"""
    ws = tmp_path / "ws"
    port = free_port(18888)
    proc = subprocess.Popen([sys.executable, "-m", "pitfalls", "practice", "tumor_triage", "--dir", str(ws),
                             "--port", str(port), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy(),
                            # A suite started in the background (`nohup ... &`) ignores SIGINT, and Python keeps an
                            # inherited SIG_IGN: the Ctrl-C below then never reached practice (two full runs).
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        info = _read_json_object(proc.stdout)
        assert info["url"].startswith(f"http://127.0.0.1:{port}/lab?token=")
        token = info["url"].split("token=")[1]
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10) as r:
            names = {item["name"] for item in json.load(r)["content"]}
        assert {"train.py", "model.py", "BRIEF.md", "eda.ipynb", "data"} <= names
        with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as r:
            assert b"JupyterLab" in r.read()
        try:
            urllib.request.urlopen(f"{base}/api/contents", timeout=10)
            raise AssertionError("the server answered without a token")
        except urllib.error.HTTPError as err:
            assert err.code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"practice must end within 60 s of Ctrl-C. It did not; its stderr ends:\n{err[-3000:]}") from None
    assert (ws / "train.py").exists() and (ws / ".pitfalls.json").exists()


def test_eda_notebook_runs_top_to_bottom(workspace):
    """Does the generated EDA notebook execute in a real kernel in the workspace?"""
    ws = workspace("digits_budget")
    (ws / "train.py").write_text("print('training skipped in this test')\n")
    nb = nbformat.read(ws / "eda.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ws)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert "(1197, 65)" in json.dumps(outputs)

"""``pitfalls-submit --preflight`` in a live session: the real session server (jupyter-server's test
fixtures, no container) and the real client on ``session.sock``; one real preflight of the
tumor_triage starter (about 5 s of training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pytest_jupyter.jupyter_server import *  # noqa: F401,F403 - the jp_* fixtures, for this module only

from pitfalls.core.store import Store
from test_session_api import SUBMIT, fetch, jp_base_url, jp_server_config, live, submit_socket  # noqa: F401


def _cli(sock, loop, *args: str) -> subprocess.CompletedProcess:
    async def run() -> subprocess.CompletedProcess:
        return await loop.run_in_executor(None, lambda: subprocess.run(
            [sys.executable, str(SUBMIT), *args], capture_output=True, text=True, timeout=600,
            env={**os.environ, "PITFALLS_SESSION_SOCK": str(sock)}))
    return loop.run_until_complete(run())


def test_a_live_preflight_uses_no_submission_and_the_interviewer_sees_it(
        live, submit_socket, jp_asyncio_loop, fetch):  # noqa: F811 - fixtures imported from test_session_api
    model = live.workspace / "model.py"
    model.write_text(model.read_text().replace("return model.predict(X)", "return model.predict(X)[:, None] * 3"))
    bad = _cli(submit_socket, jp_asyncio_loop, "--preflight")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "NOT READY" in bad.stdout and "predictions" in bad.stdout and "training rows" in bad.stdout, bad.stdout
    model.write_text(model.read_text().replace("[:, None] * 3", ""))
    good = _cli(submit_socket, jp_asyncio_loop, "--preflight", "--json")
    assert good.returncode == 0, good.stdout + good.stderr
    answer = json.loads(good.stdout)
    assert answer["ready"] and answer["rows"] == 16 and answer["breakdown"] and "score" not in answer, answer
    status = json.loads(_cli(submit_socket, jp_asyncio_loop, "--status", "--json").stdout)
    assert status["submissions"] == 0, status
    assert Store().submissions(live.session_id) == []
    state = json.loads(fetch("GET", "pitfalls/api/state", token=live.interviewer_token).body)
    seen = [e["data"]["outcome"] for e in state["events"] if e["kind"] == "preflight"]
    assert seen == ["problems", "ready"], state["events"]

"""What the practice reveal and history show of probes that run after the score (runner/probes/worker.py)."""

from __future__ import annotations

import time
from typing import Any

from pitfalls.core.store import Store
from pitfalls.probes import worker


def wait_session(store: Store, session_id: str, seconds: float) -> float:
    """Wait up to ``seconds`` for the session's unfinished probes; returns how long it waited."""
    ids = [s["id"] for s in store.submissions(session_id) if s["probe_status"] in worker.UNFINISHED]
    start = time.monotonic()
    if ids:
        worker.wait(store, ids, seconds)
    return time.monotonic() - start


def probe_view(row: dict[str, Any]) -> dict[str, Any]:
    """One submission's probes for the reveal: status, message, verdicts (bug id to status) and
    whether any verdict carries a tamper flag; no verdicts until they are ``done``."""
    done = row["probe_status"] == "done"
    return {"submission_id": row["id"], "note": row["note"], "probe_status": row["probe_status"],
            "message": row["probe_message"],
            "verdicts": {p["bug_id"]: p["status"] for p in row["probes"]} if done else {},
            "tampering": done and bool(row["probe_flags"] or any(p.get("tampering") for p in row["probes"]))}

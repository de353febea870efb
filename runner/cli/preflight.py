"""`pitfalls preflight`: check a workspace before spending a submission (runner/service/preflight.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pitfalls.cli import render


def preflight_text(view: dict[str, Any]) -> str:
    """What `pitfalls preflight` prints (``view``: :meth:`pitfalls.scoring.preflight.Preflight.view`)."""
    head = {"ready": "READY TO SUBMIT", "problems": "NOT READY", "failed": "FAILED", "refused": "REFUSED"}
    lines = [f"[{head[view['outcome']]}] preflight (no submission used, nothing scored)", f"  {view['message']}"]
    for v in view["problems"]:
        lines.append(f"  - {v['constraint']}: limit {v['limit']}, got {v['actual']}")
    if view["params"] is not None:
        lines.append(f"  parameters stored: {view['params']:,} of {view['max_params']:,}; largest:")
        lines += [f"      {k}: {n:,}" for k, n in view["breakdown"].items()]
        if view["code"]:
            lines.append(f"      {view['code']}")
    if view["timings"]:
        lines.append("  " + render.timings(view["timings"]))
    if view["outcome"] == "failed" and view["log_tail"]:
        lines += ["  --- last output ---", *("  " + line for line in view["log_tail"].strip().splitlines()[-15:])]
    return "\n".join(lines)


def _show_place(w: Any) -> None:
    """The preflight's place in the scoring queue, on stderr (it waits like a submission)."""
    click.echo(render.waiting(w.place, w.waiting, w.queued_seconds), err=True)


@click.command("preflight")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="The workspace folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def preflight(directory: Path, as_json: bool) -> None:
    """Check the workspace without spending a submission: train it in the sandbox as a submission
    would, count the artifact (with its breakdown), and run predict() on a few training rows to
    check the output's form. Nothing is scored and no held-out data is used. Exit 0 when ready.

    \b
    Examples:
      pitfalls preflight --dir .
      pitfalls preflight --dir . --json
    """
    from pitfalls.sched.priority import lower_client_priority
    from pitfalls.service.preflight import preflight as run

    lower_client_priority()
    view = run(directory=directory, on_wait=_show_place).view()
    click.echo(json.dumps(view, indent=2, default=str) if as_json else preflight_text(view))
    if not view["ready"]:
        sys.exit(2)

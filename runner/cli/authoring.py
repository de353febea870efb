"""Authors' loops that need no full ``pitfalls check``: ``pitfalls probe NAME --on BUILD`` (the probes'
verdicts on one build) and ``pitfalls workspace NAME DIR --with-bug ID`` (the reference with bugs put back)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pitfalls.cli.text import table

JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def probe_text(data: dict[str, Any]) -> str:
    """What ``pitfalls probe`` prints: one row per probe (verdict, what ``probes_agree`` expects on this
    build, evidence), the tamper flags of the run, and a last line saying whether all agree."""
    rows = [("ok" if p["agrees"] else "WRONG", p["bug"], p["status"], p["expected"], _short(p["evidence"]))
            for p in data["probes"]]
    lines = [f"{data['scaffold']}: probes on the {_build_words(data['on'])}",
             table(rows, ["", "probe", "verdict", "expected", "evidence"])]
    flags = sorted({f for p in data["probes"] for f in p["tampering"]})
    lines += [f"WARNING {f}" for f in flags]
    wrong = [p["bug"] for p in data["probes"] if not p["agrees"]]
    lines.append("OK: every probe says what this build holds." if not wrong else
                 f"FAILED: {', '.join(wrong)} disagree{'s' if len(wrong) == 1 else ''} with this build "
                 "(fix the probe or the mutant; `pitfalls check NAME --only probes_agree` runs every build).")
    return "\n".join(lines)


def _build_words(on: str) -> str:
    return {"starter": "starter (every bug present)", "reference": "reference (every bug fixed)"}.get(
        on, f"reference with {on} put back")


@click.command("probe")
@click.argument("name")
@click.option("--on", "on", default="starter", show_default=True, metavar="starter|reference|BUG_ID",
              help="The build to probe: the starter, the reference, or the reference with that bug put back.")
@JSON
def probe(name: str, on: str, as_json: bool) -> None:
    """(Authors) Run scaffold NAME's probes on one build and print each verdict and its evidence.

    Trains once, in the probe sandbox (seconds to a minute). Exit status 0 when every probe says what
    the build holds (present where its bug is planted, fixed elsewhere), else 1.

    \b
    Examples:
      pitfalls probe tumor_triage --on starter
      pitfalls probe tumor_triage --on scaler_not_saved --json
    """
    from pitfalls.sched.priority import lower_client_priority

    lower_client_priority()  # as `check`: this process's own work never slows another job's training
    from pitfalls.service.builds import probe_build

    data = probe_build(name=name, on=on)
    click.echo(json.dumps(data, indent=2) if as_json else probe_text(data))
    sys.exit(0 if data["agree"] else 1)


@click.command("workspace")
@click.argument("name")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--with-bug", "bugs", multiple=True, metavar="BUG_ID",
              help="A planted bug to put back into the reference (repeat for several; none: the reference).")
@JSON
def workspace(name: str, directory: Path, bugs: tuple[str, ...], as_json: bool) -> None:
    """(Authors) Create practice workspace DIRECTORY holding scaffold NAME's reference with bugs put back.

    Like `pitfalls practice --no-jupyter`, but the code is solution/ with each --with-bug's mutant
    applied: train it, submit it, probe it.

    \b
    Examples:
      pitfalls workspace tumor_triage /tmp/tt-leak --with-bug leak_feature_used
      pitfalls workspace tumor_triage /tmp/tt-two --with-bug leak_feature_used --with-bug scaler_not_saved
      pitfalls submit --dir /tmp/tt-leak
    """
    from pitfalls.service.builds import start_build_workspace

    info = start_build_workspace(name=name, directory=directory, bugs=bugs)
    what = f"with {', '.join(info['bugs'])} put back" if info["bugs"] else "with no bug put back"
    text = (f"Created workspace {info['workspace']}: the reference of {info['scaffold']} {what} "
            f"(session {info['session_id']}).\nNext: cd {info['workspace']} && python train.py, or "
            f"pitfalls submit --dir {info['workspace']}")
    click.echo(json.dumps(info, indent=2) if as_json else text)

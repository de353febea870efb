"""``pitfalls session ...``: live interview sessions (a thin shell over :mod:`pitfalls.live.sessions`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from pitfalls.cli.packs_option import SCAFFOLDS
from pitfalls.cli.render import table
from pitfalls.live import sessions

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
VARIANT = click.option("--variant", default=None, metavar="ID",
                       help="The scaffold's variant (v1, v2, ...; 'base': the shipped files). Default: one drawn "
                            "at random when the scaffold declares [variants], recorded with the session.")


def _minutes(seconds: float | None, clock: str = "") -> str:
    left = "untimed" if seconds is None else f"{seconds / 60:.0f} min left"
    return f"{left}, clock {clock}" if clock and clock != "running" else left


def _describe(info: sessions.SessionInfo) -> str:
    head = "Resumed" if info.resumed else "Session"
    return (f"{head} {info.session_id}: {info.scaffold}"
            f"{f' for {info.candidate}' if info.candidate else ''} ({_minutes(info.remaining_seconds, info.clock)}, "
            f"{info.submissions} submissions)\n"
            f"  candidate:   {info.candidate_url}\n  interviewer: {info.interviewer_url}\n"
            f"  container:   {info.container} ({info.container_state}); server "
            f"{'running' if info.server_running else 'stopped'}\n  workspace:   {info.workspace}")


@click.group("session")
def session() -> None:
    """Live interviews: a container with JupyterLab for the candidate, a dashboard for you.

    \b
    Examples:
      pitfalls session start tumor_triage --candidate "Ada L." --duration 60
      pitfalls session status
      pitfalls session extend SESSION_ID 10
      pitfalls session pause SESSION_ID
      pitfalls session stop SESSION_ID
      pitfalls session report SESSION_ID -o ada.html
    """


@session.command("start")
@click.argument("name")
@SCAFFOLDS
@click.option("--candidate", default="", help="The candidate's name (shown on the dashboard and report).")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="Minutes on the timer (0: untimed). Default: 60 for a new session; a resumed one keeps its own. "
                   "The clock starts when the candidate's JupyterLab first answers.")
@click.option("--port", type=int, default=None, help="The candidate's TCP port (default: 8890 or a free one).")
@click.option("--interviewer-port", type=int, default=None,
              help="The interviewer's TCP port, a separate origin (default: 8891 or a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all).")
@click.option("--url-host", default="", help="Host name to print in the URLs (default: --host).")
@click.option("--session", "session_id", default=None, help="Resume this session (default: the open session "
              "of the same scaffold and candidate, if any).")
@click.option("--memory-mb", type=int, default=4096, show_default=True, help="Container memory limit.")
@click.option("--cpus", type=float, default=2.0, show_default=True, help="Container CPU limit.")
@click.option("--disk-mb", type=int, default=2048, show_default=True,
              help="Size of the candidate's workspace file system (0: a plain host folder, unbounded).")
@VARIANT
@JSON
def start(name: str, candidate: str, duration: float | None, port: int | None, interviewer_port: int | None, host: str,
          url_host: str, session_id: str | None, memory_mb: int, cpus: float, disk_mb: int, variant: str | None,
          as_json: bool) -> None:
    """Start (or resume) a live session of scaffold NAME and print both URLs (two ports: two origins)."""
    if not as_json:
        click.echo("Starting the candidate's container...", err=True)
    info = sessions.start_session(scaffold=name, candidate=candidate, duration_minutes=duration, port=port,
                                  host=host, url_host=url_host, session_id=session_id, memory_mb=memory_mb,
                                  cpus=cpus, disk_mb=disk_mb, interviewer_port=interviewer_port,
                                  progress=lambda line: click.echo(line, err=True),  # stderr: also with --json
                                  variant=variant)
    click.echo(json.dumps(asdict(info), indent=2) if as_json else _describe(info))


@session.command("status")
@click.argument("session_id", required=False)
@JSON
def status(session_id: str | None, as_json: bool) -> None:
    """One session's state, or a table of every session on this host."""
    infos = [sessions.session_info(sessions.load_session(session_id))] if session_id else sessions.list_sessions()
    if as_json:
        click.echo(json.dumps(asdict(infos[0]) if session_id else [asdict(i) for i in infos], indent=2))
    elif session_id:
        click.echo(_describe(infos[0]))
    else:
        rows = [(i.session_id, i.scaffold, i.candidate or "-", i.created_at, _minutes(i.remaining_seconds, i.clock),
                 i.submissions, i.container_state, "ended" if i.ended_at else "open") for i in infos]
        click.echo(table(rows, ["session", "scaffold", "candidate", "started", "timer", "subs", "container",
                                "state"]) if rows else "No sessions yet: pitfalls session start NAME")


@session.command("stop")
@click.argument("session_id")
@JSON
def stop(session_id: str, as_json: bool) -> None:
    """Stop the container and server; the workspace, submissions and notes are kept."""
    info = sessions.stop_session(session_id=session_id)
    click.echo(json.dumps(asdict(info), indent=2) if as_json else
               f"Stopped {session_id}. Kept: {info.workspace} and {info.submissions} submissions.\n"
               f"Report: pitfalls session report {session_id} -o report.html")


@session.command("report")
@click.argument("session_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the HTML report (default: the session folder's report.html).")
def report(session_id: str, output: Path | None) -> None:
    """Write a self-contained HTML report: timeline, scores, probes, notes, diff against the starter."""
    from pitfalls.live.report import write_report

    path = write_report(session_id=session_id, output=output)
    click.echo(f"Wrote {path}")


def _clock_command(session_id: str, action: str, minutes: float | None, as_json: bool) -> None:
    from pitfalls.core.errors import SessionError
    from pitfalls.core.store import Store
    from pitfalls.live import timer

    sessions.load_session(session_id)  # a live session of this host, or a message listing them
    try:
        clock = timer.change(Store(), session_id, action, minutes, by="cli")
    except SessionError as exc:
        raise click.ClickException(str(exc)) from None
    view = clock.view()
    click.echo(json.dumps(view, indent=2) if as_json else
               f"Session {session_id}: {_minutes(view['remaining_seconds'], view['state'])}"
               f"{f' (+{clock.extended_minutes:g} min added in all)' if clock.extended_minutes else ''}.")


@session.command("extend")
@click.argument("session_id")
@click.argument("minutes", type=float)
@JSON
def extend(session_id: str, minutes: float, as_json: bool) -> None:
    """Give the candidate MINUTES more (logged on the session's timeline; the dashboard shows it at once)."""
    _clock_command(session_id, "extend", minutes, as_json)


@session.command("pause")
@click.argument("session_id")
@JSON
def pause(session_id: str, as_json: bool) -> None:
    """Pause the session's clock (logged on its timeline) until `pitfalls session unpause`."""
    _clock_command(session_id, "pause", None, as_json)


@session.command("unpause")
@click.argument("session_id")
@JSON
def unpause(session_id: str, as_json: bool) -> None:
    """Let a paused clock count again (logged on the session's timeline)."""
    _clock_command(session_id, "unpause", None, as_json)

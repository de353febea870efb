"""``pitfalls server``: the host server for every live session (a thin shell over :mod:`pitfalls.live.host.process`)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from pitfalls.live.host import process as host


def _describe(status: host.HostStatus) -> str:
    if not status.running:
        return (f"No host server runs for {status.home}.\n"
                "Start one: pitfalls server --detach (or `pitfalls server` under a supervisor).")
    lines = [f"Host server pid {status.pid} for {status.home}, since {status.started_at}",
             f"  control: {status.control_socket}", f"  log:     {status.log}",
             f"  sessions served: {len(status.sessions)}", f"  warm containers ready: {status.warm_ready}"]
    lines += [f"    {s['session_id']}: interviewer port {s['interviewer_port']}, candidate port {s['candidate_port']}"
              for s in status.sessions]
    return "\n".join(lines)


@click.command("server")
@click.option("--detach", is_flag=True, help="Start it in the background and return once it answers.")
@click.option("--stop", is_flag=True, help="Stop it (each submission in scoring is recorded first).")
@click.option("--status", is_flag=True, help="Whether it runs, since when, and the sessions it serves.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text (with --detach, --stop, --status).")
@click.option("--warm", type=click.IntRange(0, 16), default=None, show_default="$PITFALLS_WARM, else 1",
              help="Candidate containers kept running, ready for the next `session start` (0: none).")
def server(detach: bool, stop: bool, status: bool, as_json: bool, warm: int | None) -> None:
    """Run the host server: one process serving every live session of this PITFALLS_HOME.

    Without options it runs in the foreground (for a supervisor such as systemd). While it runs,
    `pitfalls session start` attaches sessions to it instead of starting a server per session;
    killed and started again, it serves every open session it served, on the same ports and tokens.
    It keeps --warm candidate containers running (default limits: 4096 MiB, 2 CPUs, 2048 MiB of
    disk), so a `session start` with those limits claims a JupyterLab that already answers.

    \b
    Examples:
      pitfalls server --detach
      pitfalls server --status
      pitfalls server --stop
    """
    chosen = [flag for flag, on in (("--detach", detach), ("--stop", stop), ("--status", status)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"At most one of --detach, --stop and --status must be given. Got "
                               f"{' and '.join(chosen)} instead. Fix: run them one after the other.")
    if not chosen:
        if as_json:
            raise click.UsageError("--json must come with --detach, --stop or --status. Got it alone instead. "
                                   "Fix: drop --json to run the server in the foreground.")
        host.run_foreground(warm)
    if warm is not None and not detach:
        raise click.UsageError(f"--warm must come with --detach or alone. Got it with {chosen[0]} instead. Fix: "
                               "pass it when starting the server.")
    if detach:
        host.start_detached(warm=warm)
    elif stop:
        pid = host.stop()
        if not as_json:
            click.echo(f"Stopped the host server (pid {pid})." if pid else
                       f"No host server ran for {host.status().home}; nothing to stop.")
            return
    info = host.status()
    click.echo(json.dumps(asdict(info), indent=2) if as_json else _describe(info))

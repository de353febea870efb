"""The `pitfalls` command: a thin shell over :mod:`pitfalls.service.api`. Errors are logged here, once."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from pitfalls.cli import final_view, render
from pitfalls.cli.packs_option import SCAFFOLDS
from pitfalls.core.errors import PitfallsError


def _api() -> ModuleType:
    """:mod:`pitfalls.service.api`, imported on use: `pitfalls session` does without it."""
    from pitfalls.service import api

    return api


def _job_api() -> ModuleType:
    """:func:`_api` for a command that scores, checks or calibrates: this process's own work runs at
    the lowest CPU priority first, so its imports and counting never slow another job's training on
    its reserved CPU (runner/sched/priority.py)."""
    from pitfalls.sched.priority import lower_client_priority

    lower_client_priority()
    return _api()

DIR = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=".",
                   show_default=True, help="The workspace folder.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
VARIANT = click.option("--variant", default=None, metavar="ID",
                       help="The scaffold's variant (v1, v2, ...; 'base': the shipped files). Default: one drawn "
                            "at random when the scaffold declares [variants], recorded with the session.")


def _emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@click.group()
@click.version_option(package_name="pitfalls")
def cli() -> None:
    """Live data-modeling interviews: buggy ML scaffolds, sandboxed training, secret held-out scoring.

    \b
    Examples:
      pitfalls list
      pitfalls practice tumor_triage --dir ~/triage
      pitfalls submit --dir ~/triage --note "impute inside the pipeline"
    """


@cli.command("list")
@SCAFFOLDS
@JSON
def list_cmd(as_json: bool) -> None:
    """Show the scaffolds: name, title, difficulty, framework, metric and budgets."""
    infos = _api().list_scaffolds()
    rows = [(i.name, i.title, i.difficulty, i.framework, f"{i.metric} ({'max' if i.higher_is_better else 'min'})",
             f"{i.budgets['max_params']:,} params, {i.budgets['train_seconds']:g} s, {i.budgets['memory_mb']} MiB")
            for i in infos]
    _emit([asdict(i) for i in infos], as_json,
          render.table(rows, ["name", "title", "difficulty", "framework", "metric", "budgets"]))


@cli.command()
@SCAFFOLDS
@click.argument("name")
@DIR
@click.option("--no-jupyter", is_flag=True, help="Only create the workspace; do not start JupyterLab.")
@click.option("--port", type=int, default=None, help="JupyterLab port (default: 8888 or a free one).")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address JupyterLab listens on.")
@VARIANT
@JSON
def practice(name: str, directory: Path, no_jupyter: bool, port: int | None, ip: str, variant: str | None,
             as_json: bool) -> None:
    """Create (or resume) a practice workspace for scaffold NAME in --dir and open JupyterLab on it.

    \b
    Examples:
      pitfalls practice tumor_triage --dir ~/triage
      pitfalls practice digits_budget --dir ~/digits --no-jupyter
    """
    info = _api().start_practice(name=name, directory=directory, variant=variant)
    _prepare_scale(info["scaffold"])
    verb = "Resumed" if info["resumed"] else "Created"
    text = (f"{verb} workspace {info['workspace']} (scaffold {info['scaffold']}, session {info['session_id']}).\n"
            f"Read BRIEF.md, then: pitfalls submit --dir {info['workspace']} --note \"...\"")
    if no_jupyter:
        _emit(info, as_json, text)
        return
    from pitfalls.live.jupyter import start_lab

    server = start_lab(directory=Path(info["workspace"]), port=port, ip=ip,
                       log_path=Path(info["workspace"]) / ".jupyter.log")
    _emit({**info, "url": server.url}, as_json, f"{text}\nJupyterLab: {server.url}\n(Ctrl-C stops the server; "
                                                 "the workspace and submissions stay.)")
    sys.stdout.flush()
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.process.terminate()
        server.process.wait(timeout=20)


def _prepare_scale(name: str) -> None:
    """Measure this installation's anchors now, while the user waits anyway (runner/scoring/anchors.py);
    on failure, say so and go on (the first submission measures them again)."""
    from pitfalls.core.errors import PitfallsError

    try:
        _api().calibrate(name=name, say=lambda s: click.echo(s, err=True))
    except PitfallsError as exc:
        click.echo(f"warning: the scoring scale could not be prepared ({exc}); your first submission "
                   "will try again.", err=True)


@cli.command()
@DIR
@click.option("--note", default="", help="Why you think this change helps.")
@click.option("--no-probes", is_flag=True, help="Skip the bug probes.")
@click.option("--wait-probes", is_flag=True, help="Run the bug probes before returning (scripts and tests); "
              "by default they run in the background after the score is shown.")
@click.option("--final", "final", is_flag=True, help="Make this submission your final one (the one that counts) "
              "if it scores. By default the last scored submission is final; see `pitfalls final`.")
@JSON
def submit(directory: Path, note: str, no_probes: bool, wait_probes: bool, final: bool, as_json: bool) -> None:
    """Score the workspace: retrain it in a sandbox, check the budgets, score held-out predictions.

    The bug probes (for `pitfalls reveal`) run afterwards in the background, at low priority.

    \b
    Examples:
      pitfalls submit --dir . --note "balanced class weights"
      pitfalls submit --dir . --json
      pitfalls submit --dir . --final --note "my best, I think"
    """
    if no_probes and wait_probes:
        raise click.UsageError("Give --no-probes or --wait-probes, not both.")
    probes = False if no_probes else "wait" if wait_probes else "background"
    result = _job_api().submit(directory=directory, note=note, probes=probes, on_wait=_show_wait(), final=final,
                           say=lambda s: click.echo(f"{s} (before this first submission is scored)", err=True))
    _emit(result.candidate_view(), as_json, render.submission(result))
    if result.status != "scored":
        sys.exit(2)


def _show_wait() -> Any:
    """The submission's place in the scoring queue, on stderr: when it changes and every 10 s."""
    last = [0, -10.0]

    def show(w: Any) -> None:
        if w.place != last[0] or w.queued_seconds - last[1] >= 10:
            last[:] = [w.place, w.queued_seconds]
            click.echo(render.waiting(w.place, w.waiting, w.queued_seconds), err=True)
    return show


@cli.command()
@DIR
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also plot the public scores and their intervals into this PNG file (needs matplotlib).")
@JSON
def history(directory: Path, png: Path | None, as_json: bool) -> None:
    """Every submission of this workspace: time, status, score and interval, normalized score, note; and a chart.

    \b
    Examples:
      pitfalls history --dir .
      pitfalls history --dir . --png history.png
    """
    from pitfalls.cli.history_view import write_png

    results = _api().history(directory=directory)
    probes = _api().probe_status(directory=directory)
    saved = ""
    if png is not None:
        try:
            saved = f"\n\nPlot written to {write_png(results, png)}"
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    _emit([{**r.candidate_view(), "probe_status": probes.get(r.submission_id, "none")} for r in results], as_json,
          render.history(results) + final_view.final_line(results) + render.probe_status(probes) + saved)


@cli.command("final")
@click.argument("number", type=int)
@DIR
@JSON
def final_cmd(number: int, directory: Path, as_json: bool) -> None:
    """Make scored submission NUMBER your final submission: the one that counts at the end.

    By default the last scored submission is final; a choice holds until you choose again.

    \b
    Examples:
      pitfalls history --dir .    # the numbers, and which one is final now
      pitfalls final 3 --dir .
    """
    chosen = _api().choose_final(directory=directory, submission_id=number)
    _emit({"final": chosen.view()}, as_json, f"Submission #{chosen.submission_id} is now your final submission "
          "(the one that counts). It stays final until you choose again.")


@cli.command()
@DIR
@JSON
def hint(directory: Path, as_json: bool) -> None:
    """The next hint of the scaffold's ladder (each call is recorded)."""
    h = _api().hint(directory=directory)
    _emit(asdict(h), as_json, f"Hint {h.level}/{h.total}: {h.text}" if h.level else h.text)


@cli.command()
@DIR
@click.option("--wait", "wait_seconds", type=float, default=60.0, show_default=True,
              help="Seconds to wait for submissions' probes still running.")
@JSON
def reveal(directory: Path, wait_seconds: float, as_json: bool) -> None:
    """End of practice: what was planted, which bugs this workspace still has, the reference diff."""
    rv = _api().reveal(directory=directory, wait_seconds=wait_seconds)
    _emit(asdict(rv), as_json, render.reveal(rv))


PLANTED = click.option("--planted", is_flag=True,
                       help="Also show which scaffolds plant each kind (spoils practice on them).")


@cli.command("bugs")
@SCAFFOLDS
@PLANTED
@JSON
def bugs_cmd(planted: bool, as_json: bool) -> None:
    """(Authors) The catalog of bug kinds, bugs/catalog/."""
    from pitfalls.library.catalogs import catalog

    entries = catalog("bugs", planted=planted)
    rows = [(k, v.get("ref", ""), v.get("framework", ""), v.get("title", ""), ", ".join(v.get("scaffolds", [])))
            for k, v in entries.items()]
    _emit(entries, as_json, render.table(rows, ["id", "ref", "framework", "title", "planted in"]))
    _refuse_clashes("bugs")


@cli.command("quirks")
@SCAFFOLDS
@PLANTED
@JSON
def quirks_cmd(planted: bool, as_json: bool) -> None:
    """(Authors) The catalog of data-quirk kinds, datasets/catalog/, with the function that plants each.

    --json adds each planter's parameters (name, kind, annotation, default)."""
    from pitfalls.library.catalogs import catalog
    from pitfalls.library.planters import planter

    entries = {k: {**v, **planter(k)} for k, v in catalog("quirks", planted=planted).items()}
    rows = [(k, v.get("ref", ""), v.get("title", ""), v["planter"] or "(none registered)",
             ", ".join(v.get("scaffolds", []))) for k, v in entries.items()]
    _emit(entries, as_json, render.table(rows, ["id", "ref", "title", "planter", "planted in"]))
    _refuse_clashes("quirks")


def _refuse_clashes(kind: str) -> None:
    """After the listing: fail naming each pack entry refused for reusing a shipped id."""
    from pitfalls.library.catalogs import refused

    why = refused(kind)
    if why:
        raise click.ClickException("\n".join(why))


@cli.command()
@SCAFFOLDS
@click.argument("name")
@click.option("--write", is_flag=True, help="Measure over the pinned test secrets and write the scaffold's "
              "[calibration] table (authors; trains the starter and the reference 5 times).")
@JSON
def calibrate(name: str, write: bool, as_json: bool) -> None:
    """Measure the anchors of normalized scores: the starter (0) and the reference (1) of NAME.

    \b
    Without --write: this installation's anchors (its own data; cached in the state folder).
    With --write: the means and spreads over the pinned test secrets, into scaffold.toml.
    """
    import time

    start = time.monotonic()
    if not write:
        values = _job_api().calibrate(name=name, say=lambda s: click.echo(s, err=True))
        how = "cached" if values["cached"] else f"measured in {values['seconds']:.1f} s"
        _emit(values, as_json, "\n".join(f"{k} = {values[k]!r}" for k in ("baseline_public", "baseline_private",
                                                                          "reference_public", "reference_private"))
              + f"\n(this installation's anchors, {how})")
        return
    from pitfalls.library.manifest import write_calibration
    from pitfalls.library.scaffold import load_scaffold

    values = _api().calibrate_secrets(name=name)
    write_calibration(load_scaffold(name).root / "scaffold.toml", values["calibration"],
                      goal_normalized=values["goal_normalized"])
    values["seconds"] = round(time.monotonic() - start, 1)
    _emit(values, as_json, "\n".join(f"{k} = {v!r}" for k, v in values["calibration"].items())
          + (f"\ngoal_normalized = {values['goal_normalized']:.2f} (from the legacy absolute goal)"
             if values["goal_normalized"] is not None else "") + f"\n(measured in {values['seconds']:.1f} s)")


def _progress(result: Any, index: int, total: int) -> None:
    """One line per finished check on stderr; a bar that redraws in place on a terminal."""
    from pitfalls.cli.render import CHECK_MARKS

    width = 24
    bar = "#" * (width * index // total) + "." * (width - width * index // total)
    line = f"[{bar}] {index}/{total} {CHECK_MARKS[result.status]:5} {result.name}"
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{line}", nl=index == total, err=True)
    else:
        click.echo(line, err=True)


@cli.command("check")
@SCAFFOLDS
@click.argument("target", required=False)
@click.option("--all", "all_", is_flag=True, help="Check every scaffold of the library and the template.")
@click.option("--quick", is_flag=True, help="Only the checks that do not train (seconds).")
@click.option("--seeds", type=int, default=5, show_default=True, help="Seeds per variant for bug_bites.")
@click.option("--only", default=None, metavar="CHECK[,CHECK]",
              help="Run only these checks (and the checks they need); bug_bites:ID picks one bug.")
@JSON
def check_cmd(target: str | None, all_: bool, quick: bool, seeds: int, only: str | None, as_json: bool) -> None:
    """(Authors) Validate scaffold TARGET (a name or a folder) with small named checks.

    \b
    Exit status 0 when every check passed or failed as declared in [check] xfail, else 1.
    Examples:
      pitfalls check tumor_triage
      pitfalls check scaffolds/my_task --quick
      pitfalls check tumor_triage --only bug_bites,mutants_reproduce_starter
      pitfalls check --all --json
    """
    from pitfalls.sched.priority import lower_client_priority

    lower_client_priority()  # before the imports below: see _job_api
    from pitfalls.checks.suite import check_all, run_checks

    if bool(target) == all_:
        raise click.UsageError("Give a scaffold name or folder, or --all (not both).")
    names = [n for n in (only or "").split(",") if n.strip()] or None
    reports = (check_all(quick=quick, seeds=seeds, only=names, progress=_progress) if all_ else
               [run_checks(scaffold=target, quick=quick, seeds=seeds, only=names, progress=_progress)])
    data = [r.to_dict() for r in reports]
    _emit(data if all_ else data[0], as_json, "\n\n".join(render.check_report(r) for r in reports))
    sys.exit(0 if all(r.ok for r in reports) else 1)


@cli.command("new")
@click.argument("name")
@click.option("--parent", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to create it (default: the scaffolds folder).")
def new_cmd(name: str, parent: Path | None) -> None:
    """(Authors) Start scaffold NAME from the template; `pitfalls check NAME --quick` then asks only for its own text."""
    from pitfalls.library.authoring import new_scaffold

    path = new_scaffold(name=name, parent=parent)
    click.echo(f"Created {path}.\nNext: edit scaffold.toml, scaffold.py, workspace/, solution/, then\n"
               f"  pitfalls check {path} --quick\n  pitfalls calibrate {path} --write\n"
               f"  pitfalls check {path}\nThe walk-through: docs/authoring.md.")


def _register() -> None:
    from pitfalls.cli.authoring import probe, workspace
    from pitfalls.cli.preflight import preflight
    from pitfalls.cli.server import server
    from pitfalls.cli.session import session

    cli.add_command(session)
    cli.add_command(server)
    cli.add_command(preflight)
    cli.add_command(probe)
    cli.add_command(workspace)


_register()


def main() -> None:
    """Console entry point: run the CLI and turn known errors into one clear message."""
    try:
        cli(standalone_mode=True)
    except PitfallsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)

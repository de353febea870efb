"""The session report: one self-contained HTML file (no script, no external resource).

A summary first (runner/live/report_summary.py: final private score on the scale, rubric, hints,
bugs fixed and when, time used, notes); then the score chart (runner/live/report_chart.py), the
timeline of submissions (each with its diff against the previous one, runner/live/report_diffs.py),
notes and events; the planted bugs; the constraint reports; and the final diff against the starter.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from pitfalls.core.clock import clock_of
from pitfalls.core.finals import final_submission
from pitfalls.core.store import Store
from pitfalls.fs.safefs import Bounds
from pitfalls.fs.workspace_view import notebook_text, read_files
from pitfalls.library.catalogs import bug_entry
from pitfalls.library.metrics import METRICS, public_decimals
from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.library.variant import quirk_entry_of
from pitfalls.library.workspace import NOT_THE_CANDIDATES, create_workspace
from pitfalls.live.report_chart import chart_svg
from pitfalls.live.report_diffs import submission_diffs
from pitfalls.live.report_summary import NOTE_KINDS, clock_minutes, fmt_minutes, summary_html
from pitfalls.live.sessions import SessionError, sessions_dir
from pitfalls.scoring.anchors import cached_anchors
from pitfalls.service.finals import headline
from pitfalls.service.views import row_decimals

DIFF_SKIP = NOT_THE_CANDIDATES
MAX_DIFF_FILE_BYTES = 256 * 1024
MAX_DIFF_TOTAL_BYTES = 16 * 2**20
DIFF_BOUNDS = Bounds(max_entries=20_000, max_depth=32, max_seconds=10.0)
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d2330}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #e4e6ee;padding:.35em .5em;
text-align:left;vertical-align:top} .muted{color:#667} .scored{color:#1a7f37} .rejected{color:#9a6700}
.failed{color:#cf222e} .fixed{color:#1a7f37;font-weight:600} .present{color:#cf222e;font-weight:600}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:12px} .add{background:#e6ffec} .del{background:#ffebe9}
.hunk{color:#8250df} .kv span{margin-right:1.5em} .tamper{color:#cf222e;font-weight:600}
#summary{border:1px solid #d0d7de;border-radius:8px;padding:.2em 1em 1em;background:#fbfcfe}
#summary h2{border:0;margin-top:.6em} .headline{font-size:1.15em} .headline .scale{font-size:1.3em}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1.5em} h3{margin:.9em 0 .3em;font-size:1.02em}
details.sub-diff summary{cursor:pointer;color:#0969da} details.sub-diff pre{max-height:28em}
svg.chart{max-width:100%;height:auto}
"""


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _notebook_text(text: str) -> str:
    """A notebook's cell sources, so its diff shows code, not JSON ("cannot display this notebook:
    ..." and the text for anything that is not one: never an exception)."""
    return notebook_text(text)


def _files(root: Path) -> dict[str, str]:
    """The workspace's files of at most :data:`MAX_DIFF_FILE_BYTES` as text, read race-free within
    :data:`DIFF_BOUNDS` (runner/fs/safefs.py); a ``[not all files read]`` entry says why when it stopped early."""
    found, why = read_files(root, hidden=DIFF_SKIP, bounds=DIFF_BOUNDS, max_file_bytes=MAX_DIFF_FILE_BYTES,
                            max_total_bytes=MAX_DIFF_TOTAL_BYTES)
    out = {rel: (_notebook_text(data.decode(errors="replace")) if rel.endswith(".ipynb")
                 else data.decode(errors="replace")) for rel, data in found.items()}
    if why:
        out["[not all files read]"] = f"The report read only part of the workspace: {why}.\n"
    return out


def starter_files(scaffold: Scaffold, *, live: bool = True) -> dict[str, str]:
    """The starter workspace's files as :func:`_files` reads them (a fresh copy in a temporary folder):
    a live session's (``live``), else a practice one's (BRIEF.md and eda.ipynb are worded for each).
    ``scaffold`` is the session's own, its variant included (``load_scaffold`` of its record)."""
    with tempfile.TemporaryDirectory(prefix="pitfalls-starter-") as tmp:
        create_workspace(scaffold=scaffold, directory=Path(tmp) / "w", session_id="starter", live=live)
        return _files(Path(tmp) / "w")


def starter_diff(*, scaffold: Scaffold, workspace: Path, before: dict[str, str] | None = None) -> str:
    """Unified diff from the starter workspace (``before``: its files, read anew when None) to
    ``workspace`` (notebooks as their cell sources)."""
    before = starter_files(scaffold) if before is None else before
    after = _files(workspace)
    chunks: list[str] = []
    for rel in sorted(set(before) | set(after)):
        a, b = before.get(rel, ""), after.get(rel, "")
        if a != b:
            chunks += difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                           fromfile=f"starter/{rel}" if rel in before else "/dev/null",
                                           tofile=f"final/{rel}" if rel in after else "/dev/null")
    return "".join(chunks)


def _diff_html(diff: str) -> str:
    if not diff:
        return '<p class="muted">No change against the starter.</p>'
    rows = []
    for line in diff.splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++")
               else "del" if line.startswith("-") and not line.startswith("---") else "")
        rows.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return "<pre>" + "\n".join(rows) + "</pre>"


def messages(s: dict[str, Any]) -> list[str]:
    """What a submission's row says beyond its scores, each text once: its violations' messages, then
    its own message when it is not scored and says something they do not (a late submission's message
    is its violation's)."""
    out: list[str] = []
    for text in [v.get("message", "") for v in s["violations"]] + ([s["message"]] if s["status"] != "scored" else []):
        if text and text.strip() not in {t.strip() for t in out}:
            out.append(text)
    return out


def _submission_row(s: dict[str, Any], diff: str) -> str:
    note = escape(s["note"]) or "<span class=muted>(none)</span>"
    said = "".join(f'<br><span class="{"rejected" if s["status"] != "failed" else "failed"} message">{escape(t)}</span>'
                   for t in messages(s))
    return (f'<span class="{s["status"]}">{s["status"]}</span> public {_public(s)}, private '
            f'{_fmt(s["score_private"])}; note: {note}{said}{diff}')


EVENT_WORDS = {"hint_given": "hint given", "rubric_rated": "rubric rated", "note": "interviewer note",
               "interviewer_note": "interviewer note", "clock_extend": "clock extended", "clock_pause": "clock paused",
               "clock_unpause": "clock resumed", "clock_set": "clock set", "clock_up": "lab up",
               "clock_down": "session stopped", "container_resumed": "container resumed"}


def _event_text(e: dict[str, Any]) -> str:
    d = e["data"] if isinstance(e["data"], dict) else {}
    if e["kind"] in NOTE_KINDS:
        return escape(str(d.get("text", "")))
    if e["kind"] == "hint_given":
        return f'hint {escape(str(d.get("level", "?")))}: {escape(str(d.get("text", "")))}'
    if e["kind"] == "rubric_rated":
        note = f' · {escape(str(d.get("note")))}' if d.get("note") else ""
        return f'{escape(str(d.get("criterion", "?")))}: {escape(str(d.get("rating", "?")))}{note}'
    if e["kind"] == "clock_extend":
        return f'+{escape(str(d.get("minutes", "?")))} min'
    return escape(json.dumps(d)) if d else ""


def _timeline(subs: list[dict[str, Any]], events: list[dict[str, Any]], row: dict[str, Any],
              diffs: dict[int, str]) -> str:
    items = [(s["created_at"], f'submission #{s["id"]}' + (" (final)" if s.get("final") else ""),
              _submission_row(s, diffs.get(s["id"], ""))) for s in subs]
    items += [(e["at"], EVENT_WORDS.get(e["kind"], e["kind"]), _event_text(e)) for e in events]
    rows = "".join(f'<tr><td>{escape(at[11:19])}</td><td>{fmt_minutes(clock_minutes(row, events, at))}</td>'
                   f"<td>{escape(what)}</td><td>{body}</td></tr>"
                   for at, what, body in sorted(items, key=lambda t: t[0]))
    return f'<table id="timeline"><tr><th>UTC</th><th>clock</th><th>what</th><th>details</th></tr>{rows}</table>'


def _bugs_html(scaffold: Scaffold, subs: list[dict[str, Any]]) -> str:
    rows = []
    for bug in scaffold.manifest.bugs:
        verdicts = [(s["id"], p) for s in subs for p in s["probes"] if p["bug_id"] == bug]
        first = next((sid for sid, p in verdicts if p["status"] == "fixed"), None)
        last = verdicts[-1][1] if verdicts else {"status": "not probed", "evidence": "", "self_reported": False}
        rows.append(f'<tr><td><b>{escape(bug)}</b><br>{escape(bug_entry(bug, scaffold.manifest.wording, scaffold=scaffold.name).get("title", ""))}</td>'
                    f'<td class="{escape(last["status"])}">{escape(last["status"])}'
                    f'{"<br><span class=muted>self-reported</span>" if last.get("self_reported", True) else ""}</td>'
                    f'<td>{f"#{first}" if first else "—"}</td><td class="muted">{escape(last["evidence"])}'
                    f'{_tamper_html(last.get("tampering", []))}</td></tr>')
    quirks = "".join(f"<li><b>{escape(q)}</b>: {escape(quirk_entry_of(scaffold, q).get('title', ''))}</li>"
                     for q in scaffold.manifest.quirks)
    return (f"<table><tr><th>planted bug</th><th>final verdict</th><th>first fixed in</th><th>evidence</th></tr>"
            f"{''.join(rows)}</table><h3>Planted data quirks</h3><ul>{quirks or '<li class=muted>none</li>'}</ul>")


def _tamper_html(flags: list[str]) -> str:
    """A visible warning per tamper flag of a probe verdict."""
    return "".join(f'<br><span class="tamper">&#9888; {escape(str(f))}</span>' for f in flags)


def _tamper_banner(subs: list[dict[str, Any]]) -> str:
    """One warning above the report when any submission's probe verdicts may have been tampered with."""
    hit = [s["id"] for s in subs if s.get("probe_flags") or any(p.get("tampering") for p in s["probes"])]
    if not hit:
        return ""
    return (f'<p class="tamper">&#9888; Tampering suspected in the probe runs of submission(s) '
            f'{", ".join(f"#{i}" for i in hit)}: the probe verdicts are self-reported by the candidate\'s '
            "sandbox and failed a cross-check. Read the flagged code before trusting them (see Planted bugs).</p>")


def _public(s: dict[str, Any]) -> str:
    """A submission's public score and its 95% interval, as stored (already rounded), with the grid's
    ``public_decimals`` when known (``1.00``, as the candidate saw it, not ``1``)."""
    iv, places = s.get("score_interval"), s.get("public_decimals")
    return (_fmt_public(s["score_public"], places)
            + (f" (95% interval {_fmt_public(iv[0], places)} to {_fmt_public(iv[1], places)})" if iv else ""))


def _fmt_public(x: float | None, places: int | None = None) -> str:
    return "—" if x is None else f"{x:.6g}" if places is None else f"{x:.{places}f}"


def training_time(t: dict[str, Any], budget: float) -> str:
    """``12.3 s / 60 s (CPU 11.9 s)`` from the keys the scoring pipeline stores (runner/scoring/pipeline.py:
    ``train_seconds``, ``train_limit_seconds``, ``train_cpu_seconds``); ``—`` when it did not train."""
    if not isinstance(t.get("train_seconds"), (int, float)):
        return "—"
    limit = t.get("train_limit_seconds", budget)
    cpu = f' (CPU {t["train_cpu_seconds"]:.1f} s)' if isinstance(t.get("train_cpu_seconds"), (int, float)) else ""
    return f'{t["train_seconds"]:.1f} s / {limit:g} s{cpu}'


def _seconds(t: dict[str, Any], key: str) -> str:
    return f"{t[key]:.1f} s" if isinstance(t.get(key), (int, float)) else "—"


def _constraints(subs: list[dict[str, Any]], budgets: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td>#{s["id"]}</td><td>{s["params"] if s["params"] is not None else "—"} / {budgets["max_params"]}</td>'
        f'<td class="train-time">{training_time(s["timings"], budgets["train_seconds"])}</td>'
        f'<td>{_seconds(s["timings"], "predict_seconds")}</td><td>{_seconds(s["timings"], "queued_seconds")}</td>'
        f'<td>{"; ".join(escape(v["message"]) for v in s["violations"]) or "within every budget"}</td></tr>'
        for s in subs)
    return ('<table id="constraints"><tr><th>submission</th><th>parameters</th><th>training time</th><th>prediction time'
            f"</th><th>queued for a CPU slot</th><th>violations</th></tr>{rows}</table>")


def _header(row: dict[str, Any], m: Any, session_id: str) -> str:
    who = escape(row["candidate"] or "—")
    direction = "higher" if METRICS[m.task.metric].higher_is_better else "lower"
    return (f"<h1>{escape(m.title)}</h1><p class=muted>Session {escape(session_id)} · scaffold {escape(row['scaffold'])} · "
            f'candidate <b>{who}</b> · started {escape(row.get("created_at", ""))} · ended '
            f'{escape(row.get("ended_at") or "still open")} · metric {escape(m.task.metric)} ({direction} is better)</p>')


def render_report(*, session_id: str) -> str:
    """The report of a session (live, hub or practice) as of now, as one HTML document: the summary
    first (runner/live/report_summary.py), then the chart, the timeline with per-submission diffs,
    the planted bugs, the constraint reports and the final diff against the starter.

    Raises:
        SessionError: no such session in the store.
    """
    store = Store()
    row = store.session(session_id)
    if row is None:
        raise SessionError(f"The session must be one recorded in {store.path}. Got {session_id!r} instead. "
                           "`pitfalls session status` lists live sessions.")
    scaffold = load_scaffold(row["scaffold"], source=row.get("scaffold_source") or None)
    m = scaffold.manifest
    subs, events = store.submissions(session_id), store.events(session_id)
    final = final_submission(store, session_id, subs)  # runner/core/finals.py: the candidate's choice, else the last scored
    subs = [{**s, "final": final is not None and s["id"] == final.submission_id} for s in subs]
    cal = cached_anchors(scaffold)  # this installation's anchors; the chart omits them until measured
    today = public_decimals(cal.reference_public if cal else None)  # for rows that predate the stored grid
    subs = [{**s, "public_decimals": row_decimals(s, scaffold, today)} for s in subs]  # as the candidate saw it
    view = cal.view() if cal else {}
    anchors = {"starter": view.get("baseline_public"), "reference": view.get("reference_public"),
               "goal": cal.goal_score(m.task.goal_normalized, "public") if cal else None}
    clock = clock_of(row, events)  # runner/core/clock.py: pauses, stops and extensions counted
    summary = summary_html(row=row, subs=subs, events=events, head=headline(subs, final, scaffold),
                           metric=m.task.metric, bugs=m.bugs, rubric=getattr(m, "rubric", ()) or (), clock=clock,
                           wording=m.wording)
    starter = starter_files(scaffold, live=row["mode"] != "practice")  # live and hub sessions get the live one
    body = (f"{_header(row, m, session_id)}{summary}{_tamper_banner(subs)}<h2>Scores</h2>{chart_svg(subs, anchors)}"
            f"<h2>Timeline</h2>{_timeline(subs, events, row, submission_diffs(subs, starter))}"
            f"<h2>Planted bugs and quirks</h2>{_bugs_html(scaffold, subs)}"
            f"<h2>Constraint reports</h2>{_constraints(subs, m.budgets.__dict__)}"
            f"<h2>Final diff against the starter</h2>"
            f"{_diff_html(starter_diff(scaffold=scaffold, workspace=Path(row['workspace']), before=starter))}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pitfalls report {escape(session_id)}'
            f"</title><style>{STYLE}</style></head><body>{body}</body></html>")


def write_report(*, session_id: str, output: Path | None = None) -> Path:
    """Write :func:`render_report` to ``output`` (default: the live session folder's ``report.html``;
    for a practice or hub session, ``report-<id>.html`` here)."""
    folder = sessions_dir() / session_id
    path = output or (folder / "report.html" if folder.is_dir() else Path(f"report-{session_id}.html"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_report(session_id=session_id))
    tmp.replace(path)
    return path

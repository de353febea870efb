"""The session report: one self-contained HTML file (no script, no external resource).

Timeline of submissions, notes and events; score chart (public and private); constraint reports;
the planted bugs with the first submission whose probes found each fixed; the interviewer's notes;
and the final diff of the candidate's files against the starter.
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
from pitfalls.library.catalogs import bug_entry, quirk_entry
from pitfalls.library.metrics import METRICS
from pitfalls.library.scaffold import Scaffold, load_scaffold
from pitfalls.library.workspace import NOT_THE_CANDIDATES, create_workspace
from pitfalls.live.sessions import SessionError, sessions_dir
from pitfalls.scoring.anchors import cached_anchors

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
"""


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _chart(subs: list[dict[str, Any]], session: dict[str, Any]) -> str:
    """An inline SVG line chart of public and private scores of scored submissions."""
    pts = [(s["id"], s["score_public"], s["score_private"]) for s in subs
           if s["status"] == "scored" and s["score_public"] is not None]
    if not pts:
        return '<p class="muted">No scored submission.</p>'
    cal = session["calibration"]
    refs = [v for v in (cal.get("baseline_public"), cal.get("reference_public"), session.get("goal")) if v is not None]
    ys = [v for _, a, b in pts for v in (a, b) if v is not None] + refs
    lo, hi = min(ys), max(ys)
    lo, hi = (lo - 0.05, hi + 0.05) if hi - lo < 1e-9 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    w, h, pad = 760, 260, 48

    def x(i: int) -> float:
        return pad + (w - 2 * pad) * (i / max(1, len(pts) - 1))

    def y(v: float) -> float:
        return h - pad + (pad * 2 - h) * (v - lo) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">']
    for label, v in (("starter", cal.get("baseline_public")), ("reference", cal.get("reference_public")),
                     ("goal", session.get("goal"))):
        if v is not None:
            parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#999" '
                         f'stroke-dasharray="4 4"/><text x="{w - pad + 4}" y="{y(v) + 4:.1f}" font-size="11" '
                         f'fill="#666">{label}</text>')
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<text x="4" y="{y(v) + 4:.1f}" font-size="11" fill="#666">{v:.3f}</text>')
    for idx, colour, name in ((1, "#0969da", "public"), (2, "#8250df", "private")):
        line = [(x(i), y(p[idx])) for i, p in enumerate(pts) if p[idx] is not None]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + '"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"/>' for a, b in line]
        parts.append(f'<text x="{pad + (idx - 1) * 80}" y="16" font-size="12" fill="{colour}">● {name}</text>')
    parts += [f'<text x="{x(i) - 6:.1f}" y="{h - pad + 18}" font-size="11" fill="#666">#{p[0]}</text>'
              for i, p in enumerate(pts)]
    return "".join(parts) + "</svg>"


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


def starter_diff(*, scaffold: Scaffold, workspace: Path) -> str:
    """Unified diff from the starter workspace to ``workspace`` (notebooks as their cell sources)."""
    with tempfile.TemporaryDirectory(prefix="pitfalls-starter-") as tmp:
        create_workspace(scaffold=scaffold, directory=Path(tmp) / "w", session_id="starter", live=True)
        before = _files(Path(tmp) / "w")
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


def _timeline(subs: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    items = [(s["created_at"], f'submission #{s["id"]}' + (" (final)" if s.get("final") else ""),
              f'<span class="{s["status"]}">{s["status"]}</span> public {_public(s)}, private '
              f'{_fmt(s["score_private"])}; note: {escape(s["note"]) or "<span class=muted>(none)</span>"}'
              + "".join(f'<br><span class="rejected">{escape(v["message"])}</span>' for v in s["violations"])
              + (f'<br><span class="muted">{escape(s["message"])}</span>' if s["status"] != "scored" else ""))
             for s in subs]
    for e in events:
        text = e["data"].get("text", "") if e["kind"] == "note" else json.dumps(e["data"]) if e["data"] else ""
        items.append((e["at"], "interviewer note" if e["kind"] == "note" else e["kind"], escape(text)))
    rows = "".join(f"<tr><td>{escape(at[11:19])}</td><td>{escape(what)}</td><td>{body}</td></tr>"
                   for at, what, body in sorted(items, key=lambda t: t[0]))
    return f"<table><tr><th>UTC</th><th>what</th><th>details</th></tr>{rows}</table>"


def _bugs_html(scaffold: Scaffold, subs: list[dict[str, Any]]) -> str:
    rows = []
    for bug in scaffold.manifest.bugs:
        verdicts = [(s["id"], p) for s in subs for p in s["probes"] if p["bug_id"] == bug]
        first = next((sid for sid, p in verdicts if p["status"] == "fixed"), None)
        last = verdicts[-1][1] if verdicts else {"status": "not probed", "evidence": "", "self_reported": False}
        rows.append(f'<tr><td><b>{escape(bug)}</b><br>{escape(bug_entry(bug).get("title", ""))}</td>'
                    f'<td class="{escape(last["status"])}">{escape(last["status"])}'
                    f'{"<br><span class=muted>self-reported</span>" if last.get("self_reported", True) else ""}</td>'
                    f'<td>{f"#{first}" if first else "—"}</td><td class="muted">{escape(last["evidence"])}'
                    f'{_tamper_html(last.get("tampering", []))}</td></tr>')
    quirks = "".join(f"<li><b>{escape(q)}</b>: {escape(quirk_entry(q).get('title', ''))}</li>"
                     for q in scaffold.manifest.quirks)
    return (f"<table><tr><th>planted bug</th><th>final verdict</th><th>first fixed in</th><th>evidence</th></tr>"
            f"{''.join(rows)}</table><h3>Planted data quirks</h3><ul>{quirks}</ul>")


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
    """A submission's public score and its 95% interval, as stored (already rounded)."""
    iv = s.get("score_interval")
    return _fmt_public(s["score_public"]) + (f" (95% interval {_fmt_public(iv[0])} to {_fmt_public(iv[1])})" if iv else "")


def _fmt_public(x: float | None) -> str:
    return "—" if x is None else f"{x:.6g}"


def _constraints(subs: list[dict[str, Any]], budgets: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td>#{s["id"]}</td><td>{s["params"] if s["params"] is not None else "—"} / {budgets["max_params"]}</td>'
        f'<td>{_fmt(s["timings"].get("train_seconds"), 1)} s / {budgets["train_seconds"]:g} s</td>'
        f'<td>{_fmt(s["timings"].get("queued_seconds"), 1)} s</td>'
        f'<td>{"; ".join(escape(v["message"]) for v in s["violations"]) or "within every budget"}</td></tr>'
        for s in subs)
    return f"<table><tr><th>submission</th><th>parameters</th><th>training time</th><th>queued for a CPU slot</th><th>violations</th></tr>{rows}</table>"


def render_report(*, session_id: str) -> str:
    """The report of a session (live, hub or practice) as of now, as one HTML document.

    Raises:
        SessionError: no such session in the store.
    """
    store = Store()
    row = store.session(session_id)
    if row is None:
        raise SessionError(f"The session must be one recorded in {store.path}. Got {session_id!r} instead. "
                           "`pitfalls session status` lists live sessions.")
    scaffold = load_scaffold(row["scaffold"])
    m = scaffold.manifest
    subs, events = store.submissions(session_id), store.events(session_id)
    final = final_submission(store, session_id, subs)  # runner/core/finals.py: the candidate's choice, else the last scored
    subs = [{**s, "final": final is not None and s["id"] == final.submission_id} for s in subs]
    scored = [s for s in subs if s["status"] == "scored"]
    head = next((s for s in subs if s["final"]), None)
    cal = cached_anchors(scaffold)  # this installation's anchors; the chart omits them until measured
    session = {"calibration": cal.view() if cal else {},
               "goal": cal.goal_score(m.task.goal_normalized, "public") if cal else None}
    clock = clock_of(row, events)  # runner/core/clock.py: pauses, stops and extensions counted
    used = f", {clock.used_seconds / 60:.0f} min used" + (f", {clock.extended_minutes:g} min added"
                                                           if clock.extended_minutes else "")
    limit = f"{clock.minutes:g} min{used}" if clock.minutes else f"none{used}"
    who = escape(row["candidate"] or "—")
    summary = (f'<div class="kv"><span>candidate <b>{who}</b></span>'
               f'<span>started {escape(row.get("created_at", ""))}</span>'
               f'<span>ended {escape(row.get("ended_at") or "still open")}</span>'
               f'<span>time limit {limit}</span>'
               f'<span>submissions {len(subs)} ({len(scored)} scored)</span>'
               + (f'<span>final submission <b>#{head["id"]}</b> ({escape(final.view()["how"])}): private '
                  f'<b>{_fmt(head["score_private"])}</b> (normalized {_fmt(head["norm_private"], 3)}), public '
                  f'{_public(head)}</span>' if head and final else '<span>final submission — (none scored)</span>')
               + f'<span>metric {escape(m.task.metric)} ({"higher" if METRICS[m.task.metric].higher_is_better else "lower"} is better)</span></div>')
    notes = "".join(f'<li>{escape(e["at"][11:19])} {escape(e["data"].get("text", ""))}</li>'
                    for e in events if e["kind"] == "note") or '<li class="muted">No notes.</li>'
    body = (f"<h1>{escape(m.title)}</h1><p class=muted>Session {escape(session_id)} · scaffold {escape(m.name)}</p>"
            f"{summary}{_tamper_banner(subs)}<h2>Scores</h2>{_chart(subs, session)}<h2>Timeline</h2>{_timeline(subs, events)}"
            f"<h2>Planted bugs and quirks</h2>{_bugs_html(scaffold, subs)}"
            f"<h2>Constraint reports</h2>{_constraints(subs, m.budgets.__dict__)}"
            f"<h2>Interviewer notes</h2><ul>{notes}</ul>"
            f"<h2>Final diff against the starter</h2>{_diff_html(starter_diff(scaffold=scaffold, workspace=Path(row['workspace'])))}")
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

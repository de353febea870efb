"""The report's summary, the part a hiring committee reads first.

From the store alone (nothing in a process's memory): the final submission's private score on the
scale (runner/library/scale.py: starter 0, reference 1, above 1 better), the interviewer's rubric
ratings (``rubric_rated`` events, the newest per criterion), the interviewer's notes (``note`` from
the dashboard and ``interviewer_note`` events), the hints given (``hint_given``), each planted bug
with the first submission whose probes say it is fixed and when on the session's clock, and the
time used (runner/core/clock.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from pitfalls.core.clock import Clock, clock_of
from pitfalls.library.catalogs import bug_entry

NOTE_KINDS = ("note", "interviewer_note")


def clock_minutes(row: Mapping[str, Any], events: Sequence[Mapping[str, Any]], at: str) -> float | None:
    """Minutes on the session's clock at ``at`` (ISO time): pauses and stops excluded; None when unreadable."""
    try:
        when = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    before = [e for e in events if e["at"] <= at]
    return clock_of(row, before, at=when).used_seconds / 60


def fmt_minutes(m: float | None) -> str:
    """``12:05`` (minutes:seconds on the clock), ``—`` when unknown."""
    if m is None:
        return "—"
    seconds = round(m * 60)
    return f"{seconds // 60}:{seconds % 60:02d}"


def bug_fixes(bugs: Sequence[str], subs: Sequence[Mapping[str, Any]], row: Mapping[str, Any],
              events: Sequence[Mapping[str, Any]],
              wording: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Per planted bug (titled as the scaffold's ``wording`` says, else as the catalog): the first submission whose probes say ``fixed`` (``first_fixed``: its id or
    None), the clock minutes at it (``minutes``), and the verdict in the final submission (``status``;
    the newest probed one's while the final one has none)."""
    out = []
    final = [s for s in subs if s.get("final") and s.get("probes")]
    for bug in bugs:
        verdicts = [(s, p) for s in subs for p in s.get("probes") or [] if p.get("bug_id") == bug]
        first = next((s for s, p in verdicts if p.get("status") == "fixed"), None)
        now = [p for s, p in verdicts if s in final] or [p for _, p in verdicts[-1:]]
        out.append({"bug": bug, "title": bug_entry(bug, wording, scaffold=row.get("scaffold")).get("title", ""),
                    "status": now[-1].get("status", "not probed") if now else "not probed",
                    "first_fixed": first["id"] if first else None,
                    "minutes": clock_minutes(row, events, first["created_at"]) if first else None})
    return out


def rubric_ratings(rubric: Sequence[Any], events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each criterion of the scaffold's rubric (plus any other rated id) with its newest rating and note."""
    newest: dict[str, Mapping[str, Any]] = {}
    for e in events:
        if e["kind"] == "rubric_rated" and isinstance(e.get("data"), Mapping) and e["data"].get("criterion"):
            newest[str(e["data"]["criterion"])] = {**e["data"], "at": e["at"]}
    out = []
    for c in rubric:
        cid, title, levels = _criterion(c)
        out.append({"id": cid, "title": title, "levels": levels, "rated": newest.pop(cid, None)})
    out += [{"id": cid, "title": cid, "levels": [], "rated": r} for cid, r in newest.items()]
    return out


def _criterion(c: Any) -> tuple[str, str, list[str]]:
    get = c.get if isinstance(c, Mapping) else lambda k, d=None: getattr(c, k, d)
    cid = str(get("id", "") or get("criterion", ""))
    return cid, str(get("title", "") or cid), [str(x) for x in get("levels", ()) or ()]


def _rating_text(r: Mapping[str, Any]) -> str:
    rated, levels = r["rated"], r["levels"]
    if rated is None:
        return '<span class="muted">not rated</span>'
    value = rated.get("rating")
    level = levels[value - 1] if isinstance(value, int) and 1 <= value <= len(levels) else ""
    out = f"<b>{escape(str(value))}</b>" + (f" of {len(levels)}" if levels else "")
    out += f' <span class="muted">({escape(level)})</span>' if level else ""
    note = str(rated.get("note") or "")
    return out + (f"<br>{escape(note)}" if note else "")


def _when_fixed(fix: Mapping[str, Any]) -> str:
    if fix["first_fixed"] is None:
        return "—"
    return f'#{fix["first_fixed"]} at {fmt_minutes(fix["minutes"])}'


def _headline(head: Mapping[str, Any] | None, metric: str) -> str:
    if not head:
        return '<p class="headline">Final private score: <b>—</b> (no scored submission)</p>'
    norm = head.get("normalized_private")
    scale = f"{norm:.2f}" if isinstance(norm, (int, float)) else "—"
    goal = head.get("goal_reached")
    goal_text = "" if goal is None else (" · goal reached" if goal else " · goal not reached")
    private = head.get("private")
    private_text = "—" if not isinstance(private, (int, float)) else f"{private:.4f}"
    return (f'<p class="headline" id="final-score">Final private score: <b class="scale">{scale}</b> on the scale '
            f'<span class="muted">(starter 0, reference 1, above 1 better than the reference)</span> · '
            f'{escape(metric)} {private_text} · submission '
            f'<b>#{head.get("submission_id")}</b> ({escape(str(head.get("how", "")))}){goal_text}</p>')


def summary_html(*, row: Mapping[str, Any], subs: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]],
                 head: Mapping[str, Any] | None, metric: str, bugs: Sequence[str], rubric: Sequence[Any],
                 clock: Clock, wording: dict[str, dict[str, str]] | None = None) -> str:
    """The summary section (``<section id="summary">``): headline, time, bugs, hints, rubric, notes."""
    fixes = bug_fixes(bugs, subs, row, events, wording)
    fixed = sum(1 for f in fixes if f["status"] == "fixed")
    limit = f" of {clock.minutes:g} min" if clock.minutes else " (untimed)"
    extra = f", {clock.extended_minutes:g} min added" if clock.extended_minutes else ""
    scored = sum(1 for s in subs if s["status"] == "scored")
    facts = (f'<p class="kv"><span id="time-used">time used <b>{fmt_minutes(clock.used_seconds / 60)}</b>{limit}{extra}'
             f'</span><span>submissions <b>{len(subs)}</b> ({scored} scored)</span>'
             f'<span>bugs fixed <b>{fixed} of {len(fixes)}</b></span></p>')
    bug_rows = "".join(
        f'<tr><td><b>{escape(f["bug"])}</b> <span class="muted">{escape(f["title"])}</span></td>'
        f'<td class="{escape(f["status"])}">{escape(f["status"])}</td>'
        f'<td>{_when_fixed(f)}</td></tr>' for f in fixes)
    hints = [e for e in events if e["kind"] == "hint_given"]
    hint_items = "".join(
        f'<li>hint {escape(str(e["data"].get("level", "?")))} at {fmt_minutes(clock_minutes(row, events, e["at"]))}: '
        f'{escape(str(e["data"].get("text", "")))}</li>' for e in hints) or '<li class="muted">No hint given.</li>'
    rubric_rows = "".join(f'<tr><td>{escape(r["title"])}</td><td>{_rating_text(r)}</td></tr>'
                          for r in rubric_ratings(rubric, events)) or (
        '<tr><td colspan="2" class="muted">The scaffold declares no rubric and nothing was rated.</td></tr>')
    notes = "".join(f'<li>{fmt_minutes(clock_minutes(row, events, e["at"]))} {escape(str(e["data"].get("text", "")))}</li>'
                    for e in events if e["kind"] in NOTE_KINDS) or '<li class="muted">No notes.</li>'
    return (f'<section id="summary"><h2>Summary</h2>{_headline(head, metric)}{facts}'
            f'<div class="grid"><div><h3>Bugs fixed and when <span class="muted">(clock time)</span></h3>'
            f'<table id="summary-bugs"><tr><th>planted bug</th><th>in the final submission</th><th>first fixed</th></tr>{bug_rows}</table>'
            f'<h3>Hints given ({len(hints)})</h3><ul id="summary-hints">{hint_items}</ul></div>'
            f'<div><h3>Rubric</h3><table id="summary-rubric"><tr><th>criterion</th><th>rating</th></tr>{rubric_rows}'
            f'</table><h3>Interviewer notes</h3><ul id="summary-notes">{notes}</ul></div></div></section>')

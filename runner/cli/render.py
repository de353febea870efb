"""Plain-text views of result objects (tables, an ASCII score plot). No logic, no I/O."""

from __future__ import annotations

from typing import Any

from pitfalls.cli.final_view import reveal_lines, submission_lines
from pitfalls.cli.history_view import history_text
from pitfalls.cli.text import fmt, fmt_interval, fmt_public, table
from pitfalls.core.results import SubmissionResult

__all__ = ["fmt", "fmt_interval", "fmt_public", "table"]  # re-exported: callers use render.table etc.


def probe_warning(bug: dict[str, Any]) -> list[str]:
    """The lines that qualify a probe verdict: self-reported, and every tamper check that fired."""
    lines = ["      (self-reported by the probe run; cross-checked)"] if bug.get("self_reported", True) else []
    return lines + [f"      WARNING {t}" for t in bug.get("tampering", [])]


def submission(r: SubmissionResult) -> str:
    """What `pitfalls submit` prints."""
    head = {"scored": "SCORED", "rejected": "REJECTED", "failed": "FAILED"}[r.status]
    lines = [f"[{head}] submission #{r.submission_id}"]
    if r.status == "scored":
        interval = f" ({fmt_interval(r.score_interval, r.decimals)})" if r.score_interval else ""
        lines.append(f"  {r.metric} (public slice): {fmt_public(r.score, r.decimals)}{interval}   normalized: "
                     f"{fmt(r.normalized, 3)}   (starter = 0, reference = 1, above 1 = better than the reference)")
    lines += submission_lines(r)
    lines.append(f"  {r.message}")
    for v in r.violations:
        lines.append(f"  - {v.constraint}: limit {v.limit}, got {v.actual}")
        for key, value in list(v.details.items())[:8]:
            lines.append(f"      {key}: {value:,}" if isinstance(value, int) else f"      {key}: {value}")
    if r.params is not None:
        lines.append(f"  parameters stored: {r.params:,}")
    if r.timings:
        lines.append("  " + timings(r.timings))
    if r.status == "failed" and r.log_tail:
        lines += ["  --- last output ---", *("  " + line for line in r.log_tail.strip().splitlines()[-15:])]
    return "\n".join(lines)


TIMING_WORDS = ("queued_seconds", "train_seconds", "train_limit_seconds", "train_cpu_seconds", "predict_seconds")


def timings(t: dict[str, float]) -> str:
    """``queued 12 s, trained 15.2 s of 60 s (CPU 14.9 s), predicted 0.8 s``: the wait for a CPU
    slot apart from the budgeted time, which counts from the slot's grant (runner/sched/)."""
    parts = []
    if "queued_seconds" in t:
        parts.append(f"queued {t['queued_seconds']:.0f} s")
    if "train_seconds" in t:
        limit = f" of {t['train_limit_seconds']:g} s" if "train_limit_seconds" in t else ""
        cpu = f" (CPU {t['train_cpu_seconds']:.1f} s)" if "train_cpu_seconds" in t else ""
        parts.append(f"trained {t['train_seconds']:.1f} s{limit}{cpu}")
    if "predict_seconds" in t:
        parts.append(f"predicted {t['predict_seconds']:.1f} s")
    parts += [f"{k} {v:.1f}s" for k, v in t.items() if k not in TIMING_WORDS]
    return ", ".join(parts)


def waiting(place: int, waiting: int, queued_seconds: float) -> str:
    """What `pitfalls submit` prints (stderr) while its submission waits for a CPU slot."""
    return (f"queued for a CPU slot: place {place} of {waiting}, {queued_seconds:.0f} s so far "
            "(the training clock starts when it runs)")


def history(results: list[SubmissionResult]) -> str:
    """The history: every submission in a table, then a chart of the public scores with their intervals
    (:mod:`pitfalls.cli.history_view`)."""
    return history_text(results)


PROBE_WORDS = {"pending": "probes still running (waiting for a worker)", "running": "probes still running",
               "failed": "the probe run failed", "interrupted": "probes interrupted (their worker ended)"}


def probe_status(statuses: dict[int, str]) -> str:
    """Lines under the history for submissions whose probes are not done (nothing when all are)."""
    lines = [f"#{i}: {PROBE_WORDS[s]}" for i, s in statuses.items() if s in PROBE_WORDS]
    return ("\n\n" + "\n".join(lines) + "\n(`pitfalls reveal` shows the verdicts)") if lines else ""


def submission_probes(rv: Any) -> list[str]:
    """The reveal's lines for each probed submission: how many bugs it had fixed and which were still
    present (by title), or why there are no verdicts yet."""
    if not rv.submissions:
        return []
    titles = {b["id"]: b.get("title") or b["id"] for b in rv.bugs}
    lines = ["", f"Probes of your submissions{f' (waited {rv.waited:g} s for them)' if rv.waited >= 1 else ''}:"]
    for s in rv.submissions:
        if s["probe_status"] != "done":
            lines.append(f"  #{s['submission_id']}: {PROBE_WORDS.get(s['probe_status'], s['probe_status'])}")
            continue
        verdicts = s["verdicts"]
        fixed = sum(v == "fixed" for v in verdicts.values())
        present = [titles.get(b, b) for b, v in verdicts.items() if v == "present"]
        text = f"{fixed} of {len(verdicts)} bugs fixed" + (f"; still present: {'; '.join(present)}" if present else "")
        lines.append(f"  #{s['submission_id']}: {text}{' (tampering suspected)' if s['tampering'] else ''}")
    return lines


BUG_MARKS = {"fixed": "found", "present": "MISSED", "unknown": "not known"}
EVIDENCE_WORDS = {"fixed": "fixed", "present": "still present", "unknown": "the probe could not decide"}
QUIRK_MARKS = {"found": "found", "missed": "MISSED", "unknown": "not known", "unchecked": "not checked"}


def reveal(rv: Any) -> str:
    """What `pitfalls reveal` prints: titles and descriptions only, never a catalog reference or an
    interviewer file (``--json`` holds the ids)."""
    lines = [f"# {rv.title}: what was planted", "",
             "Bugs (found: the probes see it fixed in your workspace now; MISSED: still present):"]
    if getattr(rv, "verdicts_of", None) is not None:
        lines.append(f"  (verdicts of submission #{rv.verdicts_of}: the workspace is unchanged since, "
                     "so its probes were not run again)")
    if any(b.get("tampering") for b in rv.bugs):
        lines.append("  WARNING: tampering suspected; do not trust these verdicts without reading the code.")
    for b in rv.bugs:
        lines.append(f"  [{BUG_MARKS[b['status']]}] {b.get('title') or b['id']}")
        lines.append(f"      {b.get('description', '')}")
        lines.append(f"      {EVIDENCE_WORDS[b['status']]}: {b['evidence']}")
        lines += probe_warning(b)
    lines += ["", "Data quirks (found: every bug that hinges on it is fixed; not checked: no probe tells):"]
    if not rv.quirks:
        lines.append("  none: this scaffold plants no data quirk.")
    for q in rv.quirks:
        lines.append(f"  [{QUIRK_MARKS[q.get('status', 'unchecked')]}] {q.get('title') or q['id']}")
        lines.append(f"      {q.get('description', '')}")
        details = ", ".join(f"{k}={v}" for k, v in q["planted"].items() if k != "id")
        if details:
            lines.append(f"      planted: {details}")
        if q.get("handle"):
            lines.append(f"      how to handle it: {q['handle']}")
    lines += reveal_lines(rv)
    lines += submission_probes(rv)
    lines += ["", "Diff from your workspace to the reference solution:", rv.diff or "(identical)"]
    return "\n".join(lines)


CHECK_MARKS = {"passed": "PASS", "failed": "FAIL", "xfailed": "xfail", "xpassed": "XPASS", "skipped": "skip"}


def check_report(report: Any) -> str:
    """What `pitfalls check` prints for one scaffold (a CheckReport)."""
    short = lambda m: m if len(m) <= 90 else m[:87] + "..."  # noqa: E731
    rows = [(CHECK_MARKS[r.status], r.name, f"{r.seconds:.1f}s", short(r.message)) for r in report.results]
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
    lines = [f"{report.scaffold} ({report.path})", table(rows, ["", "check", "time", "details"])]
    bad = [r for r in report.results if r.status in ("failed", "xpassed")]
    if bad:
        lines += ["", "What to fix:"] + [f"  {r.name}: {r.message}" for r in bad]
    return "\n".join(lines + [f"{'OK' if report.ok else 'FAILED'}: {counts}"])

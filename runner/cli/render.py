"""Plain-text views of result objects (tables, an ASCII score plot). No logic, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pitfalls.core.results import SubmissionResult


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A left-aligned text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


def fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def fmt_public(x: float | None) -> str:
    """A public score as stored: already on its scaffold's grid, so shown without added digits."""
    return "-" if x is None else f"{x:.6g}"


def fmt_interval(iv: list[float] | None) -> str:
    """``95% interval LO to HI`` (empty when there is none)."""
    return "" if not iv else f"95% interval {fmt_public(iv[0])} to {fmt_public(iv[1])}"


def probe_warning(bug: dict[str, Any]) -> list[str]:
    """The lines that qualify a probe verdict: self-reported, and every tamper check that fired."""
    lines = ["      (self-reported by the probe run; cross-checked)"] if bug.get("self_reported", True) else []
    return lines + [f"      WARNING {t}" for t in bug.get("tampering", [])]


def submission(r: SubmissionResult) -> str:
    """What `pitfalls submit` prints."""
    head = {"scored": "SCORED", "rejected": "REJECTED", "failed": "FAILED"}[r.status]
    lines = [f"[{head}] submission #{r.submission_id}"]
    if r.status == "scored":
        interval = f" ({fmt_interval(r.score_interval)})" if r.score_interval else ""
        lines.append(f"  {r.metric} (public slice): {fmt_public(r.score)}{interval}   normalized: "
                     f"{fmt(r.normalized, 3)}   (starter = 0, reference = 1)")
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
    """The history table followed by a score-over-time plot."""
    rows = [(r.submission_id, r.created_at.replace("T", " ")[:19], r.status, fmt_public(r.score),
             fmt_interval(r.score_interval).removeprefix("95% interval ") or "-",
             fmt(r.normalized, 3), r.params if r.params is not None else "-", (r.note or "")[:40])
            for r in results]
    out = table(rows, ["#", "time (UTC)", "status", "score", "95% interval", "normalized", "params", "note"])
    return out + "\n\n" + plot([(r.submission_id, r.score) for r in results if r.score is not None])


PROBE_WORDS = {"pending": "probes still running (waiting for a worker)", "running": "probes still running",
               "failed": "the probe run failed", "interrupted": "probes interrupted (their worker ended)"}


def probe_status(statuses: dict[int, str]) -> str:
    """Lines under the history for submissions whose probes are not done (nothing when all are)."""
    lines = [f"#{i}: {PROBE_WORDS[s]}" for i, s in statuses.items() if s in PROBE_WORDS]
    return ("\n\n" + "\n".join(lines) + "\n(`pitfalls reveal` shows the verdicts)") if lines else ""


def submission_probes(rv: Any) -> list[str]:
    """The reveal's lines for each probed submission: its verdicts, or why there are none yet."""
    if not rv.submissions:
        return []
    lines = ["", f"Probes of your submissions{f' (waited {rv.waited:g} s for them)' if rv.waited >= 1 else ''}:"]
    for s in rv.submissions:
        if s["probe_status"] == "done":
            found = ", ".join(f"{b} {v}" for b, v in s["verdicts"].items()) or "no bugs"
            lines.append(f"  #{s['submission_id']}: {found}{' (tampering suspected)' if s['tampering'] else ''}")
        else:
            lines.append(f"  #{s['submission_id']}: {PROBE_WORDS.get(s['probe_status'], s['probe_status'])}")
    return lines


def plot(points: list[tuple[int, float]], height: int = 8) -> str:
    """Scores against submission number as a small ASCII chart."""
    if not points:
        return "(no scored submissions yet)"
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    span = (hi - lo) or 1.0
    grid = [[" "] * len(points) for _ in range(height)]
    for x, (_, y) in enumerate(points):
        grid[height - 1 - round((y - lo) / span * (height - 1))][x] = "*"
    labels = [fmt_public(hi), *[""] * (height - 2), fmt_public(lo)] if height > 1 else [fmt_public(hi)]
    width = max(len(label) for label in labels)
    rows = [f"{label.rjust(width)} |{'  '.join(r)}" for label, r in zip(labels, grid)]
    axis = " " * width + " +" + "-" * (3 * len(points) - 2)
    ids = " " * (width + 2) + "  ".join(str(p[0])[-1] for p in points)
    return "\n".join(["score by submission", *rows, axis, ids])


def reveal(rv: Any) -> str:
    """What `pitfalls reveal` prints."""
    mark = {"present": "STILL PRESENT", "fixed": "fixed", "unknown": "?"}
    lines = [f"# {rv.title} — what was planted", "", "Bugs:"]
    if any(b.get("tampering") for b in rv.bugs):
        lines.append("  WARNING: tampering suspected; do not trust these verdicts without reading the code.")
    for b in rv.bugs:
        lines.append(f"  [{mark[b['status']]}] {b['id']} ({b.get('ref', '')}): {b.get('title', '')}")
        lines.append(f"      {b.get('description', '')}")
        lines.append(f"      probe: {b['evidence']}")
        lines += probe_warning(b)
    lines += ["", "Quirks:"]
    for q in rv.quirks:
        lines.append(f"  {q['id']} ({q.get('ref', '')}): {q.get('description', '')}")
        lines.append(f"      planted: {q['planted']}")
    if rv.best:
        lines += ["", f"Best submission #{rv.best['submission_id']}: public {fmt_public(rv.best['public'])}, "
                      f"private {fmt(rv.best['private'])} (normalized {fmt(rv.best['normalized_private'], 3)})"]
        if rv.best.get("goal_normalized") is not None:
            verdict = {True: "reached", False: "not reached"}.get(rv.best.get("goal_reached"), "not known")
            lines.append(f"Goal: normalized {rv.best['goal_normalized']:.2f} (private {fmt(rv.best.get('goal'))} "
                         f"on this installation's data): {verdict}")
    lines += submission_probes(rv)
    lines += ["", "Diff from your workspace to the reference solution:", rv.diff or "(identical)"]
    if rv.guide:
        lines += ["", f"Interviewer guide: {rv.guide}"]
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

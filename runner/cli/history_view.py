"""`pitfalls history` as text (every submission in a table, a chart of the public scores with their
intervals, scaled to the submissions' own range) and, optionally, as a PNG plot (matplotlib)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pitfalls.cli.text import fmt, fmt_interval, fmt_public, table
from pitfalls.core.results import SubmissionResult
from pitfalls.library.metrics import METRICS

WIDTH = 50
"""Columns of the chart's axis."""


def better(metric: str) -> str:
    """``higher is better`` or ``lower is better`` for ``metric`` (``?`` for an unknown one)."""
    m = METRICS.get(metric)
    return "?" if m is None else "higher is better" if m.higher_is_better else "lower is better"


def history_text(results: list[SubmissionResult]) -> str:
    """The table of every submission (exact values as shown when scored, whole notes), then the chart."""
    rows = [(r.submission_id, r.created_at.replace("T", " ")[:19], r.status.upper() if r.status != "scored"
             else r.status, fmt_public(r.score, r.decimals),
             fmt_interval(r.score_interval, r.decimals).removeprefix("95% interval ") or "-",
             fmt(r.normalized, 3), f"{r.params:,}" if r.params is not None else "-", r.note or "")
            for r in results]
    metric = results[0].metric if results else "score"
    head = table(rows, ["#", "time (UTC)", "status", f"{metric} (public)", "95% interval", "normalized",
                        "params", "note"])
    return "\n".join([head, "", f"{metric}: {better(metric)}. " + INTERVAL_LINE, "", chart(results)])


INTERVAL_LINE = ("The public slice is a sample of the held-out rows: two scores whose 95% intervals "
                 "overlap may not differ.")


def chart(results: list[SubmissionResult], width: int = WIDTH) -> str:
    """One line per submission: its public score (``*``) and 95% interval (``[---]``) on an axis
    from the lowest to the highest of these submissions' scores and interval ends, so the chart
    spans their own range however close they are; submissions without a score are listed with
    their status, not dropped."""
    scored = [r for r in results if r.score is not None]
    if not scored:
        return "(no scored submissions yet)"
    ends = [x for r in scored for x in [r.score, *(r.score_interval or [])]]
    lo, hi = min(ends), max(ends)
    span = hi - lo
    decimals = scored[-1].decimals

    def col(x: float) -> int:
        return width // 2 if span == 0 else round((x - lo) / span * (width - 1))

    label_w = max(len(fmt_public(r.score, r.decimals)) for r in scored)
    metric = scored[0].metric
    arrow = "better ->" if METRICS.get(metric) and METRICS[metric].higher_is_better else "<- better"
    lines = [f"public {metric} by submission ({better(metric)}; * score, [---] 95% interval; the axis "
             f"spans your own scores and intervals, {fmt_public(lo, decimals)} to {fmt_public(hi, decimals)})",
             f"{'':>5} {'':>{label_w}}  {fmt_public(lo, decimals):<{width // 2}}"
             f"{fmt_public(hi, decimals):>{width - width // 2}}   {arrow}"]
    for r in results:
        if r.score is None:
            lines.append(f"{'#' + str(r.submission_id):>5} {'':>{label_w}}  ({r.status}, no score)")
            continue
        lines.append(f"{'#' + str(r.submission_id):>5} {fmt_public(r.score, r.decimals):>{label_w}} "
                     f"|{_bar(r, col, width)}|")
    return "\n".join(lines)


def _bar(r: SubmissionResult, col: Callable[[float], int], width: int) -> str:
    """The chart's row for a scored submission: its interval and score on the axis."""
    cells = [" "] * width
    if r.score_interval:
        a, b = col(r.score_interval[0]), col(r.score_interval[1])
        left, right = max(a, 0), min(b, width - 1)
        for i in range(left, right + 1):
            cells[i] = "-"
        cells[left] = "<" if a < 0 else "["
        cells[right] = ">" if b > width - 1 else "]"
    cells[col(r.score)] = "*"
    return "".join(cells)


def write_png(results: list[SubmissionResult], path: Path) -> Path:
    """Plot the public scores with their intervals against the submission number into ``path``.

    Raises:
        RuntimeError: matplotlib is not installed, with how to install it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("matplotlib must be installed to write a PNG plot. Got ImportError instead: install "
                           "it into this environment (pip install matplotlib) or drop --png.") from None
    scored = [r for r in results if r.score is not None]
    metric = results[0].metric if results else "score"
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    if scored:
        xs = [r.submission_id for r in scored]
        ys = [r.score for r in scored]
        err = [[r.score - (r.score_interval or [r.score, r.score])[0] for r in scored],
               [(r.score_interval or [r.score, r.score])[1] - r.score for r in scored]]
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, label="public score, 95% interval")
    for r in results:
        if r.score is None:
            ax.axvline(r.submission_id, color="0.8", linestyle=":", linewidth=1)
    ax.set_xlabel("submission (dotted: not scored)")
    ax.set_ylabel(f"{metric} (public)")
    ax.set_title(f"public {metric} by submission ({better(metric)})")
    ax.set_xticks([r.submission_id for r in results])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

"""The report's score chart: an inline SVG (no script) with round ticks and labels inside its viewBox.

The y axis uses "nice" ticks (steps of 1, 2 or 5 times a power of ten: 0.40/0.45/0.50, never
0.405/0.501/0.597); the starter, reference and goal lines are labelled inside the plot area,
right-aligned above their line, so no label is cut at the SVG's edge.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 32
"""Margins: the y tick labels sit in LEFT, the legend in TOP, the submission numbers in BOTTOM."""
LABEL_GAP = 13.0
"""Vertical room (px) one reference label needs; labels closer than this are moved apart."""


def nice_step(span: float, count: int) -> float:
    """The round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``count`` parts."""
    raw = span / max(1, count)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: the first at or below ``lo``, the last at or above ``hi``.

    A zero span is widened around the value. Values are rounded to the step's decimals, so they
    print exactly (``0.45``, not ``0.45000000000000007``).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 0.05
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, count)
    decimals = tick_decimals(step)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, decimals) for k in range(first, last + 1)]


def tick_decimals(step: float) -> int:
    """How many decimals print every multiple of ``step`` exactly (0.25 -> 2, 0.05 -> 2, 5 -> 0)."""
    for d in range(0, 12):
        if abs(round(step, d) - step) < step * 1e-6:
            return d
    return 12


def _spread(ys: list[float], gap: float, top: float, bottom: float) -> list[float]:
    """Label positions near ``ys`` (sorted top to bottom) at least ``gap`` apart, within [top, bottom]."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, out[-1] + gap) if out else max(y, top))
    over = out[-1] - bottom if out else 0.0
    return [y - over for y in out] if over > 0 else out


def chart_svg(subs: list[dict[str, Any]], anchors: dict[str, float | None]) -> str:
    """Public and private scores of scored submissions, with ``anchors`` (label -> score or None)
    as dashed lines; one ``<svg>`` with a viewBox, or a sentence when nothing is scored."""
    pts = [(s["id"], s["score_public"], s["score_private"]) for s in subs
           if s["status"] == "scored" and s["score_public"] is not None]
    if not pts:
        return '<p class="muted">No scored submission.</p>'
    refs = {k: v for k, v in anchors.items() if v is not None}
    values = [v for _, a, b in pts for v in (a, b) if v is not None] + list(refs.values())
    ticks = nice_ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + 24 + (pw - 48) * (i / max(1, len(pts) - 1)) if len(pts) > 1 else LEFT + pw / 2

    def y(v: float) -> float:
        return TOP + ph * (hi - v) / (hi - lo)

    decimals = tick_decimals(ticks[1] - ticks[0]) if len(ticks) > 1 else 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="public and private scores">',
             f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#d0d7de"/>']
    for t in ticks:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eef0f4"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y(t) + 4:.1f}" font-size="11" fill="#666" '
                     f'text-anchor="end">{t:.{decimals}f}</text>')
    ordered = sorted(refs.items(), key=lambda kv: -kv[1])
    label_ys = _spread([y(v) - 4 for _, v in ordered], LABEL_GAP, TOP + 11, TOP + ph - 3)
    for (label, v), ly in zip(ordered, label_ys, strict=True):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#999" '
                     f'stroke-dasharray="4 4"/><text class="ref-label" data-label="{escape(label)}" '
                     f'x="{LEFT + pw - 6}" y="{ly:.1f}" font-size="11" fill="#555" text-anchor="end">'
                     f'{escape(label)} {v:.4g}</text>')
    for idx, colour, name in ((1, "#0969da", "public"), (2, "#8250df", "private")):
        line = [(x(i), y(p[idx])) for i, p in enumerate(pts) if p[idx] is not None]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + '"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"/>' for a, b in line]
        parts.append(f'<text x="{LEFT + (idx - 1) * 80}" y="{TOP - 10}" font-size="12" fill="{colour}">● {name}</text>')
    parts += [f'<text x="{x(i):.1f}" y="{TOP + ph + 18}" font-size="11" fill="#666" text-anchor="middle">#{p[0]}</text>'
              for i, p in enumerate(pts)]
    return "".join(parts) + "</svg>"

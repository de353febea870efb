"""Text helpers of the CLI's views: a table, numbers, public scores on their grid. No logic, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A left-aligned text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


def fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def fmt_public(x: float | None, decimals: int | None = None) -> str:
    """A public score as stored: already on its scaffold's grid, so shown with exactly the grid's
    ``decimals`` (no digit added or dropped), or without added digits when they are not known."""
    if x is None:
        return "-"
    return f"{x:.6g}" if decimals is None else f"{x:.{decimals}f}"


def fmt_interval(iv: list[float] | None, decimals: int | None = None) -> str:
    """``95% interval LO to HI`` (empty when there is none), on the score's grid."""
    return "" if not iv else f"95% interval {fmt_public(iv[0], decimals)} to {fmt_public(iv[1], decimals)}"

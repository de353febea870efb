"""Plain-text lines about the final submission (runner/core/finals.py): after a submission, under the
history, and the reveal's headline with every scored submission's private score. No logic, no I/O."""

from __future__ import annotations

from typing import Any

from pitfalls.core.results import SubmissionResult
from pitfalls.library.metrics import format_public


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _public(x: float | None, decimals: int | None = None) -> str:
    """A public score as the candidate saw it: with the grid's ``decimals`` (``1.00``, not ``1``)."""
    if x is None:
        return "-"
    return f"{x:.6g}" if decimals is None else format_public(x, decimals)


def submission_lines(r: SubmissionResult) -> list[str]:
    """Whether a scored submission is now final (what `pitfalls submit` prints under its score)."""
    if r.status != "scored":
        return []
    if r.final:
        return ["  final: yes, this is now your final submission (the one that counts)"]
    return [f"  final: no, the submission you chose stays final (`pitfalls final {r.submission_id}` makes this one final)"]


def final_line(results: list[SubmissionResult]) -> str:
    """The history's line naming the final submission (empty while none is scored)."""
    final = next((r for r in results if r.final), None)
    if final is None:
        return ""
    last = max(r.submission_id for r in results if r.status == "scored")
    how = ("the last scored one (the default)" if final.submission_id == last
           else "your choice")
    return (f"\n\nFinal submission: #{final.submission_id}, {how}. It is the one that counts; "
            "`pitfalls final N` or `pitfalls submit --final` chooses another.")


def reveal_lines(rv: Any) -> list[str]:
    """The reveal's headline (the final submission's scores and the goal) and every scored
    submission's public and private scores, the final one marked."""
    f = rv.final
    if not f:
        return ["", "No submission was scored."]
    lines = ["", f"Final submission #{f['submission_id']} ({f['how']}): public {_public(f['public'], f.get('public_decimals'))}, private "
                 f"{_num(f['private'])} (normalized {_num(f['normalized_private'], 3)})"]
    if f.get("goal_normalized") is not None:
        verdict = {True: "reached", False: "not reached"}.get(f.get("goal_reached"), "not known")
        lines.append(f"Goal: normalized {f['goal_normalized']:.2f} (private {_num(f.get('goal'))} "
                     f"on this installation's data): {verdict}")
    lines += ["", "Every scored submission (private: the held-out rows you never saw scored):"]
    for s in rv.scores:
        lines.append(f"  {'*' if s['final'] else ' '} #{s['submission_id']}: public {_public(s['public'], s.get('public_decimals'))}, private "
                     f"{_num(s['private'])} (normalized {_num(s['normalized_private'], 3)})"
                     f"{'   <- final' if s['final'] else ''}")
    return lines

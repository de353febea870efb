"""The candidate's final submission, as the service offers it (runner/core/finals.py stores it).

The candidate chooses (practice ``pitfalls final N`` / ``submit --final``; live ``pitfalls-submit
--set-final N`` / ``--final``) and sees only which submission is final and its public score. The
private scores of every scored submission, with the final one marked, are for the interviewer's
views and the practice reveal (:func:`scores_view`, :func:`headline`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pitfalls.core.clock import session_clock
from pitfalls.core.finals import Final, FinalChoiceError, choose_final, final_submission  # noqa: F401 - re-exported
from pitfalls.core.results import SubmissionResult
from pitfalls.core.store import Store
from pitfalls.library.scaffold import Scaffold
from pitfalls.service.views import goal_view, grid_decimals, row_decimals

PRACTICE_HOW = "`pitfalls history` lists them."
LIVE_HOW = "`pitfalls-submit --status` lists them."


def choose(store: Store, session: Mapping[str, Any], submission_id: Any, *, via: str = "pitfalls final",
           how: str = PRACTICE_HOW) -> Final:
    """Make scored submission ``submission_id`` of ``session`` (its row) the final one; returns once stored.

    Raises:
        FinalChoiceError: not a scored submission of this session, or the session's time is up (the
            final submission stays as it was).
        StorageError: the state folder is full or read-only (nothing was recorded).
    """
    clock = session_clock(store, session["id"])
    if clock is not None and clock.expired:  # the interview is over: its outcome is no longer open
        raise FinalChoiceError(f"The final submission must be chosen before the time is up. Got a choice "
                               f"{(clock.used_seconds - (clock.minutes or 0) * 60) / 60:.1f} min after it instead; "
                               "the final submission stays as it was (the interviewer can extend the time).")
    return choose_final(store, session["id"], submission_id, via=via, how=how)


def mark(results: list[SubmissionResult], final: Final | None) -> list[SubmissionResult]:
    """Set each result's ``final`` flag; returns ``results``."""
    for r in results:
        r.final = final is not None and r.submission_id == final.submission_id
    return results


def scores_view(rows: Iterable[Mapping[str, Any]], final: Final | None, scaffold: Scaffold) -> list[dict[str, Any]]:
    """Every scored submission's public and private scores (interviewer and reveal only), final marked,
    with the ``public_decimals`` its public score was shown with (runner/service/views.py)."""
    today = grid_decimals(scaffold)
    return [{"submission_id": r["id"], "note": r["note"], "public": r["score_public"], "private": r["score_private"],
             "normalized_private": r["norm_private"], "public_decimals": row_decimals(r, scaffold, today),
             "final": final is not None and r["id"] == final.submission_id}
            for r in rows if r["status"] == "scored"]


def headline(rows: Iterable[Mapping[str, Any]], final: Final | None, scaffold: Scaffold) -> dict[str, Any]:
    """The final submission's scores (``public_decimals``: as for :func:`scores_view`) and the goal (the
    reveal's and the report's headline); empty while no submission is scored."""
    if final is None:
        return {}
    row = next(r for r in rows if r["id"] == final.submission_id)
    return {**final.view(), "public": row["score_public"], "public_decimals": row_decimals(row, scaffold),
            "private": row["score_private"], "normalized_private": row["norm_private"],
            **goal_view(scaffold, row["norm_private"])}

"""The hints the interviewer gave, as the candidate may see them.

A hint reaches the candidate only once the interviewer gives it: one ``hint_given`` row in the
session's event log, ``{"level": N, "text": "...", "by": "interviewer"}``. The candidate's status
(``pitfalls-submit --status``, the timer in the candidate's JupyterLab) lists those rows and nothing
else: never the scaffold's hint ladder, the rubric, the interviewer's notes or who gave the hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HINT_GIVEN = "hint_given"
MAX_HINT_CHARS = 4000
MAX_HINTS = 50


def given_hints(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{"level", "text", "at"}]`` of the ``hint_given`` rows among ``events`` (oldest first; other
    kinds and malformed rows are skipped; text cut at :data:`MAX_HINT_CHARS`, at most :data:`MAX_HINTS`)."""
    out: list[dict[str, Any]] = []
    for event in events:
        data = event.get("data")
        if event.get("kind") != HINT_GIVEN or not isinstance(data, Mapping):
            continue
        level, text = data.get("level"), data.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        ok_level = isinstance(level, int) and not isinstance(level, bool)
        out.append({"level": level if ok_level else None, "text": text[:MAX_HINT_CHARS], "at": str(event.get("at", ""))})
    return out[-MAX_HINTS:]

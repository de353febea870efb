"""What a scaffold declares about the candidate's reasoning: how its train.py reports its own
validation score (``[task] validation_pattern``) and the interviewer's rubric (``[[rubric]]``).

The dashboard shows the candidate's own validation score, parsed from the training log of each
submission, next to the held-out scores (runner/live/seat.py); the rubric is the picker whose
ratings are stored as ``rubric_rated`` events and rendered in the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitfalls.core.errors import ManifestError
from pitfalls.library.schema import RubricCriterion, expect, parse_table

PREDICT_MARK = "\n--- predict ---\n"
"""Where the scoring pipeline appends the prediction run's output to the training log."""
MAX_LINE_CHARS = 200
RUBRIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class Reported:
    """The candidate's own validation score as train.py printed it (the last match in the log)."""

    value: float
    line: str
    """The log line it was read from, at most :data:`MAX_LINE_CHARS` characters."""

    def view(self) -> dict[str, Any]:
        """JSON-ready: ``{"value", "line"}``."""
        return {"value": self.value, "line": self.line}


def validation_regex(pattern: str, *, path: Path | str) -> re.Pattern[str] | None:
    """``[task] validation_pattern`` compiled (multi-line), or None when it is empty.

    Raises:
        ManifestError: not a regular expression, or not exactly one capturing group.
    """
    if not pattern:
        return None
    try:
        regex = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ManifestError(path=str(path), field="task.validation_pattern", expected="a regular expression",
                            got=f"{pattern!r} ({exc})") from None
    if regex.groups != 1:
        raise ManifestError(path=str(path), field="task.validation_pattern",
                            expected="a regular expression with exactly one capturing group (the number)",
                            got=f"{pattern!r} with {regex.groups} groups",
                            hint="Write non-capturing groups as (?:...), e.g. 'validation AUC: ([-+0-9.eE]+)'.")
    return regex


def reported_validation(pattern: str, log: str) -> Reported | None:
    """The last number ``pattern`` captures in the training part of ``log`` (a submission's
    ``log_tail``), or None: no pattern declared, nothing matched, or the capture is not a number."""
    regex = validation_regex(pattern, path="scaffold.toml")
    if regex is None or not log:
        return None
    train = log.rpartition(PREDICT_MARK)[0] if PREDICT_MARK in log else log
    for match in reversed(list(regex.finditer(train))):
        try:
            value = float(match.group(1))
        except (TypeError, ValueError):
            continue
        if value != value or value in (float("inf"), float("-inf")):
            continue
        start = train.rfind("\n", 0, match.start()) + 1
        end = train.find("\n", match.end())
        line = train[start:end if end != -1 else len(train)].strip()
        return Reported(value=value, line=line[:MAX_LINE_CHARS])
    return None


def parse_rubric(data: dict, path: Path | str) -> tuple[RubricCriterion, ...]:
    """``[[rubric]]``: each criterion's keys checked, ids unique identifiers, at least two levels.

    Raises:
        ManifestError: naming the criterion and key.
    """
    entries = expect(data, "rubric", list, path, default=[], describe="an array of tables ([[rubric]] entries)")
    out: list[RubricCriterion] = []
    for i, entry in enumerate(entries):
        where = f"rubric[{i}]"
        if not isinstance(entry, dict):
            raise ManifestError(path=str(path), field=where, expected="a table ([[rubric]] with id, title, levels)",
                                got=f"{entry!r} ({type(entry).__name__})")
        c = parse_table(RubricCriterion, entry, path, where, label="a [[rubric]] criterion")
        if not RUBRIC_ID.match(c.criterion) or c.criterion in {o.criterion for o in out}:
            raise ManifestError(path=str(path), field=f"{where}.criterion", expected="a unique lowercase identifier "
                                "(letters, digits, _; 2-40 characters)", got=repr(c.criterion))
        if not c.title.strip() or len(c.levels) < 2 or not all(level.strip() for level in c.levels):
            raise ManifestError(path=str(path), field=where, expected="a title and at least two non-empty "
                                "levels (the evidence for each rating, lowest first)",
                                got=f"title {c.title!r}, {len(c.levels)} levels")
        out.append(c)
    return tuple(out)


def rubric_view(rubric: tuple[RubricCriterion, ...]) -> list[dict[str, Any]]:
    """JSON-ready criteria: ``{"criterion", "title", "levels": [{"rating": 1, "text"}, ...]}``."""
    return [{"criterion": c.criterion, "title": c.title,
             "levels": [{"rating": n, "text": text} for n, text in enumerate(c.levels, start=1)]}
            for c in rubric]

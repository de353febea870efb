"""A timed session's clock: when it closes and how much time is left.

One place for the arithmetic the CLI, the session server, the hub and the report all show.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


def closes_at(session: Mapping[str, Any]) -> datetime | None:
    """When a timed session's time is up (None for an untimed one)."""
    if not session.get("duration_minutes"):
        return None
    return datetime.fromisoformat(session["created_at"]) + timedelta(minutes=session["duration_minutes"])


def remaining_seconds(session: Mapping[str, Any] | None, *, at: datetime | None = None) -> float | None:
    """Seconds left on ``session``'s timer at ``at`` (default now), never below 0; None when the
    session is untimed or unknown (``None`` or an empty row)."""
    end = closes_at(session) if session else None
    if end is None:
        return None
    return max(0.0, (end - (at or datetime.now(UTC))).total_seconds())

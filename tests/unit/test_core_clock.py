"""A timed session's clock: one computation of the time left, for the CLI, the server, the hub and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pitfalls.core.clock import closes_at, remaining_seconds

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ROW = {"created_at": START.isoformat(timespec="seconds"), "duration_minutes": 45}


def test_time_left_counts_down_from_the_duration():
    assert closes_at(ROW) == START + timedelta(minutes=45)
    assert remaining_seconds(ROW, at=START + timedelta(minutes=44, seconds=30)) == 30.0


def test_time_left_never_goes_negative():
    assert remaining_seconds(ROW, at=START + timedelta(hours=3)) == 0.0


def test_untimed_or_unknown_sessions_have_no_timer():
    assert remaining_seconds({**ROW, "duration_minutes": None}) is None
    assert remaining_seconds({**ROW, "duration_minutes": 0}) is None
    assert remaining_seconds({}) is None and remaining_seconds(None) is None


def test_the_store_still_exports_closes_at():
    from pitfalls.core import store
    assert store.closes_at is closes_at

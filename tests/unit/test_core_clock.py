"""A timed session's clock: one computation of the time left, for the CLI, the server, the hub and the
report, folded from the session's stored events (so it needs no process's memory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pitfalls.core.clock import clock_of, closes_at, remaining_seconds

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ROW = {"created_at": START.isoformat(timespec="seconds"), "duration_minutes": 45}


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def ev(when: float, kind: str, **data) -> dict:
    return {"at": at(when).isoformat(timespec="seconds"), "kind": kind, "data": data}


def live(*events: dict, minutes: float | None = 30) -> list[dict]:
    """A live session's log: created with ``minutes`` at START, then ``events``."""
    return [ev(0, "clock_set", minutes=minutes), *events]


# --- sessions without a stored clock (practice, hub, older live sessions) ------------------------------

def test_time_left_counts_down_from_the_duration():
    assert closes_at(ROW, at=at(10)) == START + timedelta(minutes=45)
    assert remaining_seconds(ROW, at=at(44.5)) == 30.0


def test_time_left_never_goes_negative():
    assert remaining_seconds(ROW, at=START + timedelta(hours=3)) == 0.0
    assert clock_of(ROW, at=at(180)).state == "expired"


def test_untimed_or_unknown_sessions_have_no_timer():
    assert remaining_seconds({**ROW, "duration_minutes": None}) is None
    assert remaining_seconds({**ROW, "duration_minutes": 0}) is None
    assert remaining_seconds({}) is None and remaining_seconds(None) is None


def test_the_store_still_exports_closes_at():
    from pitfalls.core import store
    assert store.closes_at is closes_at


# --- live sessions: the clock is a fold of the event log ------------------------------------------------

def test_the_clock_waits_for_the_candidates_lab_however_long_the_image_build_takes():
    waiting = clock_of(ROW, live(), at=at(12))  # 12 minutes of image build, no lab yet
    assert (waiting.state, waiting.remaining_seconds, waiting.started_at, waiting.closes_at) == (
        "waiting", 1800.0, None, None)
    started = clock_of(ROW, live(ev(12, "clock_up")), at=at(20))
    assert started.state == "running" and started.remaining_seconds == 22 * 60
    assert started.started_at == at(12) and started.closes_at == at(42)


def test_a_pause_stops_the_time_and_unpausing_goes_on_where_it_stopped():
    events = live(ev(1, "clock_up"), ev(11, "clock_pause"), ev(41, "clock_unpause"))
    paused = clock_of(ROW, events[:-1], at=at(40))
    assert (paused.state, paused.remaining_seconds, paused.closes_at) == ("paused", 20 * 60.0, None)
    assert clock_of(ROW, events, at=at(46)).remaining_seconds == 15 * 60.0


def test_pausing_twice_or_unpausing_a_running_clock_changes_nothing():
    events = live(ev(0, "clock_up"), ev(5, "clock_unpause"), ev(10, "clock_pause"), ev(12, "clock_pause"),
                  ev(20, "clock_unpause"))
    assert clock_of(ROW, events, at=at(25)).remaining_seconds == 15 * 60.0  # 10 + 5 used


def test_an_extension_adds_minutes_and_forgives_time_past_the_end():
    events = live(ev(0, "clock_up"), ev(10, "clock_extend", minutes=5))
    clock = clock_of(ROW, events, at=at(20))
    assert (clock.minutes, clock.extended_minutes, clock.remaining_seconds) == (35.0, 5.0, 15 * 60.0)
    late = live(ev(0, "clock_up"), ev(40, "clock_extend", minutes=10))  # 10 minutes after the end
    assert clock_of(ROW, late[:-1], at=at(39)).expired
    assert clock_of(ROW, late, at=at(40)).remaining_seconds == 10 * 60.0
    assert clock_of(ROW, late, at=at(48)).remaining_seconds == 2 * 60.0


def test_stopped_sessions_stop_counting_and_resume_where_they_were():
    events = live(ev(0, "clock_up"), ev(10, "clock_down", reason="stopped"), ev(70, "clock_up"))
    stopped = clock_of(ROW, events[:-1], at=at(65))
    assert (stopped.state, stopped.remaining_seconds) == ("stopped", 20 * 60.0)
    assert clock_of(ROW, events, at=at(75)).remaining_seconds == 15 * 60.0


def test_a_pause_survives_a_stop_and_resume():
    events = live(ev(0, "clock_up"), ev(5, "clock_pause"), ev(6, "clock_down"), ev(20, "clock_up"))
    clock = clock_of(ROW, events, at=at(50))
    assert (clock.state, clock.remaining_seconds) == ("paused", 25 * 60.0)


def test_untimed_sessions_count_time_but_have_no_end():
    clock = clock_of(ROW, live(ev(0, "clock_up"), minutes=None), at=at(500))
    assert (clock.remaining_seconds, clock.closes_at, clock.expired, clock.state) == (None, None, False, "running")
    assert clock.used_seconds == 500 * 60


def test_setting_the_length_on_resume_keeps_the_time_used_and_drops_extensions():
    events = live(ev(0, "clock_up"), ev(10, "clock_extend", minutes=15), ev(20, "clock_set", minutes=60))
    clock = clock_of(ROW, events, at=at(30))
    assert (clock.minutes, clock.remaining_seconds) == (60.0, 30 * 60.0)
    untimed = clock_of(ROW, [*events, ev(30, "clock_set", minutes=None)], at=at(31))
    assert untimed.minutes is None and untimed.remaining_seconds is None


def test_the_time_is_only_the_events_and_other_kinds_do_not_count():
    events = live(ev(0, "clock_up"), ev(3, "note", text="clock_pause"), ev(4, "hint", level=1))
    assert clock_of(ROW, events, at=at(10)).remaining_seconds == 20 * 60.0


def test_a_system_clock_set_back_counts_no_negative_time():
    events = live(ev(10, "clock_up"), ev(5, "clock_pause"))
    assert clock_of(ROW, events, at=at(30)).remaining_seconds == 1800.0

"""Who gets the next CPU slot (runner/sched/order.py): lanes, round-robin across sessions, the
probe reserve, the bounded queue's messages. Pure functions: no files, no processes."""

from __future__ import annotations

from pitfalls.sched.order import TicketInfo, admission_error, fair_order, may_take, served_key


def _tickets(spec: str, kind: str = "submit", start: int = 0) -> list[TicketInfo]:
    """"A A B C" -> tickets in that arrival order, named a1 a2 b1 c1."""
    out, seen = [], {}
    for i, s in enumerate(spec.split()):
        seen[s] = seen.get(s, 0) + 1
        out.append(TicketInfo(name=f"{s.lower()}{seen[s]}", session=s, job="train", kind=kind, pid=1,
                              arrival_ns=start + i))
    return out


def _names(order: list[TicketInfo]) -> str:
    return " ".join(t.name for t in order)


def test_a_burst_cannot_starve_later_sessions():
    order = fair_order(_tickets("A A A A B B C C"), served={})
    assert _names(order) == "a1 b1 c1 a2 b2 c2 a3 a4"


def test_the_session_served_least_recently_goes_first():
    # B was served just now, A long ago: A's ticket goes first although B's arrived earlier.
    order = fair_order(_tickets("B A"), served={served_key("submit", "A"): 3, served_key("submit", "B"): 9})
    assert _names(order) == "a1 b1"
    # never served beats served long ago
    order = fair_order(_tickets("A C"), served={served_key("submit", "A"): 1})
    assert _names(order) == "c1 a1"


def test_submissions_go_before_checks_before_probes_whatever_their_age():
    tickets = _tickets("P", kind="probe") + _tickets("K", kind="check", start=10) + _tickets("S", start=20)
    assert _names(fair_order(tickets, served={})) == "s1 k1 p1"


def test_a_sessions_probes_do_not_push_back_its_submissions():
    served = {served_key("probe", "A"): 50, served_key("submit", "B"): 10}
    assert _names(fair_order(_tickets("B A"), served=served)) == "a1 b1"


def test_a_ticket_takes_a_slot_only_after_those_ahead_of_it():
    order = _tickets("A B C")
    assert may_take(order, "a1", free=1, n_slots=2)
    assert not may_take(order, "b1", free=1, n_slots=2)
    assert may_take(order, "b1", free=2, n_slots=2)
    assert not may_take(order, "c1", free=2, n_slots=2)


def test_a_probe_never_takes_the_last_free_slot_of_a_multi_slot_host():
    probes = _tickets("P Q", kind="probe")
    assert not may_take(probes, "p1", free=1, n_slots=2)
    assert may_take(probes, "p1", free=2, n_slots=2)
    assert not may_take(probes, "q1", free=2, n_slots=2)  # p1 takes one, q1 would take the last
    assert may_take(probes, "p1", free=1, n_slots=1)  # one slot: probes run when nobody waits


def test_a_full_queue_is_refused_with_when_to_retry():
    msg, retry, waiting, limit = admission_error(_tickets("A B C"), kind="submit", session="D", max_queue=3,
                                                 max_per_session=4, hold_seconds=40.0, n_slots=2)
    assert msg == ("The scoring queue holds at most 3 submit jobs. Got 3 waiting instead. "
                   "Retry in about 20 s; nothing was queued.")
    assert (retry, waiting, limit) == (20, 3, 3)


def test_probes_never_make_a_submission_busy_and_a_session_has_a_share():
    probes = _tickets("P P P", kind="probe")
    assert admission_error(probes, kind="submit", session="A", max_queue=3, max_per_session=4,
                           hold_seconds=30.0, n_slots=2) is None
    assert admission_error(probes, kind="probe", session="Q", max_queue=3, max_per_session=4,
                           hold_seconds=30.0, n_slots=2) is not None
    msg, *_ = admission_error(_tickets("A A"), kind="submit", session="A", max_queue=10, max_per_session=2,
                              hold_seconds=30.0, n_slots=2)
    assert msg.startswith("A session may queue at most 2 submit jobs. Got 2 waiting for session A instead.")
    assert admission_error(_tickets("A A"), kind="submit", session="B", max_queue=10, max_per_session=2,
                           hold_seconds=30.0, n_slots=2) is None


def test_a_wide_job_waits_for_all_its_slots_and_those_behind_it_wait_too():
    wide = TicketInfo(name="k1", session="K", job="check", kind="check", pid=1, arrival_ns=0, width=2)
    order = fair_order([wide, *_tickets("A", kind="check", start=5)], served={})
    assert [t.name for t in order] == ["k1", "a1"]
    assert not may_take(order, "k1", free=1, n_slots=2)
    assert not may_take(order, "a1", free=1, n_slots=2)  # no overtaking: the wide job would starve
    assert may_take(order, "k1", free=2, n_slots=2)


def test_a_ticket_not_yet_waited_for_holds_up_nobody():
    first, second = _tickets("A B")
    order = fair_order([TicketInfo(**{**first.__dict__, "ready": False}), second], served={})
    assert [t.name for t in order] == ["a1", "b1"]  # it keeps its place
    assert may_take(order, "b1", free=1, n_slots=1)

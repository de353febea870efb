"""The report a hiring committee reads (issue 15 item 5): its summary from a real store with inserted
events (rubric_rated, interviewer_note, hint_given, clock_*), time to each fix on the session's clock,
per-submission diffs from real snapshots, timings read from the keys the pipeline stores, one message
per text, and round chart ticks with reference labels inside the SVG's viewBox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.library.workspace import snapshot_workspace
from pitfalls.live import report
from pitfalls.live.report_chart import HEIGHT, WIDTH, chart_svg, nice_ticks
from pitfalls.live.report_diffs import MAX_LINES, submission_diffs
from pitfalls.scoring import pipeline

T0 = datetime(2030, 1, 2, 10, 0, 0, tzinfo=UTC)
BUGS = ("label_misalignment", "scaler_not_saved", "inverted_class_weights", "leak_feature_used")


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def _set_time(store: Store, table: str, row_id: int, minutes: float) -> None:
    col = "created_at" if table == "submissions" else "at"
    with store.tx() as db:
        db.execute(f"UPDATE {table} SET {col}=? WHERE id=?", (_at(minutes), row_id))


def _event(store: Store, sid: str, kind: str, data: dict, minutes: float) -> None:
    store.add_event(sid, kind, data)
    last = store.db.execute("SELECT MAX(id) FROM events").fetchone()[0]
    _set_time(store, "events", last, minutes)


def _submission(store: Store, sid: str, ws: Path, minutes: float, *, fixed: tuple[str, ...] = (),
                status: str = "scored", **values) -> int:
    snap, digest = snapshot_workspace(directory=ws, session_id=sid)
    sub = store.insert_submission(session_id=sid, note=f"at {minutes}", metric="balanced_accuracy",
                                  snapshot=str(snap), snapshot_sha256=digest)
    defaults = {"score_public": 0.61, "score_private": 0.6, "norm_private": 0.1,
                "timings": {"queued_seconds": 0.4, "train_seconds": 7.25, "train_limit_seconds": 60.0,
                            "train_cpu_seconds": 6.9, "predict_seconds": 0.8}}
    store.finish_submission(sub, status=status, probe_status="running" if status == "scored" else "none",
                            **{**defaults, **values})
    if status == "scored":
        store.finish_probes(sub, status="done", probe_flags=[], probes=[
            {"bug_id": b, "status": "fixed" if b in fixed else "present", "evidence": "", "self_reported": True}
            for b in BUGS])
    _set_time(store, "submissions", sub, minutes)
    return sub


@pytest.fixture
def session(tmp_path: Path) -> tuple[Store, str, Path]:
    """A tumor_triage session on the real store: the lab up at T0, a 5-minute pause, three submissions."""
    store = Store()
    ws = tmp_path / "ws"
    (ws / "notes").mkdir(parents=True)
    (ws / "train.py").write_text("import numpy\nprint('starter')\n")
    sid = store.create_session(scaffold="tumor_triage", workspace=ws, mode="live", candidate="Ada <b>",
                               duration_minutes=30)
    with store.tx() as db:
        db.execute("UPDATE sessions SET created_at=? WHERE id=?", (_at(-3), sid))
    _event(store, sid, "clock_set", {"minutes": 30}, -3)
    _event(store, sid, "clock_up", {}, 0)
    _event(store, sid, "clock_pause", {}, 2)
    _event(store, sid, "clock_unpause", {}, 7)  # 5 minutes not counted from here on
    _submission(store, sid, ws, 4)  # during the pause: the clock reads 2:00
    (ws / "train.py").write_text("import numpy\nprint('fixed <the> alignment')\n")
    _submission(store, sid, ws, 12, fixed=("label_misalignment",))  # clock 12 - 5 = 7:00
    _event(store, sid, "hint_given", {"level": 1, "text": "Look at <how> rows line up.", "by": "interviewer"}, 13)
    _event(store, sid, "rubric_rated", {"criterion": "bugs", "rating": 1, "note": "first"}, 14)
    _event(store, sid, "rubric_rated", {"criterion": "bugs", "rating": 3, "note": "found & fixed two"}, 15)
    _event(store, sid, "interviewer_note", {"text": "asked about <leakage>"}, 16)
    _event(store, sid, "extend_unknown_kind", {"x": 1}, 16.5)
    (ws / "train.py").write_text("import numpy\nprint('fixed the leak too')\n")
    late = "Submissions must arrive before the session's time is up. Got this one after it instead."
    _submission(store, sid, ws, 20, fixed=("label_misalignment", "leak_feature_used"))
    _submission(store, sid, ws, 21, status="rejected", message=late, score_public=None, score_private=None,
                timings={}, violations=[{"constraint": "session_time", "limit": "30 min", "actual": "1 min late",
                                         "message": late, "details": {}}])
    return store, sid, ws


def test_the_summary_comes_first_with_score_rubric_hints_fixes_and_time(session) -> None:
    store, sid, _ = session
    html = report.render_report(session_id=sid)
    summary, timeline = html.index('id="summary"'), html.index('id="timeline"')
    assert summary < html.index("<h2>Scores</h2>") < timeline
    head = html[summary:html.index("<h2>Scores</h2>")]
    # the final submission is the last scored one (#3): its private score on the scale, then the metric value
    assert re.search(r'Final private score: <b class="scale">0\.10</b> on the scale .*starter 0, reference 1', head)
    assert "submission <b>#3</b> (the last scored (default))" in head and "balanced_accuracy 0.6000" in head
    # rubric: the newest rating per criterion, with the level's text and the note, escaped
    assert "<b>3</b> of 4" in head and "Fixes three of four bugs" in head and "found &amp; fixed two" in head
    assert "first" not in head.split('id="summary-rubric"')[1].split("</table>")[0]
    assert "Explains what the changes do" in head and "not rated" in head
    assert "hint 1 at 8:00: Look at &lt;how&gt; rows line up." in head  # 13 min wall, 5 paused
    assert "asked about &lt;leakage&gt;" in head and "<leakage>" not in html
    # bugs fixed and when, on the clock: #2 at 7:00 (12 min wall, 5 paused); #3 at 15:00
    assert re.search(r"label_misalignment</b>.*?<td class=\"fixed\">fixed</td><td>#2 at 7:00</td>", head)
    assert re.search(r"leak_feature_used</b>.*?<td class=\"fixed\">fixed</td><td>#3 at 15:00</td>", head)
    assert re.search(r"scaler_not_saved</b>.*?<td class=\"present\">present</td><td>—</td>", head)
    assert "bugs fixed <b>2 of 4</b>" in head and re.search(r'time used <b>\d+:\d\d</b> of 30 min', head)


def test_timings_are_read_from_the_keys_the_pipeline_stores(session) -> None:
    _, sid, _ = session
    html = report.render_report(session_id=sid)
    assert "— s /" not in html and "7.2 s / 60 s (CPU 6.9 s)" in html and "0.8 s" in html
    # every timing key the report reads is one the scoring pipeline writes
    written = set(re.findall(r'timings\["(\w+)"\]', Path(pipeline.__file__).read_text()))
    read = set(re.findall(r'"(\w+_seconds)"', Path(report.__file__).read_text()))
    assert read and read <= written, read - written


def test_a_late_submissions_message_appears_once(session) -> None:
    _, sid, _ = session
    html = report.render_report(session_id=sid)
    timeline = html[html.index('id="timeline"'):html.index("<h2>Planted bugs")]
    assert timeline.count("Submissions must arrive before the session") == 1


def test_each_submission_shows_its_diff_against_the_previous_one(session) -> None:
    store, sid, _ = session
    diffs = submission_diffs(store.submissions(sid), {"train.py": "import numpy\nprint('starter')\n"})
    assert "No change since starter" in diffs[1]
    assert "+print(&#x27;fixed &lt;the&gt; alignment&#x27;)" in diffs[2] and "-print(&#x27;starter&#x27;)" in diffs[2]
    assert "+print(&#x27;fixed the leak too&#x27;)" in diffs[3] and "#2/train.py" in diffs[3]
    assert "No change since #3" in diffs[4]


def test_a_diff_is_bounded_and_a_damaged_snapshot_is_a_sentence(tmp_path: Path) -> None:
    big = tmp_path / "big.tar.gz"
    import tarfile

    with tarfile.open(big, "w:gz") as tar:
        p = tmp_path / "many.py"
        p.write_text("".join(f"line {i}\n" for i in range(5 * MAX_LINES)))
        tar.add(p, arcname="many.py")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tarball")
    subs = [{"id": 1, "snapshot": str(big), "snapshot_sha256": "a"},
            {"id": 2, "snapshot": str(broken), "snapshot_sha256": "b"}]
    diffs = submission_diffs(subs)
    assert diffs[1].count("\n") < MAX_LINES + 10 and "more diff lines not shown" in diffs[1]
    assert "snapshot not readable" in diffs[2]


@pytest.mark.parametrize("lo, hi", [(0.405, 0.597), (0.43, 0.95), (0.0, 1.0), (12.3, 12.3), (1250.0, 4980.0),
                                    (-0.2, 0.31), (0.9991, 0.9998)])
def test_ticks_are_round_and_cover_the_range(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 3 <= len(ticks) <= 12
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** __import__("math").floor(__import__("math").log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5), (ticks, step)
    assert all(len(repr(t)) <= 8 for t in ticks), ticks  # printed exactly: 0.45, never 0.45000000000000007


def test_reference_labels_stay_inside_the_chart() -> None:
    subs = [{"id": i, "status": "scored", "score_public": p, "score_private": p - 0.01}
            for i, p in enumerate((0.41, 0.5, 0.59), start=1)]
    svg = chart_svg(subs, {"starter": 0.405, "reference": 0.597, "goal": 0.59})
    assert f'viewBox="0 0 {WIDTH} {HEIGHT}"' in svg
    labels = re.findall(r'<text class="ref-label" data-label="(\w+)" x="([\d.]+)" y="([\d.]+)"[^>]*'
                        r'text-anchor="end">([^<]*)</text>', svg)
    assert {name for name, *_ in labels} == {"starter", "reference", "goal"}
    ys = sorted(float(y) for _, _, y, _ in labels)
    assert all(b - a >= 12 for a, b in zip(ys, ys[1:], strict=False)), ys  # reference and goal do not overlap
    for _, x, y, text in labels:  # right-aligned at x: the text runs leftwards, inside the viewBox
        assert float(x) <= WIDTH - 10 and 11 <= float(y) <= HEIGHT and float(x) - 7 * len(text) > 0
    ticks = re.findall(r'class="tick"[^>]*>([^<]*)</text>', svg)
    assert ticks == ["0.40", "0.45", "0.50", "0.55", "0.60"], ticks

"""The interviewer's seat without a server (runner/live/seat.py, runner/live/highlight.py): diffs
between real snapshots are bounded and stay plain text, hints and ratings are validated and stored
as the events the report and the candidate's lab read, presence and highlighting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.library.workspace import snapshot_workspace
from pitfalls.live import report_diffs
from pitfalls.live.given_hints import given_hints
from pitfalls.live.highlight import tokens
from pitfalls.live.seat import CONNECTED_SECONDS, MAX_LINE_CHARS, Presence, Seat, SeatError, last_edit


@pytest.fixture
def seat(tmp_path: Path) -> tuple[Seat, Store, Path]:
    store = Store()
    ws = tmp_path / "ws"
    ws.mkdir()
    sid = store.create_session(scaffold="tumor_triage", workspace=ws, mode="live")
    return Seat(session_id=sid, scaffold=load_scaffold("tumor_triage")), store, ws


def _submit(store: Store, sid: str, ws: Path) -> int:
    path, digest = snapshot_workspace(directory=ws, session_id=sid)
    return store.insert_submission(session_id=sid, note="", metric="balanced_accuracy", snapshot=str(path),
                                   snapshot_sha256=digest)


def test_a_diff_is_bounded_and_plain_text(seat):
    s, store, ws = seat
    (ws / "train.py").write_text("a = 1\n")
    first = _submit(store, s.session_id, ws)
    hostile = "<script>alert(1)</script>" + "x" * 420
    (ws / "train.py").write_text("a = 2\n" + "".join(f"line {i} {hostile}\n" for i in range(500)))
    second = _submit(store, s.session_id, ws)
    got = s.diff(store, second)
    assert got["since"] == f"#{first}" and got["left"] > 0
    assert len(got["lines"]) == report_diffs.MAX_LINES
    assert all(len(line) <= MAX_LINE_CHARS + 2 for line in got["lines"])
    assert "-a = 1" in got["lines"] and got["removed"] == 1
    assert any(line.startswith("+line 0 <script>alert(1)</script>") for line in got["lines"])  # data, not markup
    assert s.diff(store, second) is got  # cached: snapshots never change
    assert s.diff(store, first)["since"] == "the starter"
    for bad in (999, "1", True):
        with pytest.raises(SeatError) as info:
            s.diff(store, bad)
        assert info.value.status == 404


def test_hints_are_given_once_each_and_reach_the_candidate_s_list(seat):
    s, store, _ = seat
    ladder = s.scaffold.manifest.hints
    for bad in (0, len(ladder) + 1, "2", True, None, 1.0):
        with pytest.raises(SeatError, match="The hint level must be an integer"):
            s.give_hint(store, bad)
    s.give_hint(store, 3)
    with pytest.raises(SeatError, match="must not be given twice") as info:
        s.give_hint(store, 3)
    assert info.value.status == 409
    events = store.events(s.session_id)
    assert [h["text"] for h in given_hints(events)] == [ladder[2]]
    assert [h["given_at"] is not None for h in s.hints(events)] == [n == 3 for n in range(1, len(ladder) + 1)]


def test_ratings_are_validated_and_the_newest_counts(seat):
    s, store, _ = seat
    c = s.scaffold.manifest.rubric[0]
    for criterion, rating, note in (("nope", 1, ""), (c.criterion, 0, ""), (c.criterion, len(c.levels) + 1, ""),
                                    (c.criterion, True, ""), (c.criterion, 2, "x" * 5000), (c.criterion, 2, 7)):
        with pytest.raises(SeatError):
            s.rate(store, criterion, rating, note)
    s.rate(store, c.criterion, 2, "first look")
    s.rate(store, c.criterion, 4, "")
    shown = {r["criterion"]: r for r in s.rubric(store.events(s.session_id))}
    assert (shown[c.criterion]["rating"], shown[c.criterion]["note"]) == (4, "")
    assert all(r["rating"] is None for k, r in shown.items() if k != c.criterion)
    assert [e["data"]["rating"] for e in store.events(s.session_id, "rubric_rated")] == [2, 4]


def test_validation_says_not_reported_without_a_matching_line(seat):
    s, _, _ = seat
    assert s.validation({"log_tail": "validation balanced accuracy: 0.812\n"}) == {
        "value": 0.812, "line": "validation balanced accuracy: 0.812"}
    assert s.validation({"log_tail": "training done\n"})["value"] is None
    assert "not reported" in s.validation({"log_tail": ""})["why"]


def test_presence_counts_requests_and_sockets():
    p = Presence()
    assert p.view() == {"connected": False, "last_seen": None, "sockets": 0}
    p.seen()
    assert p.view()["connected"]
    later = p.view(now=__import__("time").time() + CONNECTED_SECONDS + 1)
    assert not later["connected"] and later["last_seen"]
    p.socket(+1)
    assert p.view(now=__import__("time").time() + 3600)["connected"]  # an open kernel socket: connected
    p.socket(-1)
    p.socket(-1)
    assert p.view()["sockets"] == 0
    assert last_edit([{"path": "a.py", "modified": "2024-01-01T00:00:01+00:00"},
                      {"path": "b.py", "modified": "2024-01-01T00:00:09+00:00"}])["path"] == "b.py"
    assert last_edit([]) is None


def test_highlight_tokens_rebuild_the_text_exactly():
    text = 'import os\n# <b>bold?</b>\nx = "<script>" + 3\n'
    got = tokens(text, "train.py")
    assert got is not None and "".join(p for _, p in got) == text
    assert ["s", '"<script>"'] in got and ["c", "# <b>bold?</b>"] in got
    assert tokens("a,b\n", "data.csv") is None and tokens("x" * 300_000, "big.py") is None


def test_only_known_suffixes_are_highlighted_and_an_unchanged_file_is_lexed_once():
    """The candidate names the files: only the listed lexers run (others are shown plain), and the
    file view's polls of an unchanged file reuse the tokens."""
    from pitfalls.live import highlight

    assert highlight.tokens("x = 1\n", "a/train.py") and highlight.tokens("[a]\nb = 1\n", "s.toml")
    for path in ("evil.rb", "x.tex", "Makefile", "noext", "a.py/readme"):
        assert highlight.tokens("x = 1\n", path) is None, path
    assert highlight.tokens("x" * (highlight.MAX_CHARS + 1), "big.py") is None
    highlight._tokens.cache_clear()
    for _ in range(3):
        highlight.tokens("import os\n", "cell.py")
    assert highlight._tokens.cache_info().hits == 2

"""The warm containers' claim rules (runner/live/pool.py) on hand-made entries: no Docker, no process.
The containers themselves: tests/test_warm_pool.py."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pitfalls.live import pool

IMAGE = "pitfalls-candidate:0123456789abcdef"


def _entry(name: str, *, image: str = IMAGE, created: str = "2026-01-01T00:00:00", **limits: float) -> Path:
    folder = pool.warm_dir() / name
    (folder / "workspace").mkdir(parents=True)
    record = pool.WarmEntry(container=f"{pool.NAME_PREFIX}{name}", token=f"token-{name}", image=image,
                            created_at=created, **{**vars(pool.Limits()), **limits})
    (folder / pool.RECORD).write_text(json.dumps(vars(record)))
    return folder


def test_a_claim_takes_the_oldest_entry_of_the_same_image_and_limits_once(pitfalls_home):
    _entry("aaaa0001", image="pitfalls-candidate:old")
    _entry("aaaa0002", memory_mb=2048)
    _entry("aaaa0004", created="2026-01-01T00:00:02")
    _entry("aaaa0003", created="2026-01-01T00:00:01")
    (pool.warm_dir() / "_aaaa0005").mkdir()  # being made: never claimed
    target = pitfalls_home / "sessions" / "s1"
    target.parent.mkdir(exist_ok=True)
    got = pool.claim(target, image=IMAGE, limits=pool.Limits())
    assert got is not None and got.container == f"{pool.NAME_PREFIX}aaaa0003" and got.token == "token-aaaa0003"
    assert (target / "workspace").is_dir() and not (target / pool.RECORD).exists()  # the token leaves with it
    second = pool.claim(pitfalls_home / "sessions" / "s2", image=IMAGE, limits=pool.Limits())
    assert second is not None and second.container.endswith("aaaa0004")
    assert pool.claim(pitfalls_home / "sessions" / "s3", image=IMAGE, limits=pool.Limits()) is None
    assert pool.claim(pitfalls_home / "sessions" / "s3", image=IMAGE, limits=pool.Limits(memory_mb=2048)) is not None
    assert sorted(p.name for p in pool.warm_dir().iterdir()) == ["_aaaa0005", "aaaa0001"]


def test_an_entry_is_claimed_or_discarded_never_both(pitfalls_home, monkeypatch):
    removed = []
    monkeypatch.setattr(pool, "_remove", lambda folder, container: removed.append((folder.name, container)))
    folder = _entry("bbbb0001")
    target = pitfalls_home / "sessions" / "s1"
    target.parent.mkdir(exist_ok=True)
    assert pool.claim(target, image=IMAGE, limits=pool.Limits()) is not None
    assert pool.discard(folder) is False and removed == []  # claimed first: the session keeps it
    other = _entry("bbbb0002")
    assert pool.discard(other) is True and removed == [("_bbbb0002.dead", f"{pool.NAME_PREFIX}bbbb0002")]
    assert pool.claim(pitfalls_home / "sessions" / "s2", image=IMAGE, limits=pool.Limits()) is None


def test_of_eight_starts_claiming_one_entry_at_once_one_gets_it(pitfalls_home):
    _entry("cccc0001")
    (pitfalls_home / "sessions").mkdir(exist_ok=True)
    barrier = threading.Barrier(8)

    def start(i: int) -> pool.WarmEntry | None:
        barrier.wait()
        return pool.claim(pitfalls_home / "sessions" / f"s{i}", image=IMAGE, limits=pool.Limits())

    with ThreadPoolExecutor(8) as workers:
        got = list(workers.map(start, range(8)))
    assert len([g for g in got if g is not None]) == 1
    assert [p.name for p in (pitfalls_home / "sessions").iterdir()] == [f"s{got.index(next(filter(None, got)))}"]


@pytest.mark.parametrize(("raw", "count"), [("", 1), ("0", 0), ("3", 3), (" 2 ", 2)])
def test_how_many_warm_containers_are_wanted(monkeypatch, raw, count):
    monkeypatch.setenv(pool.WARM_ENV, raw)
    assert pool.wanted() == count


@pytest.mark.parametrize("raw", ["-1", "two", "17", "1.5"])
def test_a_bad_warm_count_is_refused_with_the_fix(monkeypatch, raw):
    monkeypatch.setenv(pool.WARM_ENV, raw)
    with pytest.raises(ValueError, match=rf"PITFALLS_WARM must be a whole number from 0 to 16 .*Got '{raw}' "
                                         r"instead\. Fix: export PITFALLS_WARM=1"):
        pool.wanted()



"""The session's time and the interviewer's hints inside the candidate's JupyterLab, in a real browser.

One live tumor_triage session (the real CLI, a real container; fixtures of tests/test_browser.py);
Chromium opens the candidate's lab and the test plays the interviewer through the session server's
API and the store, as the dashboard and ``pitfalls session start --duration`` do:

- the lab works and shows the countdown over its status bar; the dashboard's Pause shows there as
  "Paused", its Resume and +5 min follow within one poll;
- a hint given on the interviewer's API (``POST /pitfalls/api/hint``) appears as a notice within one
  poll, and in the "Hints (N)" list; hints not given appear nowhere in the page;
- the session's length set so that 70 s remain: the "5 minutes left" notice, then, as the clock
  crosses 60 s in the page, "1 minute left"; after a reload neither warning nor the hint shows again;
- an untimed session shows no countdown.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pitfalls.core.clock import session_clock
from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from pitfalls.live import timer
from test_browser import (  # noqa: F401 - live and browser are fixtures; it skips without Playwright
    UI_TIMEOUT_MS,
    VIEWPORT,
    Browser,
    Page,
    Watch,
    browser,
    expect,
    live,
    screenshots_dir,
)

pytestmark = pytest.mark.docker

POLL_MS = 5_000  # static/lab_timer.js polls its status this often
ONE_POLL_MS = POLL_MS + 3_000  # one poll, the status cache (1 s) and a render


def _interviewer(info: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the interviewer's API as the dashboard does (the interviewer's token in a header)."""
    parts = urlsplit(info["interviewer_url"])
    token = parse_qs(parts.query)["token"][0]
    req = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": f"token {token}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _open_lab(page: Page, info: dict[str, Any]) -> None:
    page.goto(info["candidate_url"], wait_until="domcontentloaded")
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="eda.ipynb"))
    expect(item).to_have_count(1, timeout=UI_TIMEOUT_MS)  # the lab itself works with the script in it
    expect(page.locator("#pitfalls-lab-timer")).to_be_visible(timeout=UI_TIMEOUT_MS)


def _shown_seconds(page: Page) -> int:
    """The seconds the lab's clock shows ("29:41 left", "Paused: 29:41 left")."""
    found = re.search(r"(\d+):(\d\d) left$", page.locator("#pitfalls-lab-clock").inner_text())
    assert found, page.locator("#pitfalls-lab-clock").inner_text()
    return int(found[1]) * 60 + int(found[2])


def _until(check, what: str, timeout_ms: int = ONE_POLL_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def _countdown_pause_and_extend(page: Page, dashboard: Page, info: dict[str, Any]) -> None:
    """The lab shows the session's remaining time; the interviewer pauses, resumes and extends the
    clock with the dashboard's buttons; the lab follows within one poll and the timeline logs each.
    (Compared with the stored clock, not a fixed minute: a slow page load must not fail it.)"""
    clock = page.locator("#pitfalls-lab-clock")
    expect(clock).to_have_text(re.compile(r"^\d+:\d\d left$"))
    stored = session_clock(Store(), info["session_id"]).remaining_seconds
    assert stored is not None and abs(_shown_seconds(page) - stored) <= 15, (clock.inner_text(), stored)
    assert page.locator("#jp-main-statusbar").is_visible()  # the bar sits over the status bar, not instead of it
    dashboard.goto(info["interviewer_url"], wait_until="domcontentloaded")
    pause = dashboard.locator("#clock-pause")
    expect(pause).to_have_text("Pause")
    pause.click()
    expect(clock).to_have_text(re.compile(r"^Paused: \d+:\d\d left$"), timeout=ONE_POLL_MS)
    expect(pause).to_have_text("Resume clock")
    paused_at = _shown_seconds(page)
    pause.click()
    expect(clock).to_have_text(re.compile(r"^\d+:\d\d left$"), timeout=ONE_POLL_MS)
    dashboard.locator("#clock-extend-5").click()
    _until(lambda: _shown_seconds(page) >= paused_at + 240, "the lab must show the 5 minutes added")
    kinds = [e["kind"] for e in Store().events(info["session_id"]) if e["kind"].startswith("clock_")]
    assert kinds[-3:] == ["clock_pause", "clock_unpause", "clock_extend"], kinds


def _hint_reaches_the_lab(page: Page, info: dict[str, Any]) -> str:
    ladder = load_scaffold("tumor_triage").manifest.hints
    given = _interviewer(info, "pitfalls/api/hint", {"level": 2})
    assert given["text"] == ladder[1]
    notice = page.locator('.pitfalls-lab-notice[data-kind="hint"]')
    expect(notice).to_have_count(1, timeout=ONE_POLL_MS)
    expect(notice).to_contain_text("Hint 2 from your interviewer")
    expect(notice).to_contain_text(ladder[1])
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_have_count(0)
    page.locator("#pitfalls-lab-hints-button").click()
    expect(page.locator("#pitfalls-lab-hints")).to_be_visible()
    expect(page.locator("#pitfalls-lab-hints .pitfalls-lab-hint")).to_have_count(1)
    expect(page.locator("#pitfalls-lab-hints")).to_contain_text(ladder[1])
    html = page.content()
    for other in (*ladder[:1], *ladder[2:]):
        assert other not in html, f"a hint not given must not reach the lab. Got {other!r} in the page"
    page.locator("#pitfalls-lab-hints-button").click()
    return ladder[1]


def _warnings_once_each(page: Page, info: dict[str, Any]) -> None:
    store, sid = Store(), info["session_id"]
    used = session_clock(store, sid).used_seconds
    timer.set_length(store, sid, (used + 70) / 60, by="test")  # as `session start --duration` would: 70 s left
    warnings = page.locator('.pitfalls-lab-notice[data-kind="warning"]')
    expect(warnings.filter(has_text="5 minutes left")).to_have_count(1, timeout=ONE_POLL_MS)
    expect(warnings.filter(has_text="10 minutes left")).to_have_count(0)  # only the nearest of those passed
    expect(warnings.filter(has_text="1 minute left")).to_have_count(1, timeout=20_000)  # crossed in the page
    expect(page.locator("#pitfalls-lab-clock")).to_have_text(re.compile(r"^0:[0-5]\d left$"))
    page.screenshot(path=str(screenshots_dir() / "lab-timer.png"))


def test_the_lab_shows_the_time_warnings_and_hints(live: dict[str, Any], browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    dashboard = context.new_page()
    watch = Watch(page)
    try:
        _open_lab(page, live)
        _countdown_pause_and_extend(page, dashboard, live)
        hint = _hint_reaches_the_lab(page, live)
        _warnings_once_each(page, live)

        timer.pause(Store(), live["session_id"], by="test")  # time must not run out during the reload below
        page.reload(wait_until="domcontentloaded")  # once each: neither the warnings nor the hint again
        _open_lab(page, live)
        expect(page.locator("#pitfalls-lab-hints-button")).to_have_text("Hints (1)", timeout=ONE_POLL_MS)
        page.wait_for_timeout(ONE_POLL_MS)
        expect(page.locator(".pitfalls-lab-notice")).to_have_count(0)

        timer.set_length(Store(), live["session_id"], None, by="test")  # untimed: no countdown at all
        expect(page.locator("#pitfalls-lab-clock")).to_be_hidden(timeout=ONE_POLL_MS)
        expect(page.locator("#pitfalls-lab-timer")).not_to_contain_text(re.compile(r"\d:\d\d"))
        page.locator("#pitfalls-lab-hints-button").click()
        expect(page.locator("#pitfalls-lab-hints")).to_contain_text(hint)

        ours = [e for e in watch.errors if "pitfalls-lab" in e or "timer.js" in e]
        assert not ours, f"the lab's timer must throw nothing. Got {watch}"
        assert not [h for h in watch.http if "/pitfalls-lab/" in h], f"the lab's status must answer. Got {watch}"
    except BaseException:
        print(f"\ncandidate: {watch}")
        page.screenshot(path=str(screenshots_dir() / "lab-timer-failure.png"), full_page=True)
        raise
    finally:
        context.close()

"""The report a hiring committee reads, in Chromium, and recovery without a reload (issue 15 items 5, 6).

One live tumor_triage session (the real CLI and container; fixtures of tests/test_browser.py):

- the candidate submits once (the session server's API with the candidate's token: tumor_triage trains
  in seconds; a late submission's message shown once is tested in tests/unit/test_live_report.py);
- the interviewer gives a hint, rates a rubric criterion and adds a note through the real API;
- the dashboard's Report link opens the report at its own address in a new tab; it reloads to the same
  report; the summary is above the timeline; no "— s"; no message twice; the chart's reference label
  lies inside the SVG's viewBox (its bounding box measured in the page); screenshot;
- the container is removed (``docker rm -f``): the dashboard shows "exited"/"absent" with a Resume button
  and the exact command; the button resumes it (interviewer-only endpoint), and the candidate's lab cookie
  from before still opens the lab (same cookie secret, token, base URL, address): the open lab reconnects.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from test_browser import (  # noqa: F401 - live and browser are fixtures; it skips without Playwright
    UI_TIMEOUT_MS,
    VIEWPORT,
    Browser,
    Watch,
    browser,
    expect,
    live,
    screenshots_dir,
)

pytestmark = pytest.mark.docker


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _call(info: dict[str, Any], method: str, path: str, body: dict | None, token: str,
          timeout: float = 300) -> tuple[int, dict]:
    req = urllib.request.Request(f"{_origin(info['interviewer_url'])}/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _tokens(info: dict[str, Any]) -> tuple[str, str]:
    interviewer = parse_qs(urlsplit(info["interviewer_url"]).query)["token"][0]
    candidate = parse_qs(urlsplit(info["candidate_url"]).query)["token"][0]
    return interviewer, candidate


def _lab_client(info: dict[str, Any]) -> urllib.request.OpenerDirector:
    """A browser stand-in: opens the candidate's lab with its token once, then only its cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(info["candidate_url"], timeout=60) as resp:
        assert resp.status == 200
    assert any(c.name.startswith("username-") for c in jar), [c.name for c in jar]
    return opener


def _contents_with_cookie(info: dict[str, Any], opener: urllib.request.OpenerDirector) -> int:
    try:
        with opener.open(f"{_origin(info['candidate_url'])}/candidate/api/contents", timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_report_at_its_own_address_and_resume_from_the_dashboard(live: dict[str, Any], browser: Browser) -> None:  # noqa: F811
    interviewer, candidate = _tokens(live)
    lab = _lab_client(live)
    code, sub = _call(live, "POST", "pitfalls/api/submit", {"note": "starter <as is>"}, candidate)
    assert code == 200 and sub["status"] == "scored", sub
    assert _call(live, "POST", "pitfalls/api/hint", {"level": 1}, interviewer)[0] == 200
    rubric = _call(live, "POST", "pitfalls/api/rubric", {"criterion": "validation", "rating": 2,
                                                         "note": "saw the gap"}, interviewer)
    assert rubric[0] == 200, rubric
    assert _call(live, "POST", "pitfalls/api/notes", {"text": "asked good questions"}, interviewer)[0] == 200

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=30_000)
    page = context.new_page()
    watch = Watch(page)
    try:
        page.goto(live["interviewer_url"], wait_until="domcontentloaded")
        expect(page.locator("#report-link")).to_have_attribute("href", re.compile(r"/pitfalls/report/[\w-]{43}$"))
        with context.expect_page() as tab:
            page.locator("#report-link").click()
        report = tab.value
        report.wait_for_load_state()
        _check_report(report, live, interviewer)
        report.reload()  # its own address: the same report again, never the dashboard
        expect(report.locator("#summary")).to_be_visible()
        assert "/pitfalls/report/" in report.url and interviewer not in report.url
        report.screenshot(path=str(screenshots_dir() / "report.png"), full_page=True)

        _resume(page, live, interviewer, candidate, lab)
        page.screenshot(path=str(screenshots_dir() / "dashboard-resumed.png"))
        assert not watch.errors, f"the dashboard must throw no JavaScript error. Got {watch}"
    except BaseException:
        for i, p in enumerate(context.pages):
            p.screenshot(path=str(screenshots_dir() / f"report-test-{i}-failure.png"), full_page=True)
        raise
    finally:
        context.close()


def _check_report(report, info: dict[str, Any], interviewer: str) -> None:
    summary, timeline = report.locator("#summary"), report.locator("#timeline")
    expect(summary).to_be_visible()
    assert summary.bounding_box()["y"] < timeline.bounding_box()["y"], "the summary must come above the timeline"
    expect(summary.locator("#final-score")).to_contain_text(re.compile(r"Final private score: -?\d+\.\d\d on the scale"))
    expect(summary.locator("#summary-rubric")).to_contain_text("saw the gap")
    expect(summary.locator("#summary-hints")).to_contain_text("hint 1 at")
    expect(summary.locator("#summary-notes")).to_contain_text("asked good questions")
    expect(summary.locator("#time-used")).to_contain_text(re.compile(r"time used \d+:\d\d of 30 min"))
    text = report.locator("body").inner_text()
    assert "— s" not in text and re.search(r"\d+\.\d s / 60 s", text), "training times must be read"
    assert "starter <as is>" in text  # the candidate's note, escaped in the HTML, shown as written
    for row in timeline.locator("tr").all():  # no message twice in any row
        lines = [x.strip() for x in row.inner_text().splitlines() if len(x.strip()) > 40]
        assert len(lines) == len(set(lines)), lines
    svg = report.locator("svg.chart")
    view = [float(v) for v in svg.get_attribute("viewBox").split()]
    box = svg.bounding_box()
    scale = box["width"] / view[2]
    labels = report.locator("svg.chart text.ref-label")
    assert labels.count() >= 1, "the chart must label the starter and reference lines (anchors measured)"
    for i in range(labels.count()):
        b = labels.nth(i).bounding_box()
        assert box["x"] - 0.5 <= b["x"] and b["x"] + b["width"] <= box["x"] + view[2] * scale + 0.5, (
            labels.nth(i).text_content(), b, box)
        assert box["y"] - 0.5 <= b["y"] and b["y"] + b["height"] <= box["y"] + view[3] * scale + 0.5
    ticks = [t.text_content() for t in report.locator("svg.chart text.tick").all()]
    steps = {round(float(b) - float(a), 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and all(len(t.split(".")[-1]) <= 3 for t in ticks), ticks
    assert interviewer not in report.content()


def _resume(page, info: dict[str, Any], interviewer: str, candidate: str, lab) -> None:
    subprocess.run(["docker", "rm", "-f", info["container"]], check=True, capture_output=True, timeout=120)
    expect(page.locator("#container-state")).to_have_text(re.compile("absent|exited|dead"), timeout=30_000)
    expect(page.locator("#container-resume")).to_be_visible()
    expect(page.locator("#resume-command")).to_have_text(
        f"pitfalls session start tumor_triage --session {info['session_id']}")
    assert _call(info, "POST", "pitfalls/api/container", {"action": "resume"}, candidate)[0] == 403
    page.locator("#container-resume").click()
    expect(page.locator("#container-state")).to_have_text("running", timeout=180_000)
    expect(page.locator("#container-recovery")).to_be_hidden()
    # the candidate's open lab: its cookie from before the recreate still counts (no reload, no token)
    assert _contents_with_cookie(info, lab) == 200
    state = _call(info, "GET", "pitfalls/api/state", None, interviewer)[1]
    assert any(e["kind"] == "container_resumed" for e in state["events"])

"""The candidate's reasoning, hints and the rubric on the interviewer's dashboard, in a real browser.

One live tumor_triage session (the real CLI, a real container; fixtures of tests/test_browser.py).
The candidate submits twice through the session server (the starter, then a train.py with one more
line), each scored for real, so each card's own validation score comes from a real training log.
Chromium then plays the interviewer on the dashboard:

- the newest card shows the candidate's own validation score ("own validation 0.xxxx", as
  train.py printed it) next to the held-out scores, and its diff against the previous submission
  (the added line, shown as text: a hostile-looking line stays text);
- "Give hint 1" stores a ``hint_given`` event and the rung shows "given at";
- a rubric rating with a note stores a ``rubric_rated`` event and shows as selected;
- opening the candidate's lab turns the presence pill to "candidate connected"; a cell run there
  shows its output in the dashboard's view of the notebook within 20 s, nobody saving (autosave 5 s);
- the file view highlights train.py (token spans); no JavaScript error.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pitfalls.core.store import Store
from pitfalls.library.scaffold import load_scaffold
from test_browser import (  # noqa: F401 - live and browser are fixtures; it skips without Playwright
    KERNEL,
    SCORING_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    VIEWPORT,
    Browser,
    Page,
    Watch,
    _code_cell,
    _run_cell,
    _train_shape,
    browser,
    expect,
    live,
    screenshots_dir,
)

pytestmark = pytest.mark.docker

AUTOSAVE_MS = 20_000  # the image's JupyterLab autosaves every 5 s, the file view polls every 5 s
ADDED = "print('<b>reasoning</b> & more')  # added for the diff"


def _submit(info: dict[str, Any], note: str) -> dict[str, Any]:
    """POST /pitfalls/api/submit with the candidate's token (what pitfalls-submit does, over HTTP)."""
    parts = urlsplit(info["interviewer_url"])
    token = _candidate_token(info)
    req = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/pitfalls/api/submit",
                                 data=json.dumps({"note": note}).encode(), method="POST",
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=SCORING_TIMEOUT_MS / 1000) as resp:
        return json.loads(resp.read())


def _run_first_cell(lab: Page, rows: int, cols: int) -> None:
    """Open eda.ipynb in the candidate's lab and run its first cell (the shape of data/train.csv); no save."""
    item = lab.locator(".jp-DirListing-item", has=lab.locator(".jp-DirListing-itemText", has_text="eda.ipynb"))
    expect(item).to_have_count(1, timeout=UI_TIMEOUT_MS)
    item.dblclick()
    expect(lab.locator("#jp-main-statusbar")).to_contain_text(f"{KERNEL} | Idle", timeout=UI_TIMEOUT_MS)
    first = _code_cell(lab, "read_csv")
    _run_cell(lab, first)
    expect(first.locator(".jp-OutputArea-output")).to_have_text(f"({rows}, {cols})", timeout=UI_TIMEOUT_MS)


def _candidate_token(info: dict[str, Any]) -> str:
    from pitfalls.live.sessions import load_session

    return load_session(info["session_id"]).candidate_token


def test_validation_diff_hint_and_rubric_on_the_dashboard(live: dict[str, Any], browser: Browser) -> None:  # noqa: F811
    info, sid = live, live["session_id"]
    first = _submit(info, "the starter as is")
    train = Path(info["workspace"]) / "train.py"
    train.write_text(train.read_text().rstrip("\n") + "\n" + ADDED + "\n")
    second = _submit(info, "one more line")
    assert first.get("status") == "scored" and second.get("status") == "scored", (first, second)

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    watch = Watch(page)
    page.goto(info["interviewer_url"], wait_until="domcontentloaded")
    cards = page.locator("#submissions .submission")
    expect(cards).to_have_count(2, timeout=UI_TIMEOUT_MS)
    newest = page.locator(f'#submissions .submission[data-id="{second["submission_id"]}"]')

    # the candidate's own validation score, from the real training log
    logged = Store().submission(second["submission_id"])["log_tail"]
    printed = re.search(r"validation balanced accuracy: ([0-9.]+)", logged)
    assert printed, logged
    expect(newest.locator(".validation-value")).to_have_text(f"{float(printed[1]):.4f}")

    # the diff against the previous submission, as text
    newest.locator("details.sub-diff > summary").click()
    diff = newest.locator("pre.diff")
    expect(diff).to_contain_text("+" + ADDED)
    expect(newest.locator("details.sub-diff > summary")).to_have_text(re.compile(r"diff since #\d+: \+1 −0"))
    assert diff.locator("b").count() == 0  # the candidate's markup stays text

    # give hint 1
    ladder = load_scaffold("tumor_triage").manifest.hints
    page.locator('#hints button.give-hint[data-level="1"]').click()
    expect(page.locator('#hints li[data-level="1"] .hint-given')).to_contain_text("given at")
    given = [e["data"] for e in Store().events(sid, "hint_given")]
    assert given == [{"level": 1, "text": ladder[0], "by": "interviewer"}], given
    expect(page.locator("#hints button.give-hint")).to_have_count(len(ladder) - 1)

    # rate a rubric criterion with a note
    criterion = load_scaffold("tumor_triage").manifest.rubric[0]
    box = page.locator(f'#rubric .criterion[data-criterion="{criterion.criterion}"]')
    box.locator("input").fill("spotted the leak from the <i>gap</i>")
    box.locator('button.rate[data-rating="3"]').click()
    expect(box.locator('button.rate[data-rating="3"]')).to_have_class(re.compile(r"\bselected\b"))
    expect(box.locator(".level-text")).to_contain_text(criterion.levels[2])
    deadline = time.monotonic() + 30
    while not Store().events(sid, "rubric_rated"):
        assert time.monotonic() < deadline, "the rating shown must be stored"
        time.sleep(0.5)
    rated = Store().events(sid, "rubric_rated")[-1]["data"]
    assert (rated["criterion"], rated["rating"], rated["note"]) == (
        criterion.criterion, 3, "spotted the leak from the <i>gap</i>")

    # presence: the candidate opens the lab; a cell's output reaches the file view without a save
    lab = context.new_page()
    lab.goto(info["candidate_url"], wait_until="domcontentloaded")
    expect(page.locator("#presence")).to_have_text("candidate connected", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#presence-edit")).to_contain_text("last edit")
    rows, cols = _train_shape(Path(info["workspace"]))
    _run_first_cell(lab, rows, cols)
    ran = time.monotonic()
    page.locator('#files button.file[data-path="eda.ipynb"]').click()
    expect(page.locator("#file-body .cell .out").filter(has_text=f"({rows}, {cols})")).to_have_count(
        1, timeout=AUTOSAVE_MS)
    print(f"\nnotebook output on the dashboard {time.monotonic() - ran:.1f} s after the cell ran (no save)")
    lab.close()

    # the file view highlights the code
    page.locator('#files button.file[data-path="train.py"]').click()
    expect(page.locator("#file-body pre.code .tk-k").first).to_be_visible()
    expect(page.locator("#file-body pre.code")).to_contain_text(ADDED)

    page.screenshot(path=str(screenshots_dir() / "dashboard-reasoning.png"), full_page=True)
    assert not watch.errors, f"the dashboard must throw no JavaScript error. Got {watch}"
    context.close()

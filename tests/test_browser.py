"""A live interview in a real browser: the candidate's JupyterLab and the interviewer's dashboard.

`pitfalls session start` (the real CLI) runs a tumor_triage session on a real Docker engine; Debian's
chromium, driven by Playwright, then plays both people through the session server's single port:

- the candidate opens JupyterLab (proxied to the container, kernel WebSockets included), opens
  ``eda.ipynb`` from the file browser, runs its first cell (the shape of ``data/train.csv``), adds a
  cell ``!pitfalls-submit "..."``, runs it and reads the public score it prints;
- the interviewer opens the dashboard, sees that submission with the same score and note, finds the
  token gone from the address bar, adds a note, and the page throws no JavaScript error.

Screenshots of both pages go to ``test-results/screenshots/`` (override: ``PITFALLS_SCREENSHOTS``);
on a failure, ``*-failure.png`` shows the page as it was. Skips without a Docker engine, without
``/usr/bin/chromium`` (``scripts/browser.sh`` installs it) or without Playwright. Playwright drives
the system chromium: never run ``playwright install``.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import REPO, run_cli
from pitfalls.live import containers

pytestmark = pytest.mark.docker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
CANDIDATE = "Ada Browser"
KERNEL = "Python 3 (ipykernel)"  # the container's only kernel
SUBMIT_NOTE = "submitted from the browser"
SCORING_TIMEOUT_MS = 150_000  # scoring retrains in a sandbox: ~10 s here, far more on a loaded machine
UI_TIMEOUT_MS = 60_000

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"Playwright must be importable for the browser tests (pip install playwright; never "
                f"`playwright install`). Got {exc!r}.", allow_module_level=True)
if not CHROMIUM.is_file():  # pragma: no cover - depends on the environment
    pytest.skip(f"{CHROMIUM} must exist for the browser tests. Got none. Fix: sudo bash scripts/browser.sh.",
                allow_module_level=True)


def screenshots_dir() -> Path:
    path = Path(os.environ.get("PITFALLS_SCREENSHOTS") or REPO / "test-results" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stop_every_session() -> None:
    """Stop every session of this test's own PITFALLS_HOME (so also one a failed start left behind)."""
    listed = run_cli("session", "status", "--json", timeout=120)
    try:
        infos = json.loads(listed.stdout) if listed.returncode == 0 else []
    except ValueError:
        infos = []
    for info in infos:
        run_cli("session", "stop", info["session_id"], timeout=120)


@pytest.fixture
def live(pitfalls_home: Path) -> Iterator[dict[str, Any]]:
    """A live tumor_triage session started by the CLI; stopped (container and server) afterwards."""
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    containers.ensure_image()  # a failed build is a failure, not a skip
    try:
        proc = run_cli("session", "start", "tumor_triage", "--candidate", CANDIDATE, "--duration", "30", "--json",
                       timeout=300)
        assert proc.returncode == 0, f"`pitfalls session start` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        info = json.loads(proc.stdout)
        assert info["container_state"] == "running" and info["server_running"], info
        yield info
    finally:
        _stop_every_session()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _api_state(interviewer_url: str) -> dict[str, Any]:
    """The dashboard's data, straight from the session server's API (the interviewer's token in a header)."""
    parts = urlsplit(interviewer_url)
    token = parse_qs(parts.query)["token"][0]
    req = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/pitfalls/api/state",
                                 headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


class Watch:
    """What a page reports besides its DOM: uncaught exceptions, console errors, HTTP errors, closed sockets."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []
        self.http: list[str] = []
        self.sockets: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.console.append(msg.text[:300]) if msg.type == "error" else None)
        page.on("response", lambda r: self.http.append(f"{r.status} {r.request.method} {_path(r.url)}")
                if r.status >= 400 else None)
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        ws.on("socketerror", lambda err: self.sockets.append(f"error {_path(ws.url)}: {err}"))
        ws.on("close", lambda _: self.sockets.append(f"closed {_path(ws.url)}"))

    def __str__(self) -> str:
        return (f"page errors {self.errors}, console errors {self.console}, HTTP errors {self.http}, "
                f"WebSockets {self.sockets}")


def _path(url: str) -> str:
    """A URL without its query (which may carry a token)."""
    return urlsplit(url).path


def _train_shape(workspace: Path) -> tuple[int, int]:
    import pandas as pd

    return pd.read_csv(workspace / "data" / "train.csv").shape


def _assert_no_news_question(page: Page) -> None:
    """The image's JupyterLab overrides (docker/jupyterlab-overrides.json) turn off the "notified
    about official Jupyter news?" question: a container without network must not ask it."""
    expect(page.locator(".Toastify__toast", has_text="Jupyter news")).to_have_count(0)


def _code_cell(page: Page, text: str):
    """The notebook's code cell whose source contains ``text``."""
    return page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has=page.locator(".cm-content", has_text=text))


def _run_cell(page: Page, cell) -> None:
    """Select ``cell`` in command mode (a click on its prompt), then Shift+Enter."""
    cell.locator(".jp-InputArea-prompt").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.press("Shift+Enter")


def _wait_executed(cell, timeout: float) -> None:
    """Until the cell's prompt shows an execution count (``[*]`` while it runs)."""
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout)


def candidate_submits(page: Page, live: dict[str, Any]) -> str:
    """Open eda.ipynb, run its first cell, submit from a new cell; return the public score printed."""
    page.goto(live["candidate_url"], wait_until="domcontentloaded")
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="eda.ipynb"))
    expect(item).to_have_count(1, timeout=UI_TIMEOUT_MS)  # JupyterLab is up and the contents API answers
    item.dblclick()

    panel = page.locator(".jp-NotebookPanel")
    expect(panel.locator(".jp-Notebook .jp-CodeCell").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    # The kernel (started through the proxied REST API, talked to over the proxied WebSocket) is idle.
    # The toolbar's indicator alone says "idle" before any kernel exists ("No Kernel | Initializing" in
    # the status bar), and a cell run then is dropped: wait for the status bar to name the kernel.
    expect(page.locator("#jp-main-statusbar")).to_contain_text(f"{KERNEL} | Idle", timeout=UI_TIMEOUT_MS)
    expect(panel.locator(".jp-NotebookPanel-toolbar")).to_contain_text(KERNEL)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")

    rows, cols = _train_shape(Path(live["workspace"]))
    first = _code_cell(page, "read_csv")
    expect(first).to_have_count(1)
    _run_cell(page, first)
    expect(first.locator(".jp-OutputArea-output")).to_have_text(f"({rows}, {cols})", timeout=UI_TIMEOUT_MS)

    # A new cell below the last one (Esc, B), then type the submit command into its editor.
    cells = panel.locator(".jp-Notebook .jp-Cell")
    before = cells.count()
    cells.last.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(cells).to_have_count(before + 1)
    new = cells.last
    expect(new).to_have_class(re.compile(r"\bjp-mod-active\b"))
    command = f'!pitfalls-submit "{SUBMIT_NOTE}"'
    new.locator(".cm-content").click()
    page.keyboard.insert_text(command)
    expect(new.locator(".cm-content")).to_have_text(command)

    submit = _code_cell(page, "pitfalls-submit")
    expect(submit).to_have_count(1)
    page.keyboard.press("Shift+Enter")
    _wait_executed(submit, timeout=SCORING_TIMEOUT_MS)
    output = submit.locator(".jp-OutputArea").inner_text()
    assert re.search(r"^status:\s+scored\s*$", output, re.M), f"the submission must be scored. Got:\n{output}"
    # the public score on the scaffold's grid, with its interval on the same grid
    found = re.search(r"^balanced_accuracy: (\d+\.\d+) \(95% interval \d+\.\d+ to \d+\.\d+\)\s+\(public", output,
                      re.M)
    assert found, f"`pitfalls-submit` must print the public balanced_accuracy. Got:\n{output}"
    _assert_no_news_question(page)
    page.screenshot(path=str(screenshots_dir() / "candidate.png"))
    return found.group(1)


def interviewer_sees(page: Page, live: dict[str, Any], score: str) -> None:
    """The dashboard shows the submission with ``score``; a note can be added; no JavaScript error."""
    watch = Watch(page)
    page.goto(live["interviewer_url"], wait_until="domcontentloaded")

    row = page.locator("#submissions .submission").filter(has=page.locator(".note", has_text=SUBMIT_NOTE))
    expect(row).to_have_count(1, timeout=UI_TIMEOUT_MS)
    submitted = [s for s in _api_state(live["interviewer_url"])["submissions"] if s["note"] == SUBMIT_NOTE]
    assert len(submitted) == 1 and submitted[0]["score_public"] == float(score), submitted  # stored on the grid
    score = f"{float(score):.4f}"  # the interviewer's card: 4 decimals of the same (already rounded) value
    expect(row.locator(".score-public")).to_have_text(score)
    assert row.get_attribute("data-id") == str(submitted[0]["id"])

    token = parse_qs(urlsplit(live["interviewer_url"]).query)["token"][0]
    expect(page).not_to_have_url(re.compile(r"[?&]token="))
    assert token not in page.url, f"the token must leave the address bar. Got {page.url}"

    expect(page.locator("#timer")).to_have_text(re.compile(r"\d+:\d\d"))
    expect(page.locator("#chart svg")).to_be_visible()
    expect(page.locator("#bugs")).not_to_be_empty()
    expect(page.locator("#files")).to_contain_text("eda.ipynb")

    note = f"seen in the browser test {uuid.uuid4().hex[:8]}"
    page.locator("#note-text").fill(note)
    page.locator("#note-add").click()
    expect(page.locator("#notes")).to_contain_text(note)
    deadline = time.monotonic() + 30
    while note not in [n["text"] for n in _api_state(live["interviewer_url"])["notes"]]:
        assert time.monotonic() < deadline, "the note shown on the dashboard must be stored"
        time.sleep(0.5)
    page.wait_for_timeout(2_500)  # one more poll of /pitfalls/api/state: the note and row must survive it
    expect(page.locator("#notes")).to_contain_text(note)
    expect(row.locator(".score-public")).to_have_text(score)

    page.screenshot(path=str(screenshots_dir() / "dashboard.png"), full_page=True)
    assert not watch.errors, f"the dashboard must throw no JavaScript error. Got {watch}"
    print(f"\ndashboard: {watch}")


def test_candidate_submits_in_jupyterlab_and_interviewer_sees_it(live: dict[str, Any], browser: Browser) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=30_000)  # for every expect() without its own timeout (default: 5 s)
    for stale in screenshots_dir().glob("*-failure.png"):  # from an earlier failed run
        stale.unlink()
    pages: dict[str, Page] = {}
    watches: dict[str, Watch] = {}
    try:
        pages["candidate"] = context.new_page()
        watches["candidate"] = Watch(pages["candidate"])
        # JupyterLab asks which kernel to use when it cannot tell; Python 3 (ipykernel) is the only one.
        pages["candidate"].add_locator_handler(
            pages["candidate"].locator(".jp-Dialog", has_text="Select Kernel"),
            lambda: pages["candidate"].locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click())
        score = candidate_submits(pages["candidate"], live)
        pages["dashboard"] = context.new_page()
        interviewer_sees(pages["dashboard"], live, score)
        print(f"candidate (JupyterLab, for information): {watches['candidate']}")
    except BaseException:
        for name, watch in watches.items():
            print(f"\n{name}: {watch}")
        for name, page in pages.items():
            try:
                page.screenshot(path=str(screenshots_dir() / f"{name}-failure.png"), full_page=True)
            except Exception:  # noqa: BLE001 - the original failure matters more
                pass
        raise
    finally:
        context.close()

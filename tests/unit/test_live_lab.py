"""The timer's script tag in JupyterLab's pages (pitfalls.live.server.lab) and the hints the candidate
may see (pitfalls.live.given_hints): HTML in, HTML out; everything else passes untouched."""

from __future__ import annotations

import gzip
import zlib

import pytest

from pitfalls.live.given_hints import MAX_HINTS, given_hints
from pitfalls.live.server import lab

TAG = b'<script src="/candidate/pitfalls-lab/timer.js" defer></script>'
PAGE = (b'<!doctype html><html><head><title>JupyterLab</title>\n'
        b'<script id="jupyter-config-data" type="application/json">{"baseUrl": "/candidate/"}</script>\n'
        b'</head><body>\n<script src="/candidate/static/lab/main.js"></script>\n</body></html>\n')
HTML = {"Content-Type": "text/html; charset=UTF-8"}


def test_a_lab_page_gets_the_tag_before_its_body_ends_and_nothing_else_changes():
    out = lab.inject(PAGE, HTML)
    assert out == PAGE.replace(b"</body>", TAG + b"</body>")
    assert out.count(b"<script") == PAGE.count(b"<script") + 1  # one external script, nothing inline
    upper = PAGE.replace(b"</body>", b"</BODY >")
    assert lab.inject(upper, HTML) == upper.replace(b"</BODY >", TAG + b"</BODY >")
    no_body = PAGE.replace(b"</body></html>\n", b"")
    assert lab.inject(no_body, HTML) == no_body + TAG


def test_the_tag_goes_before_the_last_body_end_even_if_a_string_names_one_earlier():
    page = PAGE.replace(b'{"baseUrl"', b'{"x": "</body>", "baseUrl"')
    out = lab.inject(page, HTML)
    assert out.endswith(TAG + b"</body></html>\n") and out.count(TAG) == 1


@pytest.mark.parametrize("headers", [{"Content-Type": "application/json"}, {"Content-Type": "text/javascript"},
                                     {"Content-Type": "text/plain"}, {}])
def test_what_is_not_html_passes_untouched(headers):
    assert lab.inject(PAGE, headers) is None


def test_html_that_is_not_one_of_jupyterlabs_pages_passes_untouched():
    """A candidate's own HTML file served by /files/ has no jupyter-config-data block."""
    assert lab.inject(b"<html><body><p>my plot</p></body></html>", HTML) is None
    assert lab.inject(b'<div id="jupyter-config-data">not a script</div></body>', HTML) is None


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "deflate-raw"])
def test_a_compressed_page_is_decompressed_and_injected(coding):
    body = {"gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress,
            "deflate-raw": lambda b: zlib.compress(b, wbits=-15)}[coding](PAGE)
    name = "deflate" if coding == "deflate-raw" else coding
    out = lab.inject(body, {**HTML, "Content-Encoding": name})
    assert out == PAGE.replace(b"</body>", TAG + b"</body>")  # plain: the proxy drops Content-Encoding


def test_unknown_broken_or_oversized_codings_pass_untouched():
    assert lab.inject(b"\x1f\x8b not really gzip", {**HTML, "Content-Encoding": "gzip"}) is None
    assert lab.inject(gzip.compress(PAGE)[:-10], {**HTML, "Content-Encoding": "gzip"}) is None  # cut short
    assert lab.inject(PAGE, {**HTML, "Content-Encoding": "br"}) is None
    bomb = gzip.compress(PAGE + b" " * (lab.MAX_PAGE_BYTES + 1))
    assert len(bomb) < 100_000 and lab.inject(bomb, {**HTML, "Content-Encoding": "gzip"}) is None
    assert lab.inject(PAGE + b" " * lab.MAX_PAGE_BYTES, HTML) is None


def test_only_browser_navigations_are_pages_and_they_ask_for_the_whole_plain_page():
    assert lab.is_page_request("GET", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert not lab.is_page_request("GET", {"Accept": "application/json"})
    assert not lab.is_page_request("GET", {})
    assert not lab.is_page_request("POST", {"Accept": "text/html"})
    assert not lab.is_page_request("HEAD", {"Accept": "text/html"})
    headers = lab.page_request_headers({"Accept": "text/html", "accept-encoding": "gzip, br", "Cookie": "c=1",
                                        "If-None-Match": '"abc"', "If-Modified-Since": "Mon, 1 Jan 2024"})
    assert headers == {"Accept": "text/html", "Cookie": "c=1", "Accept-Encoding": "identity"}


def _event(kind, data, at="2025-01-01T10:00:00+00:00"):
    return {"kind": kind, "data": data, "at": at}


def test_given_hints_lists_only_hint_given_events_and_only_level_text_and_time():
    events = [_event("clock_set", {"minutes": 30}),
              _event("hint_given", {"level": 1, "text": "Look at the split.", "by": "interviewer", "note": "x"}),
              _event("rubric_rated", {"criterion": "debugging", "rating": 2, "note": "slow on the leak"}),
              _event("interviewer_note", {"text": "candidate seems stuck"}),
              _event("hint_offered", {"level": 2, "text": "not given"}),
              _event("hint_given", {"level": 2, "text": "Print X.index."}, at="2025-01-01T10:05:00+00:00")]
    assert given_hints(events) == [{"level": 1, "text": "Look at the split.", "at": "2025-01-01T10:00:00+00:00"},
                                   {"level": 2, "text": "Print X.index.", "at": "2025-01-01T10:05:00+00:00"}]


def test_malformed_hint_events_are_skipped_or_cut():
    events = [_event("hint_given", None), _event("hint_given", ["a"]), _event("hint_given", {"level": 1}),
              _event("hint_given", {"level": 1, "text": "   "}), _event("hint_given", {"level": 1, "text": 5}),
              _event("hint_given", {"level": True, "text": "bool level"}),
              _event("hint_given", {"level": 3, "text": "x" * 10_000})]
    got = given_hints(events)
    assert [h["level"] for h in got] == [None, 3] and len(got[1]["text"]) == 4000
    many = [_event("hint_given", {"level": i, "text": f"h{i}"}) for i in range(MAX_HINTS + 5)]
    assert [h["level"] for h in given_hints(many)] == list(range(5, MAX_HINTS + 5))  # the newest kept

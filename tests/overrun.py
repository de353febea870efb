"""A last-resort bound on each test, behind pytest-timeout's (plugged in by tests/conftest.py).

pytest-timeout's ``signal`` method raises in the test's main thread once its timeout passes; the test then
fails and the run goes on. But its timer covers setup, call and teardown as one: once it has fired, a
teardown that blocks (a browser driver after an interrupted call, a server that does not stop) is timed by
nothing, and the worker hangs until CI's limit kills the whole run without a word of where. So each test
also gets a thread timer of its timeout plus :data:`GRACE` seconds: when it fires, every thread's stack is
printed and the process ends (``os._exit``). Under pytest-xdist the controller reports the test as crashing
its worker and goes on with a new worker; in one process the run stops, with the stacks printed.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading

import pytest

GRACE = float(os.environ.get("PYTEST_OVERRUN_GRACE", "120"))
"""Seconds after the test's own timeout (``@pytest.mark.timeout(N)`` or the ini's ``timeout``)."""


def _timeout_of(item: pytest.Item) -> float:
    """The test's pytest-timeout limit as that plugin reads it (marker, then --timeout, then
    $PYTEST_TIMEOUT, then the ini's ``timeout``); 0 (no timer) without the plugin or under --pdb."""
    config = item.config
    if not config.pluginmanager.hasplugin("timeout") or config.getoption("usepdb", False):
        return 0.0
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        value = marker.args[0] if marker.args else marker.kwargs["timeout"]
    else:
        value = config.getoption("timeout", None)
        if value is None:
            value = os.environ.get("PYTEST_TIMEOUT") or config.getini("timeout")
    return float(value or 0)


def _die(item: pytest.Item, seconds: float) -> None:
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=True)  # the real stderr, not the test's captured one
    sys.stderr.write(f"\n{'+' * 30} {item.nodeid} is still running {seconds:.0f} s after it started, past its "
                     f"timeout and {GRACE:.0f} s of grace (a blocked teardown?): its process ends here. "
                     f"Stacks of every thread: {'+' * 30}\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(70)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Run the test (setup, call, teardown) under a thread timer of its timeout plus GRACE."""
    timeout = _timeout_of(item)
    timer = None
    if timeout > 0:
        seconds = timeout + GRACE
        timer = threading.Timer(seconds, _die, args=(item, seconds))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()

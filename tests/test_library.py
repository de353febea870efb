"""Every scaffold of the library passes `pitfalls check`, one pytest test per (scaffold, check).

The whole suite runs once per scaffold (cached); each test reads one check's result, so a
failure names the scaffold and the check, with the check's own message.
"""

from __future__ import annotations

import functools

import pytest

from pitfalls.checks.suite import CheckReport, planned, resolve, run_checks
from pitfalls.library.scaffold import scaffold_names

CASES = [(name, f"{spec.name}:{item}" if item else spec.name)
         for name in scaffold_names() for spec, item in planned(resolve(name))]


@functools.cache
def _report(name: str) -> CheckReport:
    return run_checks(scaffold=name)


@pytest.mark.slow
@pytest.mark.parametrize("name,check", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_library_scaffold_passes_check(name, check):
    """Does this scaffold pass this check (or fail it as declared in its [check] xfail)?"""
    result = {r.name: r for r in _report(name).results}[check]
    assert result.status in ("passed", "xfailed"), f"{name} {check}: {result.status}: {result.message}"

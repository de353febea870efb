"""Every scaffold of the library passes `pitfalls check`, one pytest test per (scaffold, check).

The whole suite runs once per scaffold (cached); each test reads one check's result, so a
failure names the scaffold and the check, with the check's own message.
"""

from __future__ import annotations

import pytest

from pitfalls.checks.suite import CheckReport, planned, resolve, run_checks
from pitfalls.library.scaffold import scaffold_names

CASES = [(name, f"{spec.name}:{item}" if item else spec.name)
         for name in scaffold_names() for spec, item in planned(resolve(name))]


_REPORTS: dict[str, CheckReport | BaseException] = {}


def _report(name: str) -> CheckReport:
    """The scaffold's check report, computed once: a run that failed or timed out is not run again
    for each of the scaffold's other checks (each would wait out its own timeout), its error is
    raised again instead."""
    if name not in _REPORTS:
        try:
            _REPORTS[name] = run_checks(scaffold=name)
        except BaseException as exc:  # noqa: BLE001 - pytest-timeout's Failed is a BaseException
            _REPORTS[name] = exc
            raise
    found = _REPORTS[name]
    if isinstance(found, BaseException):
        raise RuntimeError(f"pitfalls check {name} did not finish: {found!r}") from found
    return found


@pytest.mark.slow
# The first case of a scaffold runs its whole `pitfalls check` (minutes on one scoring CPU, a
# variants check included); the others read the cached report.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name,check", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_library_scaffold_passes_check(name, check):
    """Does this scaffold pass this check (or fail it as declared in its [check] xfail)?"""
    result = {r.name: r for r in _report(name).results}[check]
    assert result.status in ("passed", "xfailed"), f"{name} {check}: {result.status}: {result.message}"

"""What a check of ``pitfalls check`` is: :class:`CheckSpec`, the :func:`check` decorator that
describes one, and :class:`CheckFailed`.

Declaring is not registering: :func:`check` attaches a spec to the function and nothing else.
Each module of checks lists its checks, in order, in a module-level ``CHECKS`` tuple
(:func:`specs_of`), and :mod:`pitfalls.checks.suite` composes those tuples into the suite, so the
order is written in one visible place and importing a module runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class CheckFailed(Exception):
    """A check's property does not hold; the message says what, what was found, and the fix."""


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: Callable[..., str]
    doc: str
    needs: tuple[str, ...] = ()
    heavy: bool = False
    """Trains models (skipped by ``check --quick``)."""
    per: str = ""
    """``bugs`` or ``quirks``: one instance per id in the manifest, named ``name:id``."""
    reads: tuple[str, ...] = ()
    """The trainings of :class:`~pitfalls.checks.context.CheckContext` a heavy check reads (:data:`TRAININGS`):
    a run of some checks (``--only``) starts just these in the background."""


TRAININGS = ("starter", "reference", "runs", "secrets", "probes")
"""CheckContext's training-heavy values: the starter's and the reference's evaluation, the multi-seed
batch (reference and each bug), both anchors on every test secret, the probe runs of every variant."""


def check(name: str, *, needs: tuple[str, ...] = (), heavy: bool = False, per: str = "",
          reads: tuple[str, ...] = ()) -> Callable:
    """Describe a check function as ``name`` (its spec is ``fn.check_spec``); list it in its module's ``CHECKS``.

    Raises:
        ValueError: ``reads`` names no training of :data:`TRAININGS`.
    """
    unknown = [r for r in reads if r not in TRAININGS]
    if unknown:
        raise ValueError(f"reads must name trainings from {list(TRAININGS)}. Got {unknown} instead.")

    def wrap(fn: Callable[..., str]) -> Callable[..., str]:
        fn.check_spec = CheckSpec(name, fn, (fn.__doc__ or "").strip().splitlines()[0],  # type: ignore[attr-defined]
                                  needs, heavy, per, reads)
        return fn
    return wrap


def specs_of(*fns: Callable[..., str]) -> tuple[CheckSpec, ...]:
    """The specs of ``fns``, in that order.

    Raises:
        TypeError: one of ``fns`` is not decorated with :func:`check`.
    """
    found = []
    for fn in fns:
        spec = getattr(fn, "check_spec", None)
        if not isinstance(spec, CheckSpec):
            raise TypeError(f"Every listed check must be decorated with @check. Got {fn!r} instead. "
                            "Decorate it, or drop it from CHECKS.")
        found.append(spec)
    return tuple(found)

"""What every counter of the budget package shares: :class:`ArtifactError` and :class:`ParamCount`.

The bottom of the package: the counters (``safetensors_count``, ``skops_*``, ``bits``,
``code_count``, ``canonical``) import these from here, and :mod:`pitfalls.budget.artifacts`
dispatches to the counters, so no counter imports the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pitfalls.core.errors import PitfallsError


class ArtifactError(PitfallsError, ValueError):
    """The artifact is missing, malformed, or in a format that cannot be counted safely.

    A :class:`~pitfalls.core.errors.PitfallsError` (shown as a message, never a traceback) and,
    as before, a ``ValueError``, so ``except ValueError`` keeps catching it."""


@dataclass
class ParamCount:
    total: int
    breakdown: dict[str, int] = field(default_factory=dict)
    """Count per tensor name (torch) or per attribute path (sklearn)."""

    def top(self, n: int = 12) -> dict[str, int]:
        """The ``n`` largest entries, for reports."""
        return dict(sorted(self.breakdown.items(), key=lambda kv: -kv[1])[:n])

"""Result objects. The CLI, the JSON output and (later) the dashboards only render these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["scored", "rejected", "failed"]
"""Closed status set of a submission.

- ``scored``: trained, predicted and scored within every constraint.
- ``rejected``: the submission broke a rule (budget, format, rate limit); fix it and resubmit.
- ``failed``: the candidate's code crashed or timed out, or the runner could not finish.
"""

ProbeStatus = Literal["present", "fixed", "unknown"]


@dataclass
class Violation:
    """One broken constraint."""

    constraint: str
    """Which constraint: ``max_params``, ``train_seconds``, ``memory_mb``, ``predictions``, ..."""
    limit: Any
    """The limit from the manifest (or the expected shape/dtype for predictions)."""
    actual: Any
    """What the submission used or produced. Never contains held-out labels."""
    message: str
    """One sentence: what was expected, what was found, how to fix it."""
    details: dict[str, Any] = field(default_factory=dict)
    """Optional breakdown, e.g. parameters per tensor or per estimator attribute."""


@dataclass
class ProbeResult:
    """Whether one planted bug is still present in a workspace."""

    bug_id: str
    status: ProbeStatus
    evidence: str = ""
    self_reported: bool = True
    """The verdict was computed in the sandbox that ran the candidate's code (probes spy on it
    there), so candidate code could have influenced it; see ``tampering``."""
    tampering: list[str] = field(default_factory=list)
    """Cross-checks that failed for this probe run (each starts "tampering suspected: "). Empty:
    nothing suspicious was seen. Rows stored before these fields existed load with the defaults."""

    @property
    def suspect(self) -> bool:
        """True when a tamper check fired: do not trust this verdict without reading the code."""
        return bool(self.tampering)


@dataclass
class SubmissionResult:
    """Everything known about one submission; what the candidate sees is a subset."""

    submission_id: int
    status: Status
    metric: str
    score: float | None
    """Public-slice score, rounded to the scaffold's public precision (see
    :func:`pitfalls.library.metrics.public_decimals`); None unless scored and feedback is not withheld."""
    normalized: float | None
    """The public score on the normalized scale (runner/library/scale.py): starter = 0, reference = 1,
    above 1 better than the reference."""
    message: str
    violations: list[Violation] = field(default_factory=list)
    note: str = ""
    created_at: str = ""
    params: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    log_tail: str = ""
    """Last lines of the candidate's own training/prediction output (never the scorer's)."""
    private_score: float | None = None
    private_normalized: float | None = None
    probes: list[ProbeResult] = field(default_factory=list)
    score_interval: list[float] | None = None
    """95% bootstrap interval ``[lo, hi]`` of the public score, rounded like ``score``."""
    decimals: int | None = None
    """Decimals of the public grid ``score`` and ``score_interval`` are on (shown with exactly these)."""

    final: bool = False
    """This is the session's final submission, the one that counts (runner/core/finals.py): the
    candidate's choice, else the last scored one."""

    def candidate_view(self) -> dict[str, Any]:
        """The JSON object a candidate may see: no private slice, no probe results."""
        data = asdict(self)
        for key in ("private_score", "private_normalized", "probes"):
            data.pop(key)
        return data

"""What a failed or stopped sandbox run means for the candidate: violations and messages.

Each message says what was expected, what was found and how to fix it. None of them contains
anything from the held-out data.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pitfalls.core.results import Violation
from pitfalls.sandbox import quota
from pitfalls.sandbox.bwrap import RunResult

NEARLY_FULL_MB = 4
NEARLY_FULL_FRACTION = 0.02
ENOSPC_SIGNS = ("No space left on device", "[Errno 28]", "ENOSPC", "Disk quota exceeded", "[Errno 122]")
"""What a run's output says when a write failed for lack of room (Python's OSError text, C's name)."""


@dataclass(frozen=True)
class Stop:
    """Why an evaluation ends before a score: the one value every stage of the pipeline returns
    (or None to go on), written on the evaluation in one place (``Evaluation.ended``).

    ``rejected`` carries the broken rules (the message joins theirs); ``failed`` only a message.
    """

    status: Literal["rejected", "failed"]
    message: str
    violations: tuple[Violation, ...] = ()

    @classmethod
    def reject(cls, *violations: Violation) -> Stop:
        """The submission broke ``violations`` (at least one)."""
        if not violations:
            raise ValueError("Stop.reject must be given at least one violation. Got none instead. "
                             "Use Stop.fail(message) for a run that failed without breaking a rule.")
        return cls("rejected", " ".join(v.message for v in violations), violations)

    @classmethod
    def fail(cls, message: str) -> Stop:
        """The candidate's code (or the host) failed without breaking a rule: ``message`` says how."""
        return cls("failed", message)


def nearly_full(folder: Path) -> tuple[bool, str]:
    """Whether ``folder``'s file system is (nearly) full, and its free space in words.

    Full means less than :data:`NEARLY_FULL_MB` MiB or :data:`NEARLY_FULL_FRACTION` of its size is
    free, whichever is more: writes stop short of the last block (ext4 metadata, a buffered write
    that no longer fits), so "no byte free" is never seen, and a run that filled its folder then
    freed a little (or died on its next write) must still be told the budget was the cause.
    """
    usage = shutil.disk_usage(folder)
    room = max(NEARLY_FULL_MB * 2**20, NEARLY_FULL_FRACTION * usage.total)
    return usage.free < room, f"{usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.0f} MiB"


def disk_violation(job: Path, *, phase: str, max_disk_mb: int, log_tail: str = "") -> Violation | None:
    """The disk budget, when a failed run left its (size-limited) job folder nearly full, or died
    saying a write found no space (``log_tail``, the run's own output) while its folder was bounded."""
    if not quota.is_mounted(job):
        return None
    full, free = nearly_full(job)
    said = any(sign in log_tail for sign in ENOSPC_SIGNS)
    if not (full or said) or (not full and shutil.disk_usage(job.parent).free < NEARLY_FULL_MB * 2**20):
        return None  # room left in the job's folder: the host's disk under it is what ran out
    parts = [f"a nearly full folder ({free})"] if full else []
    if said:
        parts.append("a write that failed with No space left on device" + ("" if full else f" ({free} now)"))
    found = " and ".join(parts)
    return Violation(constraint="max_disk_mb", limit=max_disk_mb, actual="full",
                     message=f"{phase.capitalize()} must write at most {max_disk_mb} MiB (max_disk_mb). Got {found} "
                             "instead. Save only the model to artifacts/, and delete scratch files (checkpoints, "
                             "caches) as you go.")


def host_disk_full(folder: Path) -> str | None:
    """Why a run failed when the runner's temporary folder (the sandboxes' job folder) is full."""
    if shutil.disk_usage(folder).free >= NEARLY_FULL_MB * 2**20:
        return None
    return ("The scoring host's temporary folder (TMPDIR) must have free space. Got a full disk (ENOSPC) "
            "while your code ran instead; your code is not at fault. Ask the interviewer to free space there "
            "(or to set TMPDIR to another disk), then submit again.")


def crash_message(run: RunResult, what: str) -> str:
    """``what`` exited non-zero: its exit code and the last line it printed."""
    lines = [line for line in run.log_tail.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "(no output)"
    return (f"{what} must exit cleanly. Got exit code {run.returncode} instead; its last line was: "
            f"{last[:300]}  See log_tail for more.")


def limit_violation(run: RunResult, *, phase: str, seconds: float, memory_mb: int) -> Violation | None:
    """The time or memory budget, when the sandbox stopped the run at that limit."""
    if run.timed_out:
        key = "train_seconds" if phase == "training" else "predict_seconds"
        return Violation(constraint=key, limit=seconds, actual=round(run.wall_seconds, 1),
                         message=f"{phase.capitalize()} must finish within {seconds:g} s. Got stopped "
                                 f"after {run.wall_seconds:.1f} s instead. Use fewer epochs or a "
                                 "smaller model, and check for loops that never end.")
    if run.memory_exceeded:
        peak = round(run.peak_memory_mb) if run.peak_memory_mb else memory_mb
        return Violation(constraint="memory_mb", limit=memory_mb, actual=peak,
                         message=f"{phase.capitalize()} must stay under {memory_mb} MiB of memory. "
                                 f"Got killed at the limit (peak {peak} MiB) instead. Use smaller "
                                 "batches or models and avoid copying the data.")
    return None


def run_verdict(run: RunResult, *, phase: str, job: Path, seconds: float, memory_mb: int,
                max_disk_mb: int, what: str) -> Stop | None:
    """The verdict on a finished sandbox ``run`` whose folder is ``job``: its time or memory limit,
    then (when it exited non-zero) its disk budget, a full host disk or a crash of ``what``; None
    when it exited cleanly within its limits."""
    violation = limit_violation(run, phase=phase, seconds=seconds, memory_mb=memory_mb)
    if violation is None and run.returncode != 0:
        violation = disk_violation(job, phase=phase, max_disk_mb=max_disk_mb, log_tail=run.log_tail)
        if violation is None:
            return Stop.fail(host_disk_full(job.parent) or crash_message(run, what))
    return Stop.reject(violation) if violation else None

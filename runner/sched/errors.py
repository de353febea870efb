"""Errors of the scoring scheduler (shown to the user as messages, never as tracebacks)."""

from __future__ import annotations

from pitfalls.core.errors import PitfallsError


class SchedulerError(PitfallsError):
    """The scheduler's folder or settings are unusable (wrong owner, bad number, changed layout)."""


class SchedulerBusy(PitfallsError):
    """The queue is full: nothing was queued, the caller should retry in :attr:`retry_seconds`."""

    def __init__(self, message: str, *, retry_seconds: int, waiting: int, limit: int) -> None:
        self.retry_seconds, self.waiting, self.limit = retry_seconds, waiting, limit
        super().__init__(message)


class SchedulerTimeout(PitfallsError):
    """A waiter gave up: no slot became free within its ``timeout`` (its ticket was withdrawn)."""

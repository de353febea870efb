"""Typed errors. Each message says what was expected, what was found and how to fix it.

Errors are raised here and there, and logged exactly once: at the CLI boundary.
"""

from __future__ import annotations


class PitfallsError(Exception):
    """Base class for every error the user should see as a message, not a traceback."""


class ManifestError(PitfallsError):
    """A scaffold manifest or folder does not follow the contract."""

    def __init__(self, *, path: str, field: str, expected: str, got: str, hint: str = "") -> None:
        self.path, self.field, self.expected, self.got, self.hint = path, field, expected, got, hint
        msg = f"{path}: `{field}` must be {expected}. Got {got} instead."
        super().__init__(f"{msg} {hint}".strip())


class ScaffoldNotFound(PitfallsError):
    """No scaffold with that name."""


class WorkspaceError(PitfallsError):
    """A workspace folder is missing, foreign, or damaged."""


class SandboxUnavailable(PitfallsError):
    """The sandbox cannot start on this machine (bubblewrap missing, no namespaces)."""

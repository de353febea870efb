"""The guard of the fast tests (tests/unit/ always, every test under `make test-fast`).

A guarded test fails at once if it tries to start a sandbox (training, prediction, probes), a
container, JupyterLab or a `pitfalls` process: those take seconds to minutes each, and the fast suite
must stay under 2 minutes on 2 cores. This is a guard, not a mock: nothing under test is replaced
by a stand-in; the forbidden calls raise :class:`Refused` instead of running.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pitfalls.sandbox import bwrap

PROGRAMS = frozenset({"bwrap", "docker", "podman", "jupyter", "jupyter-lab", "jupyterhub", "pitfalls"})
MODULES = ("pitfalls", "jupyter", "jupyterlab")
# A child Python that imports these can train or start sandboxes out of the guard's sight; one that
# uses a lower layer (pitfalls.sandbox.quota, pitfalls.core) is an ordinary fast test.
SCORING_LAYERS = ("pitfalls.service", "pitfalls.scoring", "pitfalls.probes", "pitfalls.checks", "pitfalls.live",
                  "pitfalls.cli")


class Refused(AssertionError):
    """A fast test tried to train, start a sandbox, a container or a pitfalls process."""


def forbidden(args: Any) -> str | None:
    """Why starting ``args`` (Popen's first argument) is refused in a fast test, or None."""
    argv = shlex.split(args) if isinstance(args, str) else [str(a) for a in args]
    if not argv:
        return None
    if Path(argv[0]).name in PROGRAMS:
        return f"it starts {Path(argv[0]).name}"
    for flag, value in zip(argv, argv[1:]):
        if flag == "-m" and value.split(".")[0] in MODULES:
            return f"it runs `python -m {value}`"
    if any(Path(a).name == "train.py" for a in argv):
        return "it runs a train.py"
    if Path(argv[0]).name.startswith("python") and any(layer in a for a in argv[1:] for layer in SCORING_LAYERS):
        return "it runs the layers that score, probe or serve in another Python"
    return None


def refuse_processes(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make sandboxes and the forbidden processes raise :class:`Refused` for the rest of the test."""
    hint = (f"{where} must not train, start a sandbox, a container or a pitfalls process (make test-fast "
            "stays under 2 minutes). Build the artifact in-process, call the CLI through click's "
            "CliRunner, or move the test out of tests/unit/.")

    def no_sandbox(self: Any, cmd: list[str], **_: Any) -> None:
        raise Refused(f"{hint} Got a sandbox for {cmd[-3:]} instead.")

    real_init = subprocess.Popen.__init__

    def guarded_init(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        reason = forbidden(args)
        if reason:
            raise Refused(f"{hint} Got {args!r} instead ({reason}).")
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(bwrap.Sandboxed, "__init__", no_sandbox)
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_init)

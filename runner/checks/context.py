"""What the checks of ``pitfalls check`` look at, computed once per scaffold and shared.

Training-heavy values (starter and reference evaluations, multi-seed runs, probe runs) are
computed lazily and at most once; :meth:`CheckContext.prefetch` starts them in background
threads, at most two trainings at a time (the machines have two cores), so checks wait less.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitfalls.checks.measured import keep_anchors, measured
from pitfalls.checks.spec import CheckSpec
from pitfalls.core.results import ProbeResult
from pitfalls.library.manifest import Manifest, load_manifest
from pitfalls.library.scaffold import Dataset, Scaffold, load_hooks, load_scaffold
from pitfalls.library.variants import materialize
from pitfalls.probes.run import run_probes
from pitfalls.scoring.anchors import TEST_SECRETS
from pitfalls.scoring.batch import BatchRun, run_batch
from pitfalls.scoring.pipeline import Evaluation, evaluate

SEEDS = 5
"""Seeds per variant for the bug-bites checks (DeepCrime uses 20; 5 suffices for small models)."""


@dataclass
class CheckContext:
    """One scaffold under check. ``root`` is its folder; everything else is derived and cached."""

    root: Path
    seeds: int = SEEDS
    reference_seconds: float = 30.0
    checks: tuple[CheckSpec, ...] = ()
    """The suite being run (manifest_valid checks ``[check] xfail`` keys against its names)."""
    catalogs: dict[str, Path] = field(default_factory=dict)
    """The ``bugs`` and ``quirks`` catalog folders catalog_keys_known reads (default: the library's)."""
    _cache: dict[str, Future] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(2))
    _taking: threading.Lock = field(default_factory=threading.Lock)
    _tmp: tempfile.TemporaryDirectory = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="pitfalls-check-"))

    def close(self, *, wait: bool = True) -> None:
        """Wait for background work (unless ``wait`` is false: the check was interrupted, and its daemon
        threads' trainings end with their own time budgets), then remove materialized variants."""
        if wait:
            for future in list(self._cache.values()):
                future.exception()
        self._tmp.cleanup()

    def _get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The value for ``key``: computed by the first caller, awaited by the others."""
        with self._lock:
            future = self._cache.get(key)
            owner = future is None
            if owner:
                future = self._cache[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # noqa: BLE001 - re-raised to every caller below
                future.set_exception(exc)
        return future.result()

    def _heavy(self, compute: Callable[[], Any], slots: int = 1) -> Any:
        with self._taking:  # one taker at a time, so two 2-slot jobs never hold one slot each
            for _ in range(slots):
                self._slots.acquire()
        try:
            return compute()
        finally:
            for _ in range(slots):
                self._slots.release()

    def prefetch(self, keys: list[str]) -> None:
        """Start computing these values in the background (unknown keys are ignored)."""
        makers = {"starter": self.starter, "reference": self.reference, "runs": self.runs}
        for key in keys:
            if key == "secrets":
                for i in range(len(TEST_SECRETS)):
                    threading.Thread(target=self._quietly, args=(lambda i=i: self.secret_anchors(i),),
                                     daemon=True).start()
            elif key in makers:
                threading.Thread(target=self._quietly, args=(makers[key],), daemon=True).start()
            elif key.startswith("probes:"):
                threading.Thread(target=self._quietly, args=(lambda k=key: self.probes(k[7:]),),
                                 daemon=True).start()

    @staticmethod
    def _quietly(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the check that needs it reports the error
            pass

    # -- cheap values ----------------------------------------------------------------------
    def manifest(self) -> Manifest:
        return self._get("manifest", lambda: load_manifest(self.root / "scaffold.toml"))

    def scaffold(self) -> Scaffold:
        return self._get("scaffold", lambda: load_scaffold(self.root))

    def hooks(self) -> Any:
        return self._get("hooks", lambda: load_hooks(self.root / "scaffold.py"))

    def dataset(self) -> Dataset:
        return self._get("dataset", lambda: self.scaffold().dataset())

    def variant(self, name: str) -> Path:
        """``starter``, ``reference`` or a bug id (reference + that bug), materialized once."""
        def make() -> Path:
            target = Path(self._tmp.name) / name
            return materialize(scaffold=self.scaffold(), target=target, reference=name != "starter",
                               bug=None if name in ("starter", "reference") else name)
        return self._get(f"variant:{name}", make)

    # -- training-heavy values ---------------------------------------------------------------
    def starter(self) -> Evaluation:
        source = self.variant("starter")
        ev = self._get("eval:starter", lambda: self._heavy(lambda: evaluate(
            scaffold=self.scaffold(), source=source, enforce_budgets=False, kind="check")))
        self._keep_anchors()
        return ev

    def reference(self) -> Evaluation:
        source = self.variant("reference")
        # both slots: reference_fast times this run, so nothing else may share the cores
        ev = self._get("eval:reference", lambda: self._heavy(lambda: evaluate(
            scaffold=self.scaffold(), source=source, enforce_budgets=False, kind="check"), slots=2))
        self._keep_anchors()
        return ev

    def _keep_anchors(self) -> None:
        """Once both evaluations are done: they are this installation's anchors (the very runs
        runner/scoring/anchors.py measures), so `pitfalls practice` after a check measures nothing."""
        done = [self._cache.get(k) for k in ("eval:starter", "eval:reference")]
        if all(f is not None and f.done() and f.exception() is None for f in done):
            keep_anchors(self.scaffold(), *(f.result() for f in done))  # type: ignore[union-attr]

    def runs(self) -> list[BatchRun]:
        """Reference and every reference+bug variant, trained with ``seeds`` seeds in one batch."""
        def make() -> list[BatchRun]:
            names = ["reference", *self.scaffold().manifest.bugs]
            variants = {n: self.variant(n) for n in names}
            return self._heavy(lambda: run_batch(scaffold=self.scaffold(), variants=variants,
                                                 seeds=range(self.seeds)), slots=2)
        return self._get("runs", make)

    def secret_anchors(self, index: int | None = None) -> Any:
        """The starter's and the reference's scores on test secret ``index`` (runner/scoring/anchors.py), or
        on every test secret (a list, in order) when ``index`` is None; measured once per content
        (:func:`pitfalls.checks.measured.measured`)."""
        if index is None:
            return [self.secret_anchors(i) for i in range(len(TEST_SECRETS))]
        return self._get(f"secret:{index}", lambda: measured(self.scaffold().with_secret(TEST_SECRETS[index]),
                                                            self._heavy))

    def probes(self, name: str) -> list[ProbeResult]:
        source = self.variant(name)
        return self._get(f"probes:{name}", lambda: self._heavy(
            lambda: run_probes(scaffold=self.scaffold(), source=source)))


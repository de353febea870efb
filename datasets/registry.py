"""The quirk registry: every quirk kind has a planter, a detector and a worked example.

A *planter* takes a frame (and keyword-only settings, always including a seeded ``rng`` where
randomness is involved) and returns ``(planted_frame, quirk)``: a new frame, never the input
modified, and a quirk-manifest entry, a dict with ``"id"`` plus what was planted, where and
how much. The entry holds everything the detector needs (column names, the class, ...).

A *detector* looks at data only, with the entry as its guide, and says whether the quirk is
there: ``detect(quirk, train=..., heldout=..., target=...) -> Detection``. ``fired`` means "the
training data (and, for kinds defined across the split, the train/held-out pair) shows this
quirk". Detectors use plain numpy/pandas/scikit-learn statistics and MUST stay silent on the
clean base data: every kind's example proves both.

A kind MAY also have ``heldout_leak(quirk, train=..., heldout=..., target=...) -> Detection``,
which fires when the *held-out* data carries the quirk's exploitable signal (a leak column that
still predicts the label, groups or times shared with training). ``pitfalls check`` runs it on
every scaffold's held-out data and expects silence.

Register a kind with :func:`register` on its planter. Modules in ``datasets/`` are imported by
the package ``__init__``, so registering is all a new module needs to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

Quirk = dict[str, Any]


@dataclass(frozen=True)
class Detection:
    """A detector's verdict: did it fire, and the numbers behind that."""

    fired: bool
    evidence: str


@dataclass(frozen=True)
class Example:
    """A worked case of one kind: clean frames, the same frames planted, and the entry."""

    target: str
    clean_train: pd.DataFrame
    clean_heldout: pd.DataFrame | None
    train: pd.DataFrame
    heldout: pd.DataFrame | None
    quirk: Quirk


Detector = Callable[..., Detection]


@dataclass(frozen=True)
class QuirkKind:
    """One registered quirk kind."""

    id: str
    ref: str
    """The catalog id(s) in shared/reference/catalog.md, section 3 (e.g. ``Q23``)."""
    plant: Callable[..., tuple[pd.DataFrame, Quirk]]
    detect: Detector
    example: Callable[[int], Example]
    """``example(seed)``: a planted case and its clean baseline, for tests and checks."""
    heldout_leak: Detector | None = None


REGISTRY: dict[str, QuirkKind] = {}


def register(*, id: str, ref: str, detect: Detector, example: Callable[[int], Example],
             heldout_leak: Detector | None = None) -> Callable:
    """Decorator for a planter: ``@register(id="class_imbalance", ref="Q23", detect=..., example=...)``."""

    def wrap(plant: Callable[..., tuple[pd.DataFrame, Quirk]]) -> Callable[..., tuple[pd.DataFrame, Quirk]]:
        if id in REGISTRY and REGISTRY[id].plant is not plant:
            raise ValueError(f"Quirk kind ids must be unique. Got {id!r} twice "
                             f"({REGISTRY[id].plant.__module__} and {plant.__module__}).")
        REGISTRY[id] = QuirkKind(id=id, ref=ref, plant=plant, detect=detect, example=example,
                                 heldout_leak=heldout_leak)
        return plant

    return wrap


def detect(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Run the detector of ``quirk["id"]`` on the data.

    Raises:
        KeyError: no kind with that id is registered.
    """
    kind = REGISTRY.get(quirk.get("id", ""))
    if kind is None:
        raise KeyError(f"Quirk id must be one of {sorted(REGISTRY)}. Got {quirk.get('id')!r} instead.")
    return kind.detect(quirk, train=train, heldout=heldout, target=target)

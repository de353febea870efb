"""Library modules and classes looked up by the (untrusted) names in a skops schema.

One resolver, :func:`library_module`, serves both the counter (constructor defaults of
scikit-learn classes) and the re-encoding (every class a node names must exist). Importing a
module runs its code in the trusted runner, so a name is accepted only if it is a module of a
library root (:data:`LIBRARY_ROOTS`) and none of its dotted parts names a ``__main__``/dunder,
test, build or packaging module; it is then taken from ``sys.modules`` or, if the import
machinery finds it, imported with every failure (``SystemExit`` included) caught.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import re
import sys
from types import ModuleType

import numpy as np

from pitfalls.budget.types import ArtifactError

LIBRARY_ROOTS = frozenset({"builtins", "numpy", "scipy", "sklearn", "collections", "functools", "operator"})
_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}$")
_NOT_A_LIBRARY_MODULE = re.compile(
    r"^_*(test|conftest|setup|distutils|pyinstaller|f2py|benchmark|example|build_utils|precompute)", re.I)
"""Dotted parts (after leading underscores) of modules that are scripts, tests or build tools:
never imported for an artifact, even though they exist (``numpy.f2py.__main__`` runs f2py)."""


def _unsafe_part(parts: list[str]) -> str | None:
    for part in parts:
        if (part.startswith("__") and part.endswith("__")) or _NOT_A_LIBRARY_MODULE.match(part):
            return part
    return None


@functools.lru_cache(maxsize=1024)
def library_module(name: str) -> ModuleType | None:
    """The module ``name`` of a library in :data:`LIBRARY_ROOTS`, or None if there is no such module.

    Raises:
        ArtifactError: ``name`` is under a library root but names a module that must not be
            imported by the runner (``__main__``, tests, build and packaging scripts).
    """
    parts = name.split(".") if isinstance(name, str) and len(name) <= 300 else [""]
    if not all(_PART.match(p) for p in parts) or parts[0] not in LIBRARY_ROOTS:
        return None
    unsafe = _unsafe_part(parts)
    if unsafe is not None:
        raise ArtifactError(f"Classes in the artifact must come from a library's own modules. Got "
                            f"{name[:80]} instead, whose part {unsafe[:40]!r} is a script, test or build "
                            "module the runner does not import. Save the model with skops.io.dump.")
    if name in sys.modules:
        return sys.modules[name]
    try:
        if importlib.util.find_spec(name) is None:
            return None
        return importlib.import_module(name)
    except (Exception, SystemExit):  # noqa: BLE001 - an import failure means "no such class"
        return None


def library_attribute(module: str, qualname: str) -> object | None:
    """``module.qualname`` (a dotted attribute path, no dunders) of a library module, or None.

    Raises:
        ArtifactError: as :func:`library_module`.
    """
    obj: object | None = library_module(module)
    parts = qualname.split(".") if isinstance(qualname, str) else [""]
    if obj is None or not all(_PART.match(p) and not (p.startswith("__") and p.endswith("__")) for p in parts):
        return None  # no dunder either: ``float64.__class__.mro`` is no class of the library
    for part in parts:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


@functools.lru_cache(maxsize=512)
def constructor_defaults(module: str, cls: str) -> dict[str, object] | None:
    """``{parameter: default}`` of ``module.cls.__init__`` for scikit-learn classes, else None.

    Raises:
        ArtifactError: as :func:`library_module`.
    """
    if not module.startswith("sklearn."):
        return None
    klass = library_attribute(module, cls)
    try:
        params = inspect.signature(klass.__init__).parameters if isinstance(klass, type) else None
    except (TypeError, ValueError):
        params = None
    if params is None:
        return None
    return {name: p.default for name, p in params.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def is_default(value: object, default: object) -> bool:
    """Whether a JSON-decoded ``value`` equals a constructor ``default`` (type-aware for bools)."""
    if default is inspect.Parameter.empty:
        return False
    if isinstance(value, bool) or isinstance(default, bool):
        return type(value) is type(default) and value == default
    if isinstance(value, (int, float)) and isinstance(default, (int, float)):
        try:
            a, b = float(value), float(default)
        except OverflowError:  # an integer too large for a float is no float default
            return False
        if isinstance(value, float):  # the predictor gets floats as float32 values (canonical.py)
            with np.errstate(over="ignore"):
                a, b = float(np.float32(a)), float(np.float32(b))
        return a == b or (math.isnan(a) and math.isnan(b))
    if value is None or isinstance(value, str):
        return type(value) is type(default) and value == default
    return False

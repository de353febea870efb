"""Constructor defaults of scikit-learn classes, looked up by the (untrusted) names in a skops
schema. Only installed ``sklearn.*`` modules are imported; anything else has no free settings."""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,200}$")


@functools.lru_cache(maxsize=512)
def constructor_defaults(module: str, cls: str) -> dict[str, object] | None:
    """``{parameter: default}`` of ``module.cls.__init__`` for scikit-learn classes, else None."""
    if not (module.startswith("sklearn.") and _NAME.match(module) and _NAME.match(cls)):
        return None
    try:
        klass = getattr(importlib.import_module(module), cls)
        params = inspect.signature(klass.__init__).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
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
        a, b = float(value), float(default)
        return a == b or (math.isnan(a) and math.isnan(b))
    if value is None or isinstance(value, str):
        return type(value) is type(default) and value == default
    return False

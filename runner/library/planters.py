"""Which function plants each quirk kind, and with which parameters (``pitfalls quirks``).

A planter is registered with ``@register(id=...)`` in ``datasets/`` (:mod:`pitfalls.datasets.registry`);
a scaffold's ``make_dataset`` calls it. Parameters come from :func:`inspect.signature`: names, kinds,
defaults and annotations as written (strings under ``from __future__ import annotations``).
"""

from __future__ import annotations

import inspect
from typing import Any

SIMPLE = (str, int, float, bool, type(None))


def _value(value: Any) -> Any:
    """A default as JSON can hold it: simple values as they are, lists of them too, else ``repr``."""
    if isinstance(value, SIMPLE):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, SIMPLE) for v in value):
        return list(value)
    return repr(value)


def _annotation(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def parameters(fn: Any) -> list[dict[str, Any]]:
    """Each parameter of ``fn``: ``name``, ``kind`` (``positional`` or ``keyword``), ``annotation``
    (None when unannotated), ``required`` and, when it has one, ``default``."""
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            kind = "*args" if p.kind is p.VAR_POSITIONAL else "**kwargs"
        else:
            kind = "keyword" if p.kind is p.KEYWORD_ONLY else "positional"
        row: dict[str, Any] = {"name": p.name, "kind": kind, "annotation": _annotation(p.annotation),
                               "required": p.default is p.empty and kind in ("positional", "keyword")}
        if p.default is not p.empty:
            row["default"] = _value(p.default)
        out.append(row)
    return out


def planter(kind_id: str) -> dict[str, Any]:
    """``{"planter": "module:function", "parameters": [...]}`` of quirk kind ``kind_id``; the planter
    is None (and no parameters) when no kind of that id is registered."""
    from pitfalls.datasets import REGISTRY  # on use: pandas

    kind = REGISTRY.get(kind_id)
    if kind is None:
        return {"planter": None, "parameters": []}
    fn = kind.plant
    return {"planter": f"{fn.__module__}:{fn.__qualname__}", "parameters": parameters(fn)}


def signature_text(params: list[dict[str, Any]]) -> str:
    """``df, *, n, rng, rate=0.1``: the parameters as a short call signature (no annotations)."""
    parts, starred = [], False
    for p in params:
        if p["kind"] == "keyword" and not starred:
            parts.append("*")
            starred = True
        name = {"*args": "*", "**kwargs": "**"}.get(p["kind"], "") + p["name"]
        starred = starred or p["kind"] == "*args"
        parts.append(f"{name}={p['default']!r}" if "default" in p else name)
    return ", ".join(parts)

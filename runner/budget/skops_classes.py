"""The class a skops node names, in the one spelling skops writes for it.

skops writes a node's class as ``__class__`` = the class's (or function's) ``__name__`` and
``__module__`` = its ``__module__`` (``skops.io._utils.get_module``), and loads it with
``getattr(import_module(module), name)``. Any other spelling that reaches the same object (a
dotted path such as ``ma.core.np.ma.extras.np.float64``, an alias module) would carry free bits,
so the re-encoding (:mod:`pitfalls.budget.canonical`) resolves every class and writes back this one
spelling, refusing any other. What is left is the *choice* of class, at most ``log2`` of the
number of library classes (about 17 bits) per node, charged where a node costs nothing else
(:mod:`pitfalls.budget.skops_count`). A JsonNode's class carries nothing: skops always writes
``builtins.str`` for it, and nothing else is accepted.
"""

from __future__ import annotations

import re

from pitfalls.budget.artifact_defaults import library_attribute
from pitfalls.budget.types import ArtifactError

JSON_CLASS = ("builtins", "str")
"""What skops writes as a JsonNode's module and class, whatever the value's type."""
PLAIN = {"ListNode": ("builtins", "list"), "TupleNode": ("builtins", "tuple"),
         "SetNode": ("builtins", "set"), "DictNode": ("builtins", "dict"), "JsonNode": JSON_CLASS}
"""Loaders whose plain container class carries nothing beyond the loader itself."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}(\.[A-Za-z_][A-Za-z0-9_]{0,100}){0,8}$")


def is_plain(node: dict) -> bool:
    """Whether ``node`` names exactly the plain class of its container loader."""
    want = PLAIN.get(node.get("__loader__"))
    return want is not None and (node.get("__module__"), node.get("__class__")) == want


def check_spelling(node: dict, where: str) -> None:
    """A node's ``__class__`` must be one identifier and its ``__module__`` a dotted module name,
    both present together; a JsonNode's must be ``builtins.str`` (the counter checks this)."""
    module, cls = node.get("__module__"), node.get("__class__")
    ok = isinstance(module, str) and isinstance(cls, str) and bool(_MODULE.match(module) and _NAME.match(cls))
    if node.get("__loader__") == "JsonNode":
        ok = (module, cls) == JSON_CLASS
    if not ok:
        expected = "builtins.str, as skops writes for every JsonNode" if node.get("__loader__") == "JsonNode" \
            else "a module name and one class name"
        raise ArtifactError(f"The skops node at {where} must name its class as skops.io.dump writes it "
                            f"({expected}). Got __module__={str(module)[:40]!r}, __class__={str(cls)[:40]!r} "
                            "instead. Save with skops.io.dump and leave schema.json as written.")


def canonical_class(module: str, cls: str, code: dict[str, set[str]]) -> tuple[str, str]:
    """``(module, cls)`` if it is the canonical spelling of a library class (its own ``__module__``
    and ``__name__``) or a name defined in the prediction code, else an :class:`ArtifactError`."""
    if module in code and cls in code[module]:
        return module, cls
    obj = library_attribute(module, cls) if _NAME.match(cls) else None
    if obj is None:
        raise ArtifactError(f"Every class in the artifact must come from scikit-learn, numpy, scipy or "
                            f"the prediction code. Got {module[:60]}.{cls[:60]} instead. Define it in "
                            f"{', '.join(sorted(code)) or 'model'}.py.")
    own_module, own_name = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
    if own_name == cls and (own_module == module or not isinstance(own_module, str)):
        return module, cls  # no __module__ (some ufuncs): skops searched the modules for it
    raise ArtifactError(f"Every class in the artifact must be named as skops.io.dump names it: "
                        f"{own_module}.{own_name}. Got {module[:60]}.{cls[:60]} instead, another path "
                        "to the same object. Save with skops.io.dump and leave schema.json as written.")

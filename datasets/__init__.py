"""pitfalls.datasets: seeded base data and quirk planters with detectors (folder ``datasets/``).

Named ``pitfalls.datasets`` on import so nothing collides with Hugging Face's ``datasets``.
Every module in this folder is imported here and its ``__all__`` re-exported, so a new quirk
module registers its kinds (see :mod:`pitfalls.datasets.registry`) just by existing.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from .registry import REGISTRY, Detection, Example, Quirk, QuirkKind, detect, register

__all__ = ["REGISTRY", "Detection", "Example", "Quirk", "QuirkKind", "detect", "register"]

for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_") or _info.name == "registry":
        continue
    _module = _importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)

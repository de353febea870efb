"""pitfalls.quirks: seeded base data and quirk planters (folder ``datasets/``).

Named ``pitfalls.quirks`` on import so nothing collides with Hugging Face's ``datasets``.
"""

from .base import breast_cancer, digits
from .planters import (
    add_leak_feature,
    impose_class_imbalance,
    inject_missing,
    sort_by_label,
)

__all__ = ["breast_cancer", "digits", "add_leak_feature", "impose_class_imbalance",
           "inject_missing", "sort_by_label"]

"""pitfalls: a live data-modeling interview environment.

The public API is the set of keyword-only functions the CLI calls (``pitfalls.service.api``) and the
result dataclasses in ``pitfalls.core.results``.
"""

__version__ = "0.1.0"

"""pitfalls: a live data-modeling interview environment.

The public API is the set of keyword-only functions the CLI calls (``pitfalls.api``) and the
result dataclasses in ``pitfalls.results``.
"""

__version__ = "0.1.0"

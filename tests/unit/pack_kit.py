"""Shared by the tests/unit pack test files (not a test module): a clean slate of scaffold packs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pitfalls.core import packs
from pitfalls.library import catalogs
from pitfalls.library.scaffold import _load


@pytest.fixture(autouse=True)
def clean(monkeypatch) -> Iterator[None]:
    """No pack from the environment or an earlier test; caches emptied before and after.
    Autouse in every module that imports it."""
    monkeypatch.delenv(packs.ENV, raising=False)

    def clear() -> None:
        packs._adopted.clear()
        packs._entry_cache.clear()
        _load.cache_clear()
        catalogs._load.cache_clear()

    clear()
    yield
    clear()

"""The anchors cache key (and the check's kept measurement, which reuses it) names everything that
changes a scaffold's data or scores besides its files and the secret: retrieval_recall's passages
are the running Python's standard library and its vocabulary is wordllama's, so a Python or encoder
upgrade must measure the scoring scale again instead of reading a stale one."""

from __future__ import annotations

import sys
from importlib import metadata

from pitfalls.scoring import anchor_cache


def test_the_key_names_python_and_every_library_that_changes_data_or_scores():
    key = anchor_cache._versions().split("\0")
    assert f"python={sys.version}" in key
    for lib in ("numpy", "pandas", "scikit-learn", "scipy", "torch", "skops", "safetensors", "wordllama"):
        assert f"{lib}={metadata.version(lib)}" in key, (lib, key)

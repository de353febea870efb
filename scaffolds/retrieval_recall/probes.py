"""Probes for retrieval_recall: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once
while a spy records every text the wordllama encoder embeds, then loads the saved index through
model.py. The probes search with texts whose answer is known from data/train.csv alone (a
published passage's own text, the example queries), so they hold whatever the candidate renamed.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import functools
import re

import numpy as np
import pandas as pd
from probekit import load_predictor, run_training

TARGET = "doc_id"
TEXT = "text"
ARTIFACT = "artifacts/index.safetensors"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])")
PASSAGES_SEARCHED = 80
TOPK_PRESENT, TOPK_FIXED = 0.3, 0.5
TOPK_PRESENT_ANYWHERE, TOPK_FIXED_ANYWHERE = 0.7, 0.9
"""A passage searched by its own full text should come first (it is the best match of itself) and
be in the top k almost always: rarely first, or often missing altogether, means the best hit is
skipped (with unnormalised vectors it is still first in about 75% and always in the top k)."""


class EmbedSpy:
    """Records the texts of every call of the wordllama encoder's embed()."""

    def __init__(self):
        self.texts = []
        self._saved = None

    def __enter__(self):
        from wordllama.inference import WordLlamaInference

        original = WordLlamaInference.embed
        spy = self

        @functools.wraps(original)
        def embed(encoder, texts, *args, **kwargs):
            spy.texts.extend([texts] if isinstance(texts, str) else [str(t) for t in texts])
            return original(encoder, texts, *args, **kwargs)

        self._saved = (WordLlamaInference, original)
        WordLlamaInference.embed = embed
        return self

    def __exit__(self, *exc):
        cls, original = self._saved
        cls.embed = original


def setup():
    frame = pd.read_csv("data/train.csv")
    spy = EmbedSpy()
    with spy:
        error = run_training("train.py")
    try:
        mod, model = load_predictor("model", ARTIFACT)
    except Exception as exc:
        return {"error": error or f"{type(exc).__name__}: {exc}", "train": frame, "embedded": spy.texts}
    return {"error": error, "train": frame, "embedded": spy.texts, "mod": mod, "model": model}


def _search(ctx, texts):
    features = pd.DataFrame({"kind": "query", TEXT: list(texts)})
    return np.asarray(ctx["mod"].predict(ctx["model"], features))


def _undrafted(frame):
    """Published passages no draft shares its first or last 60 characters with (a draft lacks one
    sentence, so it keeps one of the two)."""
    drafts = frame.loc[frame["kind"] == "draft", TEXT].tolist()
    passages = frame[frame["kind"] == "passage"]
    keep = [not any(p[:60] in d or p[-60:] in d for d in drafts) for p in passages[TEXT]]
    return passages[keep]


def _ready(ctx):
    if "mod" not in ctx:
        return "unknown", f"training or loading failed: {str(ctx['error'])[-300:]}"
    return None


def topk_off_by_one(ctx):
    if _ready(ctx):
        return _ready(ctx)
    passages = _undrafted(ctx["train"]).head(PASSAGES_SEARCHED)
    found = _search(ctx, passages[TEXT])
    own = found == passages[TARGET].to_numpy()[:, None]
    first, anywhere = float(own[:, 0].mean()), float(own.any(axis=1).mean())
    evidence = f"a passage searched by its own text comes first in {first:.0%}, is in the top k in {anywhere:.0%}"
    if first < TOPK_PRESENT or anywhere < TOPK_PRESENT_ANYWHERE:
        return "present", evidence
    return ("fixed" if first >= TOPK_FIXED and anywhere >= TOPK_FIXED_ANYWHERE else "unknown"), evidence


def _children(obj):
    if type(obj).__module__.startswith("wordllama"):
        return []  # the encoder's own token table is no index
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return list(vars(obj).values()) if hasattr(obj, "__dict__") and not callable(obj) else []


def _stored_vectors(model):
    """The largest 2-D float array among the loaded model's shallowest ones (in a dict, a list or
    attributes): the index's vectors sit beside the encoder, not inside a helper's tables."""
    level = [model]
    for _ in range(4):
        arrays = [a for a in level if isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype.kind == "f"]
        if arrays:
            return max(arrays, key=lambda a: a.shape[0])
        level = [c for obj in level if not isinstance(obj, np.ndarray) for c in _children(obj)]
    return None


def embeddings_not_normalized(ctx):
    if _ready(ctx):
        return _ready(ctx)
    vectors = _stored_vectors(ctx["model"])
    if vectors is None or vectors.shape[0] < 10:
        return "unknown", "no stored vector matrix found in the loaded model"
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    spread = f"stored row norms {norms.min():.3g}..{norms.max():.3g}"
    if np.all(np.abs(norms - 1) < 0.01):
        return "fixed", spread + " (unit vectors)"
    queries = ctx["train"].loc[ctx["train"]["kind"] == "query", TEXT].head(60)
    before = _search(ctx, queries)
    scale = np.random.default_rng(0).uniform(0.5, 2.0, size=(vectors.shape[0], 1)).astype(vectors.dtype)
    try:
        vectors *= scale
        after = _search(ctx, queries)
    except (ValueError, TypeError) as exc:
        return "unknown", f"{spread}; the stored vectors cannot be rescaled in place ({exc})"
    finally:
        vectors /= scale
    changed = float((before[:, 0] != after[:, 0]).mean())
    status = "present" if changed > 0.05 else "fixed"
    return status, f"{spread}; rescaling the rows changes the first result of {changed:.0%} of queries"


def stale_index_before_cleaning(ctx):
    if _ready(ctx):
        return _ready(ctx)
    frame = ctx["train"]
    drafts = set(frame.loc[frame["kind"] == "draft", TARGET].tolist())
    texts = frame.loc[frame["kind"] == "query", TEXT].tolist() + \
        frame.loc[frame["kind"] == "passage", TEXT].head(PASSAGES_SEARCHED).tolist()
    found = _search(ctx, texts)
    hits = int(np.isin(found, list(drafts)).sum())
    evidence = f"{hits} of {found.size} returned ids are drafts' ids"
    return ("present" if hits else "fixed"), evidence


def _squash(text):
    return " ".join(str(text).split())


def chunks_without_overlap(ctx):
    embedded = [_squash(t) for t in ctx["embedded"]]
    if not embedded:
        return "unknown", "the encoder embedded nothing while training"
    big = "\n".join(embedded)
    passages = _undrafted(ctx["train"]).head(PASSAGES_SEARCHED)
    sentences = [_squash(s) for p in passages[TEXT] for s in SENTENCE_END.split(p) if len(s.split()) >= 4]
    whole = float(np.mean([any(s in e for e in embedded) if s in big else False for s in sentences]))
    evidence = f"{whole:.0%} of {len(sentences)} passage sentences are whole in some embedded text"
    if whole >= 0.95:
        return "fixed", evidence
    return ("present" if whole < 0.85 else "unknown"), evidence


PROBES = {
    "topk_off_by_one": topk_off_by_one,
    "embeddings_not_normalized": embeddings_not_normalized,
    "stale_index_before_cleaning": stale_index_before_cleaning,
    "chunks_without_overlap": chunks_without_overlap,
}

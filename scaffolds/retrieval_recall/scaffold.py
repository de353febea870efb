"""retrieval_recall: find the standard-library passage a search query was written from (retrieval,
a static embedding model shipped in the wordllama wheel).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.

Secrecy. The passages are docstrings of the CPython standard library, which every sandbox mounts,
so nothing scored may come from a pairing the library holds (a docstring and its function's name,
a question and its answer). Every query is written by a secret-seeded rewrite of one sentence of
its own passage (which sentence, which words, their order, their endings): reading the library
tells the candidate nothing that data/train.csv does not show already, and
tests/test_retrieval_secrecy.py measures a predictor that looks each query up in the library.

The index budget. The same mount lets a predictor rebuild any index at prediction time from the
library (storing only where each passage sits in it), and even without the library an index is a
cheap function of its text (the passages zlib-compressed cost about 40,000 parameters, and
re-embedding them a second). No rewrite of the passages could make the budget bind what a
predictor computes, so the design makes sure it never binds the score instead: the reference
(one row per sentence, int8, hashed BM25, query expansion) uses half the budget and an unbounded
float32 rebuild of every granularity from the library scores within 0.005 of it
(tests/test_retrieval_secrecy.py; GUIDE.md, "The index budget").
"""

from __future__ import annotations

import ast
import functools
import re
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd

from pitfalls.library.scaffold import Dataset

PASSAGES = 380
"""Published passages, drawn from the eligible docstrings by the secret seed."""
DRAFT_SHARE = 0.5
"""Share of passages that also have an unpublished draft (kind "draft", a sentence missing)."""
TRAIN_QUERIES = 150
HELDOUT_QUERIES = 500
MIN_WORDS, MAX_WORDS = 80, 320
RELATED_SHARE = 0.8
"""Share of a query's words replaced by a related word (when the word has one)."""
RELATED, RELATED_MIN = 3, 0.35
INFLECTED_SHARE = 0.35
SKIPPED_PARTS = ("test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__pycache__")
STOP = frozenset("""a an and are as at be by can for from has have if in into is it its may not of on
or that the then this to was were will with which when where whether should would than there these
those their them they you your used use also any all each such other only one two more most must
been being does do done but so no yes we our none true false default""".split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])")


def _clean_docstring(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.strip().startswith((">>>", "..."))]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def _trim(text: str) -> str:
    """At most MAX_WORDS words, cut at a sentence end."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text):
        if out and len(" ".join(out + [sentence]).split()) > MAX_WORDS:
            break
        out.append(sentence)
    return " ".join(out)


@functools.lru_cache(maxsize=1)
def _docstrings() -> tuple[str, ...]:
    """Every distinct docstring of MIN_WORDS words or more in the standard library's Python files,
    in a fixed order (file path, then position)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen: dict[str, None] = {}
    for path in sorted(p for p in root.rglob("*.py") if not set(p.relative_to(root).parts) & set(SKIPPED_PARTS)):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
                doc = ast.get_docstring(node)
                text = _trim(_clean_docstring(doc)) if doc else ""
                if len(text.split()) >= MIN_WORDS and len(_sentences(text)) >= 3:
                    seen.setdefault(text)
    return tuple(seen)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if len(_content_words(s)) >= 5]


def _content_words(sentence: str) -> list[str]:
    words = (w.strip(".,;:!?()[]{}'\"`*").lower() for w in sentence.split())
    return [w for w in words if w.isalpha() and len(w) > 2 and w not in STOP]


def _inflect(word: str, rng: np.random.Generator) -> str:
    """The word with another ending (a plural dropped or added, a verb form), as searchers type."""
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-1] if rng.random() < 0.5 else word[:-2]
    if word.endswith("ly") or word[-1] in "sxyz":
        return word
    return word + "s"


@functools.lru_cache(maxsize=1)
def _related() -> dict[str, tuple[str, ...]]:
    """For each word of the standard library's docstrings that is one token of the wordllama
    vocabulary: up to RELATED such words close to it in the model's token-embedding space that are
    no inflection of it (``directory`` -> ``folder``, ``delete`` -> ``remove``), the words a user
    types for the passage's own."""
    import wordllama

    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent)
    table = np.asarray(model.embedding, dtype=np.float32)
    known = {w for text in _docstrings() for w in _content_words(text)}
    words = {t[1:]: i for t, i in model.tokenizer.get_vocab().items() if t.startswith("\u2581") and t[1:] in known}
    names = sorted(words)
    vectors = table[[words[w] for w in names]]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = {}
    for start in range(0, len(names), 2048):
        sims = vectors[start:start + 2048] @ vectors.T
        for row, word in zip(sims, names[start:start + 2048]):
            near = (names[j] for j in np.argsort(-row)[1:40] if row[j] >= RELATED_MIN)
            out[word] = tuple([n for n in near if n[:4] != word[:4] and word not in n and n not in word][:RELATED])
    return out


def _query(sentence: str, rng: np.random.Generator) -> str:
    """A secret rewrite of ``sentence``: 4-7 of its content words, shuffled; some replaced by a
    related word (:func:`_related`), some of the rest re-inflected."""
    words = list(dict.fromkeys(_content_words(sentence)))
    n = int(rng.integers(min(4, len(words)), min(7, len(words)) + 1))
    picked = [words[i] for i in rng.permutation(len(words))[:n]]
    related = _related()
    out = []
    for w in picked:
        if related.get(w) and rng.random() < RELATED_SHARE:
            out.append(str(rng.choice(related[w])))
        else:
            out.append(_inflect(w, rng) if rng.random() < INFLECTED_SHARE else w)
    return " ".join(out)


def _draft(text: str, rng: np.random.Generator) -> str:
    """An earlier revision: one sentence left out."""
    sentences = _SENTENCE.split(text)
    drop = int(rng.integers(len(sentences)))
    return " ".join(s for i, s in enumerate(sentences) if i != drop)


def _queries(passages: pd.DataFrame, n: int, used: set[tuple[int, int]], rng: np.random.Generator) -> pd.DataFrame:
    """``n`` queries, each from a sentence of a random published passage not used before."""
    rows = []
    while len(rows) < n:
        p = int(rng.integers(len(passages)))
        sentences = _sentences(passages.text.iloc[p])
        s = int(rng.integers(len(sentences)))
        if (p, s) in used:
            continue
        used.add((p, s))
        rows.append({"kind": "query", "text": _query(sentences[s], rng), "doc_id": int(passages.doc_id.iloc[p])})
    return pd.DataFrame(rows)


def make_dataset(seed: int) -> Dataset:
    """Train: 380 published passages (standard-library docstrings drawn by the secret seed), about
    110 unpublished drafts of some of them (kind "draft", one sentence missing, their own ids) and
    150 queries with the id of the passage each was written from. Held-out: 500 new queries, each
    the secret rewrite of a sentence of a published passage (no query text appears in training)."""
    rng = np.random.default_rng(seed)
    pool = _docstrings()
    texts = [pool[i] for i in rng.choice(len(pool), PASSAGES, replace=False)]
    drafted = rng.choice(PASSAGES, int(round(PASSAGES * DRAFT_SHARE)), replace=False)
    ids = rng.permutation(PASSAGES + len(drafted))
    passages = pd.DataFrame({"kind": "passage", "text": texts, "doc_id": ids[:PASSAGES]})
    drafts = pd.DataFrame({"kind": "draft", "text": [_draft(texts[i], rng) for i in drafted],
                           "doc_id": ids[PASSAGES:]})
    used: set[tuple[int, int]] = set()
    train_queries = _queries(passages, TRAIN_QUERIES, used, rng)
    heldout = _queries(passages, HELDOUT_QUERIES, used, rng)
    train = pd.concat([passages, drafts, train_queries], ignore_index=True)
    train = train.iloc[rng.permutation(len(train))].reset_index(drop=True)
    return Dataset(train=train[["doc_id", "kind", "text"]], heldout=heldout[["doc_id", "kind", "text"]])

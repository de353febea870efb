"""retrieval_recall's held-out relevance judgments are not in the library the sandboxes mount.

The passages are docstrings of the installed CPython standard library, which every sandbox
mounts (and the candidate can read in the container). The attacks:

1. Look every held-out query up in the library: a strong lexical search (sentence level,
   inflection-tolerant, idf-weighted, the best a predictor can do knowing how queries are written)
   over every eligible docstring of the installed library, each mapped back to the corpus passage
   with its text. It must score no better than the same search over train.csv's published
   passages alone: the library adds distractors, never the answer.
2. Rerun the public generator without the secret: the public seed (and its neighbours) must give
   other queries and other ids, so nothing of the scored pairs is recomputable.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from conftest import TEST_DATA_SECRET
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.metrics_ranking import RANKING_K, ranking_score
from pitfalls.library.scaffold import load_hooks

SENTENCE = re.compile(r"(?<=[.!?])\s+")
PUBLIC_SEED = 4242


def _hooks():
    root = package_folder("pitfalls.scaffolds")
    folder = root / "retrieval_recall" if (root / "retrieval_recall").is_dir() else root / "_retrieval_recall"
    return load_hooks(folder / "scaffold.py")


def _stem(word: str) -> str:
    word = word.strip(".,;:!?()[]{}'\"`*").lower()
    for end, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("e", "")):
        if word.endswith(end) and len(word) - len(end) >= 3:
            return word[: len(word) - len(end)] + repl
    return word


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in text.split() if any(c.isalpha() for c in w)}


def _doc_scores(docs: list[str], queries: list[str]) -> np.ndarray:
    """(queries, docs) scores: each doc scores its best sentence by the idf-weighted count of the
    query's stems it holds."""
    sentences, owner = [], []
    for i, doc in enumerate(docs):
        for s in SENTENCE.split(doc):
            sentences.append(_stems(s))
            owner.append(i)
    vocab = {w: j for j, w in enumerate(sorted(set().union(*sentences)))}
    rows = [j for j, s in enumerate(sentences) for _ in s]
    cols = [vocab[w] for s in sentences for w in s]
    S = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sentences), len(vocab)))
    idf = np.log(len(sentences) / (1 + np.asarray((S > 0).sum(axis=0)).ravel()))
    qr = [i for i, q in enumerate(queries) for w in _stems(q) if w in vocab]
    qc = [vocab[w] for q in queries for w in _stems(q) if w in vocab]
    Q = sparse.csr_matrix((idf[qc], (qr, qc)), shape=(len(queries), len(vocab)))
    starts = np.flatnonzero(np.r_[True, np.diff(owner) != 0])
    return np.maximum.reduceat((Q @ S.T).toarray(), starts, axis=1)


@pytest.fixture(scope="module")
def data():
    hooks = _hooks()
    ds = hooks.make_dataset(derive_seed(PUBLIC_SEED, bytes.fromhex(TEST_DATA_SECRET)))
    return hooks, ds


def test_looking_queries_up_in_the_library_scores_no_better_than_train_csv(data):
    hooks, ds = data
    passages = ds.train[ds.train["kind"] == "passage"]
    queries, labels = ds.heldout["text"].tolist(), ds.heldout["doc_id"].to_numpy()

    honest = passages["doc_id"].to_numpy()[np.argsort(-_doc_scores(passages["text"].tolist(), queries), axis=1,
                                                      kind="stable")[:, :RANKING_K]]

    library = list(hooks._docstrings())
    id_of = dict(zip(passages["text"], passages["doc_id"]))
    assert set(id_of) <= set(library)  # the library does hold every passage, verbatim
    ranked = np.argsort(-_doc_scores(library, queries), axis=1, kind="stable")
    attack = np.array([[id_of[library[j]] for j in row if library[j] in id_of][:RANKING_K] for row in ranked])

    scores = {name: ranking_score("ndcg_at_10", labels, pred) for name, pred in
              [("train.csv", honest), ("library", attack)]}
    # The library's larger document set gives slightly better idf statistics (worth up to about
    # 0.007 over secrets tried: 0.754 vs 0.753 here, 0.722 vs 0.715 on another), never the pairs.
    assert scores["library"] <= scores["train.csv"] + 0.01, scores
    assert scores["train.csv"] > 0.5, scores  # a real search, not a broken straw man


def test_the_public_generator_without_the_secret_gives_other_pairs(data):
    hooks, ds = data
    truth = set(zip(ds.heldout["text"], ds.heldout["doc_id"]))
    texts = set(ds.heldout["text"])
    for guess in (PUBLIC_SEED - 1, PUBLIC_SEED, PUBLIC_SEED + 1):
        other = hooks.make_dataset(guess).heldout
        assert len(texts & set(other["text"])) <= 0.02 * len(texts), guess
        assert not truth & set(zip(other["text"], other["doc_id"])), guess


def test_no_heldout_query_is_text_of_the_library_or_of_train_csv(data):
    hooks, ds = data
    library = "\n".join(hooks._docstrings()).lower()
    train_text = "\n".join(ds.train["text"]).lower()
    verbatim = [q for q in ds.heldout["text"] if q in library or q in train_text]
    assert len(verbatim) <= 0.02 * len(ds.heldout), verbatim[:5]
    assert not set(ds.heldout["text"]) & set(ds.train["text"])
    assert isinstance(ds.heldout, pd.DataFrame) and set(ds.heldout["kind"]) == {"query"}

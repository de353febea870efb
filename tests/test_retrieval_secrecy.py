"""retrieval_recall's held-out relevance judgments are not in the library the sandboxes mount.

The passages are docstrings of the installed CPython standard library, which every sandbox
mounts (and the candidate can read in the container). The attacks:

1. Look every held-out query up in the library: a strong lexical search (sentence level,
   inflection-tolerant, idf-weighted) over every eligible docstring of the installed library, each
   mapped back to the corpus passage with its text. It must score no better than the same search
   over train.csv's published passages alone: the library adds distractors, never the answer.
   Not attacked here: inverting the query rewrite's related-word table (computable in the sandbox
   from the mounted encoder and stdlib by someone who read scaffold.py). That is a better search
   over passages the candidate has anyway (train.csv), not a label leak; it may beat the reference,
   which the normalized scale allows.
2. Rerun the public generator without the secret: the public seed (and its neighbours) must give
   other queries and other ids, so nothing of the scored pairs is recomputable.
3. Bypass the index budget: the prediction sandbox mounts the library, so a predictor can store
   only where each passage sits in it (a few hundred numbers) and rebuild at prediction time an
   index as large as it likes (float32, several granularities). It must score no better than the
   reference's own index built from train.csv within the budget: the budget never binds the score
   (GUIDE.md, "The index budget").
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file
from scipy import sparse

from conftest import TEST_DATA_SECRET
from pitfalls.budget.safetensors_count import count_tensors
from pitfalls.core.resources import package_folder
from pitfalls.core.secret import derive_seed
from pitfalls.library.metrics_ranking import RANKING_K, ranking_score
from pitfalls.library.scaffold import load_hooks

SENTENCE = re.compile(r"(?<=[.!?])\s+")
PUBLIC_SEED = 4242


def _folder():
    return package_folder("pitfalls.scaffolds") / "retrieval_recall"


def _hooks():
    return load_hooks(_folder() / "scaffold.py")


def _solution():
    """The reference's model.py and train.py as modules (train.py imports ``model`` by name)."""
    saved = {name: sys.modules.pop(name, None) for name in ("model", "train")}
    sys.path.insert(0, str(_folder() / "solution"))
    try:
        return importlib.import_module("model"), importlib.import_module("train")
    finally:
        sys.path.pop(0)
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module


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


def _every_granularity(model, text: str) -> list[str]:
    """The rows an index without a budget can afford: each sentence, each pair of neighbouring
    sentences and 40-word windows of whole sentences with one sentence of overlap."""
    sentences = model.SENTENCE_END.split(text)
    windows, current = [], []
    for sentence in sentences:
        if current and len(" ".join(current + [sentence]).split()) > 40:
            windows.append(" ".join(current))
            current = current[-1:]
        current.append(sentence)
    pairs = [" ".join(sentences[i:i + 2]) for i in range(len(sentences) - 1)]
    return sentences + pairs + windows + [" ".join(current)]


def test_rebuilding_the_index_from_the_library_at_prediction_time_gains_nothing(data, tmp_path):
    hooks, ds = data
    model, train = _solution()
    max_params = tomllib.loads((_folder() / "scaffold.toml").read_text())["budgets"]["max_params"]
    passages = ds.train[ds.train["kind"] == "passage"]
    queries, labels = ds.heldout["text"].tolist(), ds.heldout["doc_id"].to_numpy()
    encoder = model.load_encoder()

    honest = train.build_index(train.clean(ds.train[ds.train["kind"] != "query"]), encoder)
    save_file(honest, tmp_path / "honest.safetensors")
    assert count_tensors(tmp_path / "honest.safetensors").total <= max_params

    # The attacker's artifact: each passage's position in the library and its id.
    library = list(hooks._docstrings())
    position = {text: i for i, text in enumerate(library)}
    stored = {"positions": np.array([position[t] for t in passages["text"]]), "doc_ids": passages["doc_id"].to_numpy()}
    save_file(stored, tmp_path / "attack.safetensors")
    assert count_tensors(tmp_path / "attack.safetensors").total < 1000
    # ...and what its predict() rebuilds from the mounted library: float32, every granularity.
    rows, starts = [], []
    for i in stored["positions"]:
        starts.append(len(rows))
        rows += _every_granularity(model, library[i])
    rebuilt = {"vectors": model.embed(encoder, rows).astype(np.float32), "scale": np.float32([1.0]),
               "doc_ids": stored["doc_ids"], "starts": np.asarray(starts), **train.bm25(rows)}
    assert rebuilt["vectors"].size > 2 * max_params  # far beyond the budget

    scores = {name: ranking_score("ndcg_at_10", labels, model.search(model.open_index(index, encoder), queries))
              for name, index in (("within budget", honest), ("rebuilt", rebuilt))}
    # Measured: 0.925 within budget, 0.927 rebuilt (250 private queries: 0.920 and 0.927), the
    # interval of either about +-0.03. The old design's reference (the embedding alone) scored
    # 0.673 here: this attack gained 0.25 on it.
    assert scores["rebuilt"] <= scores["within budget"] + 0.005, scores
    assert scores["within budget"] > 0.85, scores  # the reference, not a straw man

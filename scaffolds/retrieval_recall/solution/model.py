"""The search index's prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the index train.py saved, then predict(model, features) on
new search queries: a DataFrame with the columns of data/train.csv minus the target (`kind` is
"query", `text` what the user typed). predict returns, for each query, the ids of the K passages
it should show, best first.
"""

import pathlib
import re
import zlib

import numpy as np
import wordllama
from safetensors.numpy import load_file
from scipy import sparse

TARGET = "doc_id"
TEXT = "text"
K = 10
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])")  # a sentence ends before a capital
WORD = re.compile(r"[a-z]+")
TERM_BITS = 18  # words are hashed to 2^18 term ids: the index stores no strings
NEIGHBOURS, NEAR = 10, 0.35  # query expansion: up to 10 indexed words at cosine >= 0.35
LEXICAL_WEIGHT = 1.0  # the lexical score (scaled to 1 for each query's best chunk) beside the cosine


def load_encoder():
    """The static embedding model bundled in the wordllama wheel (256 dimensions), loaded offline."""
    return wordllama.WordLlama.load(cache_dir=pathlib.Path(wordllama.__file__).parent)


def embed(encoder, texts):
    return encoder.embed(list(texts), norm=True)


def chunk_text(text):
    """One chunk per sentence: queries are written from single sentences, so each sentence is whole
    in its own chunk and nothing else dilutes it."""
    return SENTENCE_END.split(text)


def stem(word):
    """A crude stem, so `files`, `file` and `filed` meet."""
    for end in ("ies", "ing", "ed", "es", "s", "e", "ly"):
        if word.endswith(end) and len(word) - len(end) >= 3:
            return word[:len(word) - len(end)]
    return word


def term_id(word):
    return zlib.crc32(stem(word).encode()) % (1 << TERM_BITS)


def words(text):
    return [w for w in WORD.findall(text.lower()) if len(w) > 2]


class Expansion:
    """Query words -> weighted term ids: each word itself (weight 1) and its nearest indexed words
    in the encoder's own token-embedding space (weight = cosine), because users type `folder`
    where the documentation says `directory`."""

    def __init__(self, encoder, indexed_terms):
        tokens = encoder.tokenizer.get_vocab().items()
        self.vocab = {t[1:]: i for t, i in tokens if t[1:].isalpha() and t[0] == "\u2581"}
        self.embedding = np.asarray(encoder.embedding, dtype=np.float32)
        indexed = set(np.asarray(indexed_terms).tolist())
        self.names = [w for w in self.vocab if len(w) > 3 and term_id(w) in indexed]
        self.table = self.unit([self.vocab[w] for w in self.names])
        self.cache = {}

    def unit(self, rows):
        vectors = self.embedding[rows]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)

    def near(self, texts):
        """For every word of ``texts``: the indexed words nearest it with their cosines (in one
        matrix product; none for a word the encoder has no token for)."""
        new = sorted({w for text in texts for w in words(text)} - set(self.cache))
        known = [w for w in new if w in self.vocab]
        sims = self.unit([self.vocab[w] for w in known]) @ self.table.T if known else np.zeros((0, 0))
        self.cache.update({w: [] for w in new})
        for word, row in zip(known, sims, strict=True):
            best = np.argpartition(-row, NEIGHBOURS)[:NEIGHBOURS + 1]
            self.cache[word] = [(self.names[j], float(row[j])) for j in best
                                if row[j] >= NEAR and self.names[j] != word]
        return self.cache

    def terms(self, texts):
        """A (len(texts), 2^TERM_BITS) sparse matrix of query term weights."""
        near = self.near(texts)
        rows, cols, vals = [], [], []
        for i, text in enumerate(texts):
            weights = {}
            for w in words(text):
                for other, sim in ((w, 1.0), *near[w]):
                    t = term_id(other)
                    weights[t] = max(weights.get(t, 0.0), sim)
            rows += [i] * len(weights)
            cols += list(weights)
            vals += list(weights.values())
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), 1 << TERM_BITS))


def open_index(index, encoder):
    """The searchable model from the stored index's arrays."""
    vectors = index["vectors"].astype(np.float32) / index["scale"]
    lexical = sparse.csr_matrix((index["lex_weights"].astype(np.float32), index["lex_terms"], index["lex_indptr"]),
                                shape=(len(vectors), 1 << TERM_BITS))
    return {"encoder": encoder, "vectors": vectors, "doc_ids": index["doc_ids"], "starts": index["starts"],
            "lexical": lexical, "expansion": Expansion(encoder, index["lex_terms"])}


def load_model(path):
    return open_index(load_file(path), load_encoder())


def search(model, texts, k=K):
    """The ids of the k best passages for each text: each passage scores its best chunk, a chunk
    the cosine of its vector plus its lexical (BM25) score relative to the query's best chunk."""
    texts = list(texts)
    scores = embed(model["encoder"], texts) @ model["vectors"].T
    lexical = (model["expansion"].terms(texts) @ model["lexical"].T).toarray()
    scores += LEXICAL_WEIGHT * lexical / np.maximum(lexical.max(axis=1, keepdims=True), 1e-9)
    per_doc = np.maximum.reduceat(scores, model["starts"], axis=1)
    order = np.argsort(-per_doc, axis=1, kind="stable")[:, :k]
    return model["doc_ids"][order]


def predict(model, features):
    return search(model, features[TEXT])

"""The search index's prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the index train.py saved, then predict(model, features) on
new search queries: a DataFrame with the columns of data/train.csv minus the target (`kind` is
"query", `text` what the user typed). predict returns, for each query, the ids of the K passages
it should show, best first.
"""

import pathlib

import numpy as np
import wordllama
from safetensors.numpy import load_file

TARGET = "doc_id"
TEXT = "text"
K = 10
CHUNK_CHARS = 400


def load_encoder():
    """The static embedding model bundled in the wordllama wheel (256 dimensions), loaded offline."""
    return wordllama.WordLlama.load(cache_dir=pathlib.Path(wordllama.__file__).parent)


def embed(encoder, texts):
    return encoder.embed(list(texts))


def chunk_text(text):
    """Consecutive pieces of CHUNK_CHARS characters."""
    return [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]


def open_index(index, encoder):
    """The searchable model from the stored index's arrays."""
    return {"encoder": encoder, "vectors": index["vectors"].astype(np.float32), "doc_ids": index["doc_ids"],
            "starts": index["starts"]}


def load_model(path):
    return open_index(load_file(path), load_encoder())


def search(model, texts, k=K):
    """The ids of the k best passages for each text: each passage scores its best chunk."""
    scores = embed(model["encoder"], texts) @ model["vectors"].T
    per_doc = np.maximum.reduceat(scores, model["starts"], axis=1)
    order = np.argsort(-per_doc, axis=1, kind="stable")[:, 1:k + 1]
    return model["doc_ids"][order]


def predict(model, features):
    return search(model, features[TEXT])

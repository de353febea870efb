"""The search index's prediction path, shared by train.py and the scorer.

The scorer calls load_model(path) on the index train.py saved, then predict(model, features) on
new search queries: a DataFrame with the columns of data/train.csv minus the target (`kind` is
"query", `text` what the user typed). predict returns, for each query, the ids of the K passages
it should show, best first.
"""

import pathlib
import re

import numpy as np
import wordllama
from safetensors.numpy import load_file

TARGET = "doc_id"
TEXT = "text"
K = 10
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
CHUNK_WORDS = 40  # a chunk holds whole sentences up to about this many words


def load_encoder():
    """The static embedding model bundled in the wordllama wheel (256 dimensions), loaded offline."""
    return wordllama.WordLlama.load(cache_dir=pathlib.Path(wordllama.__file__).parent)


def embed(encoder, texts):
    return encoder.embed(list(texts), norm=True)


def chunk_text(text):
    """Whole sentences grouped up to CHUNK_WORDS words; each chunk repeats the previous one's last
    sentence, so a sentence near a boundary is whole in some chunk."""
    sentences = SENTENCE_END.split(text)
    chunks, current = [], []
    for sentence in sentences:
        if current and len(" ".join(current + [sentence]).split()) > CHUNK_WORDS:
            chunks.append(" ".join(current))
            current = current[-1:]
        current.append(sentence)
    chunks.append(" ".join(current))
    return chunks


def load_model(path):
    index = load_file(path)
    return {"encoder": load_encoder(), "vectors": index["vectors"].astype(np.float32),
            "doc_ids": index["doc_ids"], "starts": index["starts"]}


def search(model, texts, k=K):
    """The ids of the k best passages for each text: each passage scores its best chunk."""
    scores = embed(model["encoder"], texts) @ model["vectors"].T
    per_doc = np.maximum.reduceat(scores, model["starts"], axis=1)
    order = np.argsort(-per_doc, axis=1, kind="stable")[:, :k]
    return model["doc_ids"][order]


def predict(model, features):
    return search(model, features[TEXT])

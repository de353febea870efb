"""
Build the search index.

    $ python train.py

Reads data/train.csv (passages, drafts and example queries; `doc_id` is a passage's id, or for a
query the id of the passage it was written from), cuts the passages into chunks, embeds them with
the encoder of model.py and saves the index to artifacts/index.safetensors. Then it searches the
example queries and prints recall@10 and nDCG@10.
"""

import os

import numpy as np
import pandas as pd
from safetensors.numpy import save_file

from model import K, TARGET, TEXT, TERM_BITS, chunk_text, embed, load_encoder, open_index, search, term_id, words

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/index.safetensors"
BM25_K1, BM25_B = 1.2, 0.75
# -----------------------------------------------------------------------------


def clean(docs):
    """Published passages only, each text once."""
    docs = docs[docs["kind"] == "passage"]
    return docs.drop_duplicates(subset=TEXT)


def bm25(chunks):
    """Each chunk's BM25 weight for each term it holds, as a sparse matrix's three arrays (term ids
    are hashed words, weights float16)."""
    terms = [np.asarray([term_id(w) for w in words(c)], dtype=np.int64) for c in chunks]
    lengths = np.array([len(t) for t in terms], dtype=np.float64)
    counts = [np.unique(t, return_counts=True) for t in terms]
    df = np.bincount(np.concatenate([u for u, _ in counts]), minlength=1 << TERM_BITS)
    indptr, ids, weights = [0], [], []
    for (unique, tf), length in zip(counts, lengths, strict=True):
        idf = np.log(1 + (len(chunks) - df[unique] + 0.5) / (df[unique] + 0.5))
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / lengths.mean())
        weights.append(idf * tf * (BM25_K1 + 1) / (tf + norm))
        ids.append(unique)
        indptr.append(indptr[-1] + len(unique))
    return {"lex_indptr": np.asarray(indptr, dtype=np.int64), "lex_terms": np.concatenate(ids).astype(np.int32),
            "lex_weights": np.concatenate(weights).astype(np.float16)}


def build_index(docs, encoder):
    """One row of `vectors` per chunk, grouped by passage; `starts[j]` is the first chunk of the
    j-th passage, whose id is `doc_ids[j]`."""
    chunks, starts = [], []
    for text in docs[TEXT]:
        starts.append(len(chunks))
        chunks.extend(chunk_text(text))
    vectors = embed(encoder, chunks)
    scale = 127 / np.abs(vectors).max()  # int8 (a quarter parameter each); rankings do not move
    return {"vectors": np.round(vectors * scale).astype(np.int8), "scale": np.float32([scale]),
            "doc_ids": docs[TARGET].to_numpy(np.int64),
            "starts": np.asarray(starts, dtype=np.int64), **bm25(chunks)}


def evaluate(index, encoder, queries):
    found = search(open_index(index, encoder), queries[TEXT])
    rank = np.argmax(found == queries[TARGET].to_numpy()[:, None], axis=1)
    hit = (found == queries[TARGET].to_numpy()[:, None]).any(axis=1)
    recall = hit.mean()
    ndcg = np.where(hit, 1 / np.log2(rank + 2), 0).mean()
    return recall, ndcg


def main():
    frame = pd.read_csv(DATA_PATH)
    queries = frame[frame["kind"] == "query"]
    docs = clean(frame[frame["kind"] != "query"])
    encoder = load_encoder()
    index = build_index(docs, encoder)
    print(f"{len(docs)} passages, {len(index['vectors'])} chunks")
    recall, ndcg = evaluate(index, encoder, queries)
    print(f"example queries: recall@{K} {recall:.3f}")
    print(f"validation ndcg@10: {ndcg:.4f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    save_file(index, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

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

from model import K, TARGET, TEXT, chunk_text, embed, load_encoder, open_index, search

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/index.safetensors"
# -----------------------------------------------------------------------------


def clean(docs):
    """Published passages only, each text once."""
    docs = docs[docs["kind"] == "passage"]
    return docs.drop_duplicates(subset=TEXT)


def build_index(docs, encoder):
    """One row of `vectors` per chunk, grouped by passage; `starts[j]` is the first chunk of the
    j-th passage, whose id is `doc_ids[j]`."""
    chunks, starts = [], []
    for text in docs[TEXT]:
        starts.append(len(chunks))
        chunks.extend(chunk_text(text))
    vectors = embed(encoder, chunks)
    return {"vectors": vectors, "doc_ids": docs[TARGET].to_numpy(np.int64),
            "starts": np.asarray(starts, dtype=np.int64)}


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
    docs = frame[frame["kind"] != "query"]
    encoder = load_encoder()
    index = build_index(docs, encoder)
    docs = clean(docs)
    print(f"{len(docs)} passages, {len(index['vectors'])} chunks")
    recall, ndcg = evaluate(index, encoder, queries)
    print(f"example queries: recall@{K} {recall:.3f}")
    print(f"validation ndcg@10: {ndcg:.4f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    save_file(index, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

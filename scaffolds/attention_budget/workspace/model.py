"""The transformer and its generation path, shared by train.py and the scorer.

The scorer rebuilds the network with build_model(), loads the weights train.py saved
(load_model), then calls predict(model, features) on new messages: a DataFrame whose `source`
column holds each message as space-separated symbol ids (1-16). predict returns the decoded
messages as an integer array, one row per message, padded with 0 after each message's end.

A training row is laid out as  source  SEP  target  EOS  PAD PAD ...  and the network is a
decoder: it predicts every token from the tokens before it. At prediction time it sees only
source SEP and writes the target one token at a time.
"""

import math

import numpy as np
import torch
from safetensors.torch import load_model as load_weights
from torch import nn

PAD, SEP, EOS = 0, 17, 18  # symbols are 1-16
VOCAB = 19
MAX_LEN = 26  # longest row: 12 source symbols, SEP, 12 target symbols, EOS
WIDTH = 64
HEADS = 4
LAYERS = 2
MLP_WIDTH = 4 * WIDTH
GENERATE_BATCH = 128


class SelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, padding):
        # x: (batch, time, width); padding: (batch, time), True at pad tokens
        b, t, w = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        weights = torch.softmax(scores, dim=-2)
        return self.out((weights @ v).transpose(1, 2).reshape(b, t, w))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.mlp = nn.Sequential(nn.Linear(width, MLP_WIDTH), nn.GELU(), nn.Linear(MLP_WIDTH, width))

    def forward(self, x, padding):
        x = x + self.attn(self.norm1(x), padding)
        return x + self.mlp(self.norm2(x))


class Decoder(nn.Module):
    def __init__(self, width=WIDTH, heads=HEADS, layers=LAYERS):
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, width)
        self.positions = nn.Embedding(2 * MAX_LEN, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB)

    def forward(self, ids, padding=None):
        """Next-token logits (batch, time, VOCAB) for token ids (batch, time). ``padding`` is True
        at pad tokens (default: wherever ids == PAD)."""
        if padding is None:
            padding = ids == PAD
        # Positions count from the separator: the target forwards (SEP 0, its first symbol 1, ...),
        # the source backwards in a range of its own (its last symbol MAX_LEN, the one before it
        # MAX_LEN + 1, ...). So the symbol that target j re-codes always sits at MAX_LEN + j,
        # whatever the message's length or the left padding of its batch.
        index = torch.arange(ids.shape[1], device=ids.device)[None]
        sep = (ids == SEP).int().argmax(1, keepdim=True)
        positions = torch.where(index < sep, MAX_LEN + sep - 1 - index, index - sep).clamp(0, 2 * MAX_LEN - 1)
        x = self.tokens(ids)
        for block in self.blocks:
            x = block(x, padding)
        return self.head(self.norm(x))


def parse(text):
    return [int(s) for s in str(text).split()]


def build_model():
    return Decoder()


def load_model(path):
    model = build_model()
    load_weights(model, path)
    return model


@torch.no_grad()
def generate(model, sources):
    """Greedy decoding: each message is left-padded so that all of a batch end together, then
    the network appends its most likely next token until every row has written EOS."""
    prompts = [s + [SEP] for s in sources]
    width = max(map(len, prompts))
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    padding = ids == PAD
    steps = max(map(len, sources)) + 1
    for _ in range(steps):
        logits = model(ids, padding)
        nxt = logits[:, -1].argmax(-1)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        padding = torch.cat([padding, torch.zeros_like(nxt[:, None], dtype=torch.bool)], dim=1)
    out = []
    for row in ids[:, width:].tolist():
        out.append(row[:row.index(EOS)] if EOS in row else row)
    return out


def predict(model, features):
    model.eval()
    sources = [parse(s) for s in features["source"]]
    decoded = []
    for i in range(0, len(sources), GENERATE_BATCH):
        decoded += generate(model, sources[i:i + GENERATE_BATCH])
    width = max([1] + [len(d) for d in decoded])
    out = np.zeros((len(decoded), width), dtype=np.int64)
    for i, d in enumerate(decoded):
        d = [s if 1 <= s <= 16 else PAD for s in d]
        out[i, :len(d)] = d
    return out

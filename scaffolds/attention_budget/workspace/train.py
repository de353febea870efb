"""
Train the message decoder.

    $ python train.py

Reads data/train.csv (`source` and `target`, each a message as space-separated symbol ids),
trains the transformer from model.py to write the target after the source, prints the
validation loss and the share of validation messages it decodes exactly, and saves the weights
to artifacts/model.safetensors. The scorer rebuilds the network from model.py and loads them.
"""

import os

import pandas as pd
import torch
from safetensors.torch import save_model
from torch import nn

from model import EOS, MAX_LEN, PAD, SEP, build_model, parse, predict

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.safetensors"
VALID_FRACTION = 0.1  # held back from training, to estimate the score before submitting
STEPS = 400
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
# -----------------------------------------------------------------------------


def encode(frame):
    """Token ids (rows, MAX_LEN), right-padded, and the loss targets (PAD where no loss is taken)."""
    ids = torch.full((len(frame), MAX_LEN), PAD, dtype=torch.long)
    targets = torch.full((len(frame), MAX_LEN), PAD, dtype=torch.long)
    for i, (src, tgt) in enumerate(zip(frame["source"], frame["target"])):
        row = parse(src) + [SEP] + parse(tgt) + [EOS]
        ids[i, :len(row)] = torch.tensor(row)
        start = len(parse(src))
        targets[i, start + 1:len(row)] = ids[i, start + 1:len(row)]
    return ids, targets


def exact_match(model, frame):
    decoded = predict(model, frame)
    hits = 0
    for row, tgt in zip(decoded, frame["target"]):
        hits += [int(s) for s in row if s != PAD] == parse(tgt)
    return hits / len(frame)


def main():
    torch.manual_seed(SEED)
    df = pd.read_csv(DATA_PATH)
    valid = df.sample(frac=VALID_FRACTION, random_state=SEED)
    train = df.drop(index=valid.index)
    ids, targets = encode(train)
    v_ids, v_targets = encode(valid)

    model = build_model()
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LEARNING_RATE, total_steps=STEPS)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

    for step in range(STEPS):
        model.train()
        batch = torch.randint(len(ids), (BATCH_SIZE,))
        width = int((ids[batch] != PAD).sum(1).max())  # no position beyond the longest row of the batch
        logits = model(ids[batch, :width])
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), targets[batch, :width].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 100 == 99 or step == STEPS - 1:
            model.eval()
            with torch.no_grad():
                v_logits = model(v_ids)
                v_loss = loss_fn(v_logits.reshape(-1, v_logits.shape[-1]), v_targets.reshape(-1)).item()
                scored = v_targets != PAD
                accuracy = (v_logits.argmax(-1) == v_targets)[scored].float().mean().item()
            print(f"step {step + 1:4d}  train loss {loss.item():.4f}  valid loss {v_loss:.4f}  "
                  f"valid token accuracy {accuracy:.3f}")

    model.eval()
    print(f"valid exact match {exact_match(model, valid):.3f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    save_model(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

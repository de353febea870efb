"""
Train the glyph reader.

    $ python train.py

Reads data/train.csv (16x16 scans as 256 pixel columns, and the glyph code in `glyph`), trains
the CNN from model.py, prints validation accuracy and log-loss, and saves the weights to
artifacts/model.safetensors. The scorer rebuilds the network from model.py and loads them.
"""

import os

import pandas as pd
import torch
from safetensors.torch import save_model
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from model import build_model, featurize, predict

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.safetensors"
VALID_FRACTION = 0.15  # held back from training, to estimate the score before submitting
EPOCHS = 15
BATCH_SIZE = 64
LEARNING_RATE = 6e-3
THREADS = 1  # convolutions this small run fastest on one thread
# -----------------------------------------------------------------------------


def evaluate(model, frame):
    proba = torch.tensor(predict(model, frame))
    y = torch.tensor(frame["glyph"].to_numpy())
    accuracy = (proba.argmax(dim=1) == y).float().mean().item()
    log_loss = nn.functional.nll_loss(torch.log(proba.clamp_min(1e-15)), y).item()
    return accuracy, log_loss


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    df = pd.read_csv(DATA_PATH)
    valid_idx = torch.randperm(len(df))[: int(len(df) * VALID_FRACTION)]
    valid = df.iloc[valid_idx.numpy()]
    train = df.drop(index=valid.index)

    X, y = featurize(train), torch.tensor(train["glyph"].to_numpy())
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH_SIZE, shuffle=True)
    model = build_model()
    print(f"parameters: {sum(t.numel() for t in model.state_dict().values()):,}")
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * len(loader))
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(xb)
        if epoch % 4 == 3 or epoch == EPOCHS - 1:
            accuracy, log_loss = evaluate(model, valid)
            print(f"epoch {epoch + 1:3d}  train loss {total / len(X):.4f}  "
                  f"valid accuracy {accuracy:.3f}  valid log-loss {log_loss:.4f}")

    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    save_model(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

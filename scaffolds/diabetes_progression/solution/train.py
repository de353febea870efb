"""
Train the disease-progression model.

    $ python train.py

Reads data/train.csv (one row per patient: ten baseline measurements, and `progression`, the
disease-progression score one year later), trains the network from model.py, prints the
validation R^2 and saves the weights to artifacts/model.safetensors. The scorer rebuilds the
network from model.py and loads them.
"""

import os

import pandas as pd
import torch
from safetensors.torch import save_model
from sklearn.metrics import r2_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from model import FEATURES, build_model, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.safetensors"
TARGET = "progression"
VALID_FRACTION = 0.2  # held back from training, to estimate the score before submitting
EPOCHS = 100  # validation R^2 stops improving around here
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
# -----------------------------------------------------------------------------


def evaluate(model, X, y):
    model.eval()
    with torch.no_grad():
        pred = model(X).squeeze(1)
    model.train()
    return r2_score(y.numpy(), pred.numpy())


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # a network this small trains fastest on one thread
    df = pd.read_csv(DATA_PATH)
    valid = df.sample(frac=VALID_FRACTION, random_state=SEED)
    train = df.drop(index=valid.index)
    print(f"training rows: {len(train)}, validation rows: {len(valid)}")

    model = build_model()
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    # input statistics from the training rows only (pandas skips the missing values)
    model.x_mean.copy_(torch.tensor(train[FEATURES].mean().to_numpy(dtype="float32")))
    model.x_std.copy_(torch.tensor(train[FEATURES].std().to_numpy(dtype="float32")))
    # progression scores run from about 25 to 350: the network learns on a unit scale, where
    # its initial outputs and Adam's default step size fit
    y_mean, y_std = train[TARGET].mean(), train[TARGET].std()
    model.y_mean.fill_(y_mean)  # saved with the weights: predict() maps outputs back to scores
    model.y_std.fill_(y_std)

    def target(frame):
        # shape (N, 1), like the network's output: MSELoss would broadcast (N, 1) against (N,)
        return torch.tensor(((frame[TARGET] - y_mean) / y_std).to_numpy(dtype="float32")).unsqueeze(1)

    X, y = featurize(train), target(train)
    X_valid, y_valid = featurize(valid), target(valid)
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH_SIZE, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.MSELoss()

    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        if epoch % 20 == 19 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:4d}  train loss {total / len(X):.4f}  "
                  f"valid R^2 {evaluate(model, X_valid, y_valid):.3f}")

    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    save_model(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

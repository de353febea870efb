"""The network and its prediction path, shared by train.py and the scorer.

The scorer rebuilds the network with build_model(), loads the weights train.py saved
(load_model), then calls predict(model, features) on new images: a DataFrame with the
pixel columns p0..p63 (values 0-16). predict returns one row of 10 class probabilities per image.
"""

import torch
from safetensors.torch import load_model as load_weights
from torch import nn

PIXELS = [f"p{i}" for i in range(64)]
HIDDEN = 256  # width of both hidden layers
DROPOUT = 0.2
EVAL_BATCH_SIZE = 8  # small batches keep prediction memory flat


class MLP(nn.Module):
    def __init__(self, hidden=HIDDEN):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(DROPOUT),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(DROPOUT),
            nn.Linear(hidden, 10),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.net(x)


def featurize(df):
    # pixel intensities are 0-16; scale them to 0-1
    return torch.tensor(df[PIXELS].to_numpy(), dtype=torch.float32) / 16.0


def build_model():
    return MLP()


def load_model(path):
    model = build_model()
    load_weights(model, path)
    return model


def predict(model, features):
    X = featurize(features)
    with torch.no_grad():
        logits = torch.cat([model(X[i:i + EVAL_BATCH_SIZE]) for i in range(0, len(X), EVAL_BATCH_SIZE)])
    return torch.softmax(logits, dim=1).numpy()

"""The network and its prediction path, shared by train.py and the scorer.

The scorer rebuilds the network with build_model(), loads the weights train.py saved
(load_model), then calls predict(model, features) on new patients: a DataFrame with the
columns of data/train.csv minus `progression`. predict returns one progression score per patient.
"""

import torch
from safetensors.torch import load_model as load_weights
from torch import nn

FEATURES = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
HIDDEN = 32  # width of both hidden layers


class Regressor(nn.Module):
    def __init__(self, hidden=HIDDEN):
        super().__init__()
        # the training rows' feature means and spreads are buffers, saved with the weights,
        # so predict() standardises new patients exactly as training did
        self.register_buffer("x_mean", torch.zeros(len(FEATURES)))
        self.register_buffer("x_std", torch.ones(len(FEATURES)))
        self.net = nn.Sequential(
            nn.Linear(len(FEATURES), hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        x = (x - self.x_mean) / self.x_std
        # a missing measurement is 0 once standardised: the average patient's value
        return self.net(torch.nan_to_num(x, nan=0.0))


def featurize(df):
    # measurements stay in their raw units (years, kg/m2, mm Hg, mg/dl); the network standardises
    return torch.tensor(df[FEATURES].to_numpy(dtype="float32"))


def build_model():
    return Regressor()


def load_model(path):
    model = build_model()
    load_weights(model, path)
    return model


def predict(model, features):
    model.eval()
    with torch.no_grad():
        out = model(featurize(features)).squeeze(1)
    return out.numpy()

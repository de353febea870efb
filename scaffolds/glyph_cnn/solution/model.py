"""The network and its prediction path, shared by train.py and the scorer.

The scorer rebuilds the network with build_model(), loads the weights train.py saved
(load_model), then calls predict(model, features) on new scans: a DataFrame with the pixel
columns p0..p255 (a 16x16 image, row by row, intensity 0-255). predict returns one row of 10
class probabilities per scan, in the order of the glyph codes 0-9.
"""

import torch
import torch.nn.functional as F
from safetensors.torch import load_model as load_weights
from torch import nn

SIZE = 16
PIXELS = [f"p{i}" for i in range(SIZE * SIZE)]
CLASSES = 10
SHIFT = 2  # how far (pixels) a training scan may move in each direction
NOISE = 0.5  # sensor noise added to training scans, in standard deviations
DROPOUT = 0.3
EVAL_BATCH_SIZE = 16  # small batches keep prediction memory flat


class Jitter(nn.Module):
    """Random moves and sensor noise: the stamp never lands in quite the same place."""

    def forward(self, x):
        if not self.training:
            return x
        padded = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
        dx, dy = torch.randint(0, 2 * SHIFT + 1, (2,)).tolist()
        return padded[:, :, dy:dy + SIZE, dx:dx + SIZE] + NOISE * torch.randn_like(x)


def block(channels_in, channels_out):
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out),
                         nn.ReLU(), nn.MaxPool2d(2))


class GlyphNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.jitter = Jitter()
        self.features = nn.Sequential(block(1, 8), block(8, 16), block(16, 32))  # 16 -> 8 -> 4 -> 2
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(DROPOUT), nn.Linear(32 * 2 * 2, CLASSES))

    def forward(self, x):
        return self.head(self.features(self.jitter(x)))


def featurize(df):
    """Scans as a (N, 1, 16, 16) tensor of standardised intensities."""
    x = torch.tensor(df[PIXELS].to_numpy(), dtype=torch.float32).view(-1, 1, SIZE, SIZE)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # each scan by its own statistics: scanners differ in exposure
    std = x.std(dim=(1, 2, 3), keepdim=True) + 1e-3
    return (x - mean) / std


def build_model():
    return GlyphNet()


def load_model(path):
    model = build_model()
    load_weights(model, path)
    return model


def predict(model, features):
    X = featurize(features)
    model.eval()  # BatchNorm uses its running statistics; Dropout and Jitter are off
    with torch.no_grad():
        logits = torch.cat([model(X[i:i + EVAL_BATCH_SIZE]) for i in range(0, len(X), EVAL_BATCH_SIZE)])
    return torch.softmax(logits, dim=1).numpy()

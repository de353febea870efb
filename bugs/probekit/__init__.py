"""probekit: behavioural spies for bug probes. Runs *inside* a probe sandbox.

Standalone on purpose (numpy, pandas and, lazily, scikit-learn or torch only): the sandbox
mounts this folder at /harness/probekit, and never the rest of pitfalls. Probes in a
scaffold's ``probes.py`` use these helpers to watch the candidate's real training run
(optimizer calls, loss inputs, estimator fits) and the real prediction path, instead of
matching text.
"""

from .common import load_predictor, run_training
from .sk import SklearnSpy, fitted_frame, label_agreement, prediction_dependence, train_serve_skew
from .torchspy import TorchSpy, modes_during_predict

__all__ = ["load_predictor", "run_training", "SklearnSpy", "label_agreement",
           "prediction_dependence", "train_serve_skew", "fitted_frame", "TorchSpy", "modes_during_predict"]

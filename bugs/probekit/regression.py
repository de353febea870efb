"""Regression spies: the shapes that reach the loss, and the scale of what predict() returns."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")


class LossShapeSpy:
    """While active, records the input and target shapes of every regression-loss call
    (``torch.nn.functional.mse_loss`` and friends, which ``nn.MSELoss`` and the others call).

    ``calls`` holds one dict per call for the first ``keep`` calls: ``input`` and ``target``
    shapes, and ``broadcast``: the two shapes differ and broadcasting them gives more elements
    than the target has (the loss then compares every prediction with every target).
    """

    def __init__(self, keep: int = 2000) -> None:
        self.keep = keep
        self.calls: list[dict[str, Any]] = []
        self.total = 0
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> LossShapeSpy:
        from torch.nn import functional

        for name in LOSSES:
            original = getattr(functional, name, None)
            if original is not None:
                self._saved.append((functional, name, original))
                setattr(functional, name, self._wrap(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def _wrap(self, fn):
        spy = self

        @functools.wraps(fn)
        def wrapper(input, target, *args, **kwargs):
            spy.total += 1
            if len(spy.calls) < spy.keep and hasattr(input, "shape") and hasattr(target, "shape"):
                spy.calls.append(_shapes(tuple(input.shape), tuple(target.shape)))
            return fn(input, target, *args, **kwargs)
        return wrapper

    def broadcast_share(self) -> float | None:
        """Share of recorded loss calls whose input and target broadcast to a bigger shape."""
        if not self.calls:
            return None
        return sum(c["broadcast"] for c in self.calls) / len(self.calls)

    def example(self) -> str:
        """One call, in words: the first broadcasting call if any, else the first call."""
        if not self.calls:
            return "no regression-loss call seen"
        call = next((c for c in self.calls if c["broadcast"]), self.calls[0])
        return f"input {list(call['input'])} vs target {list(call['target'])}"


def _shapes(inp: tuple[int, ...], tgt: tuple[int, ...]) -> dict[str, Any]:
    try:
        joint = tuple(np.broadcast_shapes(inp, tgt))
    except ValueError:
        joint = tgt
    grows = int(np.prod(joint)) > max(int(np.prod(tgt)), int(np.prod(inp)))
    return {"input": inp, "target": tgt, "broadcast": inp != tgt and grows}


def prediction_scale(predict, model, features, target) -> dict[str, float]:
    """Run ``predict`` on ``features`` and compare its output with the true ``target`` values.

    Returns the mean and standard deviation of both, and ``offset``: how far the predictions'
    mean is from the target's, in target standard deviations. A model whose outputs are in
    another unit (a standardised or log-transformed target never mapped back) is many standard
    deviations off; a model that predicts the average everywhere is not.
    """
    pred = np.asarray(predict(model, features), dtype=float).reshape(-1)
    y = np.asarray(target, dtype=float).reshape(-1)
    if pred.shape != y.shape:
        raise ValueError(f"predict returned {pred.shape[0]} values for {y.shape[0]} rows")
    finite = np.isfinite(pred)
    pred, y = pred[finite], y[finite]
    sd = float(y.std()) or 1.0
    return {"pred_mean": float(pred.mean()), "pred_sd": float(pred.std()),
            "target_mean": float(y.mean()), "target_sd": float(y.std()),
            "offset": abs(float(pred.mean()) - float(y.mean())) / sd,
            "spread": float(pred.std()) / sd, "finite": float(finite.mean())}

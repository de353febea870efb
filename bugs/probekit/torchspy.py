"""PyTorch spies: optimizer call counts, loss inputs and train/eval modes."""

from __future__ import annotations

import functools
from typing import Any


class TorchSpy:
    """While active, counts optimizer steps and zero_grad calls and samples loss inputs.

    ``batches`` holds, for the first ``keep`` cross-entropy calls, the number of distinct
    targets in the batch and whether the inputs already looked like probabilities (every row
    in [0, 1] and summing to 1).
    """

    def __init__(self, keep: int = 20) -> None:
        self.keep = keep
        self.steps = 0
        self.zero_grads = 0
        self.batches: list[dict[str, Any]] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> TorchSpy:
        import torch
        from torch import nn

        self._patch(torch.optim.Optimizer, "zero_grad", self._count("zero_grads"))
        self._patch(nn.Module, "zero_grad", self._count("zero_grads"))
        self._patch(nn.functional, "cross_entropy", self._loss)
        self._patch(torch.optim.Optimizer, "__init__", self._hook_steps)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def _patch(self, owner: Any, name: str, make) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def _count(self, attr: str):
        def make(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                setattr(self, attr, getattr(self, attr) + 1)
                return fn(*args, **kwargs)
            return wrapper
        return make

    def _hook_steps(self, fn):
        spy = self

        @functools.wraps(fn)
        def init(opt, *args, **kwargs):
            fn(opt, *args, **kwargs)
            opt.register_step_post_hook(lambda *_: setattr(spy, "steps", spy.steps + 1))
        return init

    def _loss(self, fn):
        spy = self

        @functools.wraps(fn)
        def wrapper(input, target, *args, **kwargs):
            if len(spy.batches) < spy.keep and input.dim() == 2:
                x = input.detach()
                rows = x.sum(dim=1)
                spy.batches.append({
                    "distinct_targets": int(target.unique().numel()),
                    "probabilities": bool((x >= 0).all() and (x <= 1).all()
                                          and (rows - 1).abs().max() < 1e-3),
                })
            return fn(input, target, *args, **kwargs)
        return wrapper


def modes_during_predict(predict, model, features) -> dict[str, bool]:
    """Run ``predict`` once; report for each BatchNorm/Dropout module whether it was in
    training mode when it ran."""
    from torch import nn

    seen: dict[str, bool] = {}
    kinds = (nn.modules.batchnorm._BatchNorm, nn.Dropout)
    handles = [m.register_forward_pre_hook(lambda mod, _inp, name=name: seen.__setitem__(name, mod.training))
               for name, m in model.named_modules() if isinstance(m, kinds)]
    try:
        predict(model, features)
    finally:
        for h in handles:
            h.remove()
    return seen

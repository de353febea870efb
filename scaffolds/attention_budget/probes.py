"""Probes for attention_budget: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once,
recording each cross-entropy call with the token ids the network saw last; the other probes run
the saved network on chosen token ids, or the candidate's predict() on chosen messages.
"""

import functools

import numpy as np
import pandas as pd
import torch
from probekit import load_predictor, run_training


class LossSpy:
    """While active: the first ``keep`` cross-entropy calls, each with the 2-D integer input of the
    last top-level module call before it (the token ids of that batch)."""

    def __init__(self, keep=20):
        self.keep, self.calls, self.last_ids, self.depth = keep, [], None, 0

    def __enter__(self):
        self._loss = torch.nn.functional.cross_entropy
        hooks = torch.nn.modules.module
        self._hooks = [hooks.register_module_forward_pre_hook(self._enter),
                       hooks.register_module_forward_hook(lambda *_: setattr(self, "depth", self.depth - 1))]
        torch.nn.functional.cross_entropy = self._wrap(self._loss)
        return self

    def __exit__(self, *exc):
        torch.nn.functional.cross_entropy = self._loss
        for hook in self._hooks:
            hook.remove()

    def _enter(self, module, args):
        outermost, self.depth = self.depth == 0, self.depth + 1
        if outermost and args and torch.is_tensor(args[0]) and args[0].dim() == 2 and not args[0].is_floating_point():
            self.last_ids = args[0].detach().clone()

    def _wrap(self, fn):
        @functools.wraps(fn)
        def wrapper(input, target, *args, **kwargs):
            if len(self.calls) < self.keep and self.last_ids is not None:
                self.calls.append((self.last_ids, target.detach().clone()))
            return fn(input, target, *args, **kwargs)
        return wrapper


class SoftmaxOverKeys:
    """While active: softmax calls on square 4-D tensors (attention scores) are recorded, and with
    ``force`` normalised over the last axis whatever axis the code asked for."""

    def __init__(self, force=False):
        self.force, self.dims = force, []

    def __enter__(self):
        self._saved = [(torch, "softmax", torch.softmax), (torch.nn.functional, "softmax", torch.nn.functional.softmax),
                       (torch.Tensor, "softmax", torch.Tensor.softmax)]
        for owner, name, fn in self._saved:
            setattr(owner, name, self._wrap(fn))
        return self

    def __exit__(self, *exc):
        for owner, name, fn in self._saved:
            setattr(owner, name, fn)

    def _wrap(self, fn):
        spy = self

        @functools.wraps(fn)
        def wrapper(input, *args, **kwargs):
            dim = kwargs.get("dim", args[0] if args else None)
            if torch.is_tensor(input) and input.dim() == 4 and input.shape[-1] == input.shape[-2] and dim is not None:
                spy.dims.append(dim % 4)
                if spy.force:
                    args, kwargs = (), {**{k: v for k, v in kwargs.items() if k != "dim"}, "dim": -1}
            return fn(input, *args, **kwargs)
        return wrapper


def _ids(seed=0, rows=4, length=12):
    return torch.from_numpy(np.random.default_rng(seed).integers(1, 17, (rows, length)))


def _logits(model, ids):
    model.eval()
    with torch.no_grad():
        out = model(ids)
    return out[0] if isinstance(out, tuple) else out


def setup():
    spy = LossSpy()
    with spy:
        error = run_training("train.py")
    return {"calls": spy.calls, "error": error, "train": pd.read_csv("data/train.csv")}


def causal_mask_missing(ctx):
    _, model = load_predictor("model")
    ids = _ids()
    later = ids.clone()
    later[:, 8:] = (later[:, 8:] % 16) + 1
    with SoftmaxOverKeys(force=True):
        a, b = _logits(model, ids), _logits(model, later)
    change = float((a[:, :8] - b[:, :8]).abs().max())
    return ("present" if change > 1e-4 else "fixed"), (f"changing tokens 9-12 moves the logits at positions 1-8 "
                                                        f"by up to {change:.2g}")


def attention_softmax_wrong_axis(ctx):
    _, model = load_predictor("model")
    with SoftmaxOverKeys() as spy:
        _logits(model, _ids())
    if not spy.dims:
        return "fixed", "no softmax over a square score tensor (fused attention?)"
    wrong = sum(d != 3 for d in spy.dims)
    return ("present" if wrong else "fixed"), f"{wrong} of {len(spy.dims)} attention softmaxes not over the last axis"


def positions_not_added(ctx):
    _, model = load_predictor("model")
    ids = _ids()
    base = _logits(model, ids)
    unused = []
    tables = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Embedding)]
    for name, table in tables:
        saved = table.weight.data.clone()
        table.weight.data += torch.randn_like(saved)
        moved = float((_logits(model, ids) - base).abs().max())
        table.weight.data = saved
        if moved < 1e-6:
            unused.append(name)
    if not tables:
        return "unknown", "no embedding table in the network"
    return ("present" if unused else "fixed"), (f"embedding tables that change no logit: {unused}" if unused
                                                else f"all {len(tables)} embedding tables are used")


def _next_token_logits(mod, model, sources):
    """Every (row, last position) logit vector the network computes while predict() decodes ``sources``."""
    seen = []

    def keep(module, args, out):
        out = out[0] if isinstance(out, tuple) else out
        if torch.is_tensor(out) and out.dim() == 3:
            seen.append(out[:, -1].detach().float())

    hook = model.register_forward_hook(keep)
    try:
        with SoftmaxOverKeys(force=True):
            mod.predict(model, pd.DataFrame({"source": sources}))
    finally:
        hook.remove()
    return torch.cat(seen) if seen else None


def padding_mask_ignored(ctx):
    mod, model = load_predictor("model")
    sources = ctx["train"]["source"].astype(str).drop_duplicates()
    lengths = sources.str.split().str.len()
    short = sources[lengths == lengths.min()].head(12).tolist()
    long = sources[lengths == lengths.max()].head(1).tolist()
    if len(short) < 10 or not long or lengths.max() - lengths.min() < 4:
        return "unknown", "too few short and long messages in data/train.csv"
    together = _next_token_logits(mod, model, long + short)
    if together is None:
        return "unknown", "predict() never called the network"
    unmatched = 0
    for s in short:  # its first next-token logits alone must occur in the batch run (masked pads change nothing)
        alone = _next_token_logits(mod, model, [s])
        if alone is None or alone.shape[-1] != together.shape[-1]:
            return "unknown", "predict() never called the network on one message"
        unmatched += float((together - alone[0]).abs().max(dim=-1).values.min()) > 1e-3
    return ("present" if unmatched >= 3 else "fixed"), (
        f"{unmatched} of {len(short)} of the shortest messages get next-token logits beside the longest that "
        "they never get alone")


def targets_not_shifted(ctx):
    same = nxt = 0
    for ids, target in ctx["calls"]:
        if target.numel() != ids.numel():
            continue
        t = target.reshape(ids.shape)
        scored = (t > 0)[:, :-1]
        same += int((t[:, :-1] == ids[:, :-1])[scored].sum())
        nxt += int((t[:, :-1] == ids[:, 1:])[scored].sum())
    if same + nxt == 0:
        return "unknown", f"no loss call with targets shaped like the token ids ({ctx['error']})"
    return ("present" if same > nxt else "fixed"), (f"scored targets equal to the token at the same position: "
                                                    f"{same}; to the next token: {nxt}")


PROBES = {
    "causal_mask_missing": causal_mask_missing,
    "attention_softmax_wrong_axis": attention_softmax_wrong_axis,
    "positions_not_added": positions_not_added,
    "padding_mask_ignored": padding_mask_ignored,
    "targets_not_shifted": targets_not_shifted,
}

"""Probes for ticket_router: is each planted bug still in the workspace?

Runs inside a probe sandbox (never shown to the candidate). ``setup`` trains the workspace once
under spies (every scikit-learn fit, and the raw texts each vectorizer is fitted on or asked to
transform), then predicts the training tickets. Each probe reloads the saved model where it
predicts again, because a prediction path that refits would change the loaded object.
Each probe returns (status, evidence) with status "present", "fixed" or "unknown".
"""

import functools
import re

import numpy as np
import pandas as pd
from probekit import SklearnSpy, load_predictor, run_training

TARGET = "team"
TEXT = "text"
MACRO = re.compile(r"(?im)^macro applied:\s*(\S+)\s*$")


class VectorizerSpy:
    """Records the raw documents of every outermost vectorizer fit, fit_transform and transform."""

    METHODS = ("fit", "fit_transform", "transform")

    def __init__(self):
        self.calls = []  # (phase, method, documents)
        self.phase = "train"
        self._depth = 0
        self._saved = []

    def __enter__(self):
        from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

        for cls in (CountVectorizer, HashingVectorizer, TfidfVectorizer):
            for name in self.METHODS:
                if name in cls.__dict__:
                    original = cls.__dict__[name]
                    self._saved.append((cls, name, original))
                    setattr(cls, name, self._wrap(original, name))
        return self

    def __exit__(self, *exc):
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()

    def _wrap(self, fn, name):
        spy = self

        @functools.wraps(fn)
        def wrapper(est, *args, **kwargs):
            docs = args[0] if args else kwargs.get("raw_documents", kwargs.get("X"))
            if spy._depth == 0:
                try:
                    spy.calls.append((spy.phase, name, [str(d) for d in docs]))
                except TypeError:
                    pass
            spy._depth += 1
            try:
                return fn(est, *args, **kwargs)
            finally:
                spy._depth -= 1

        return wrapper


def setup():
    spy, texts = SklearnSpy(), VectorizerSpy()
    frame = pd.read_csv("data/train.csv")
    with spy, texts:
        error = run_training("train.py")
        trained = len(spy.calls)
        texts.phase = "predict"
        try:
            mod, model = load_predictor("model")
            mod.predict(model, frame.drop(columns=[TARGET]))
        except Exception as exc:
            error = error or f"{type(exc).__name__}: {exc}"
    return {"spy": spy, "texts": texts, "trained": trained, "error": error, "train": frame}


def _predictor():
    return load_predictor("model")


def _predict(features):
    mod, model = _predictor()
    return np.asarray(mod.predict(model, features))


def _vectorizer(obj, depth=0):
    """The first fitted text vectorizer inside the saved model (a dict, a Pipeline, attributes)."""
    if depth > 4:
        return None
    if type(obj).__name__.endswith("Vectorizer") and hasattr(obj, "transform"):
        return obj
    children = []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        children = list(obj)
    elif hasattr(obj, "steps"):
        children = [step for _, step in obj.steps]
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    for child in children:
        found = _vectorizer(child, depth + 1)
        if found is not None:
            return found
    return None


def _row_keys(X):
    X = X.tocsr()
    return [(tuple(X.indices[a:b]), tuple(np.round(X.data[a:b], 6))) for a, b in zip(X.indptr[:-1], X.indptr[1:])]


def vectorizer_refit_at_predict(ctx):
    if ctx["error"]:
        return "unknown", ctx["error"]
    fits = [c.cls for c in ctx["spy"].calls[ctx["trained"]:] if c.method == "fit"]
    refits = [m for phase, m, _ in ctx["texts"].calls if phase == "predict" and m != "transform"]
    if fits or refits:
        return "present", f"predict() fitted {', '.join(sorted(set(fits)) or refits)} on the tickets it scored"
    return "fixed", "nothing is fitted while predict() runs"


def normalization_only_in_training(ctx):
    fitted = [docs for phase, m, docs in ctx["texts"].calls if phase == "train" and m != "transform"]
    served = [docs for phase, _, docs in ctx["texts"].calls if phase == "predict"]
    if not fitted or not served:
        return "unknown", f"no vectorizer fitted and then used by predict() ({ctx['error'] or 'not seen'})"
    vec = _vectorizer(_predictor()[1])
    if vec is None:
        return "unknown", "no text vectorizer in the saved model"
    seen = _row_keys(vec.transform(fitted[-1]))
    served_keys = set(_row_keys(vec.transform(served[-1])))
    rows = [k for k in seen if k[0]]
    if not rows:
        return "unknown", "every fitted text is empty after vectorizing"
    share = float(np.mean([k in served_keys for k in rows]))
    status = "present" if share < 0.9 else "fixed"
    return status, f"{share:.1%} of {len(rows)} fitted tickets reach the vectorizer the same way through predict()"


def token_pattern_drops_codes(ctx):
    if ctx["error"]:
        return "unknown", ctx["error"]
    features = ctx["train"].drop(columns=[TARGET])
    rng = np.random.default_rng(0)

    def other(match):
        digits = match.group(0)
        new = "".join(str(d) for d in rng.integers(0, 10, size=len(digits)))
        return new if new != digits else digits[::-1] + "1"

    scrambled = features.copy()
    scrambled[TEXT] = features[TEXT].astype(str).map(lambda t: re.sub(r"\d+", other, t))
    changed = float(np.mean(_predict(features) != _predict(scrambled)))
    status = "present" if changed < 0.002 else "fixed"
    return status, f"{changed:.1%} of predictions change when every number in the tickets is replaced"


def macro_token_used(ctx):
    if ctx["error"]:
        return "unknown", ctx["error"]
    texts = ctx["train"][TEXT].astype(str)
    names = sorted({n.lower() for t in texts for n in MACRO.findall(t)})
    if not names:
        return "unknown", "no macro lines in data/train.csv"
    rng = np.random.default_rng(0)
    base = ctx["train"].drop(columns=[TARGET]).copy()
    base[TEXT] = texts.map(lambda t: MACRO.sub("", t).rstrip())
    tagged = base.copy()
    tagged[TEXT] = [f"{t}\nMacro applied: {names[i]}" for t, i in zip(base[TEXT], rng.integers(len(names), size=len(base)))]
    changed = float(np.mean(_predict(base) != _predict(tagged)))
    status = "present" if changed > 0.02 else "fixed"
    return status, f"{changed:.1%} of predictions change when a random macro line is appended"


def unweighted_classes(ctx):
    fits = [c for c in ctx["spy"].calls[: ctx["trained"]] if c.method == "fit" and c.y is not None
            and c.cls != "Pipeline"]
    if not fits:
        return "unknown", f"no supervised fit seen ({ctx['error'] or 'training ran'})"
    final = fits[-1]
    weight = final.params.get("class_weight")
    if weight == "balanced" or final.sample_weight is not None:
        return "fixed", f"class_weight={weight!r}, sample weights {'given' if final.sample_weight is not None else 'none'}"
    counts = np.unique(final.y, return_counts=True)[1]
    if isinstance(weight, dict):
        classes, _ = np.unique(final.y, return_counts=True)
        w = np.array([weight.get(int(c), weight.get(c, 1.0)) for c in classes], dtype=float)
        rare = int(np.argmin(counts))
        status = "fixed" if w[rare] >= w.max() * 0.99 else "present"
        return status, f"class_weight={weight}"
    ratio = counts.min() / counts.max()
    status = "fixed" if ratio >= 0.5 else "present"
    return status, f"no class weights; fitted class counts {counts.tolist()} (rarest/largest {ratio:.2f})"


PROBES = {
    "vectorizer_refit_at_predict": vectorizer_refit_at_predict,
    "normalization_only_in_training": normalization_only_in_training,
    "token_pattern_drops_codes": token_pattern_drops_codes,
    "macro_token_used": macro_token_used,
    "unweighted_classes": unweighted_classes,
}

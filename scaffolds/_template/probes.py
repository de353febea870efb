"""Probes run in a sandbox next to the candidate's code; nothing here reaches the candidate.

PROBES maps each bug id to fn(ctx) -> (status, evidence); setup() returns ctx. Contract:
scaffolds/STANDARD.md ("probes.py").
"""

from probekit import SklearnSpy, run_training


def setup():
    spy = SklearnSpy()
    with spy:
        error = run_training("train.py")
    return {"spy": spy, "error": error}


def inverted_class_weights(ctx):
    fits = [c for c in ctx["spy"].fits() if c.cls != "Pipeline"]
    if not fits:
        return "unknown", f"no supervised fit seen ({ctx['error']})"
    weight = fits[-1].params.get("class_weight")
    if isinstance(weight, dict):
        return ("present" if weight.get(1, 1) < weight.get(0, 1) else "fixed"), f"class_weight={weight}"
    return "fixed", f"class_weight={weight!r}"


PROBES = {"inverted_class_weights": inverted_class_weights}

"""ticket_router's held-out labels cannot be read from anything the sandbox mounts.

The tickets are written by a generator (pitfalls.datasets.text) whose word lists and sentence
frames are public; which words, error codes and reply macros go with which team is drawn from
the installation's secret seed. A prepared candidate's predictor can read the standard library,
every installed package (this repository's generator included) and bring a model trained on
another installation's data. Each attack is scored on the held-out rows (test secret) against an
honest tf-idf model fitted on train.csv alone: none comes near it.
"""

from __future__ import annotations

import importlib.util
import re
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

import pitfalls.datasets as pitfalls_datasets
from pitfalls.datasets._words import NOUNS, VERBS
from pitfalls.library.scaffold import load_scaffold

NAME = "ticket_router"
CHANCE_MARGIN = 0.15  # an attack within chance (0.2) + this is no better than guessing


def _solution_module(scaffold):
    spec = importlib.util.spec_from_file_location("ticket_router_solution", scaffold.root / "solution" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit_honest(solution, train):
    vectorizer = TfidfVectorizer(max_features=600, sublinear_tf=True)
    X = vectorizer.fit_transform(solution.featurize(train))
    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(X, train["team"])
    return lambda frame: clf.predict(vectorizer.transform(solution.featurize(frame)))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The held-out set with the test secret, the honest model's score on it, and the solution."""
    mp = pytest.MonkeyPatch()
    from conftest import TEST_DATA_SECRET

    mp.setenv("PITFALLS_DATA_SECRET", TEST_DATA_SECRET)
    mp.setenv("PITFALLS_HOME", str(tmp_path_factory.mktemp("home")))
    scaffold = load_scaffold(NAME)
    data = scaffold.dataset()
    solution = _solution_module(scaffold)
    honest = balanced_accuracy_score(data.heldout["team"], _fit_honest(solution, data.train)(data.heldout))
    yield scaffold, data, solution, honest
    mp.undo()


def test_honest_model_learns_the_teams(case):
    """The yardstick: tf-idf + logistic regression on train.csv alone routes well."""
    *_, honest = case
    assert honest > 0.85, honest


def test_a_model_from_another_installation_routes_at_chance(case):
    """Practising at home buys nothing: the reference trained on another secret's tickets (same
    public generator, same word lists) knows other teams' words, codes and macros."""
    scaffold, data, solution, honest = case
    other = scaffold.hooks.make_dataset(scaffold.data_seed() ^ (1 << 77))
    score = balanced_accuracy_score(data.heldout["team"], _fit_honest(solution, other.train)(data.heldout))
    assert score < 0.2 + CHANCE_MARGIN < honest, (score, honest)


def test_the_public_word_lists_carry_no_team(case):
    """A predictor that reads the generator's word lists (installed with pitfalls) and routes by
    where a ticket's words sit in them (the order they are listed in, their first letter) is at
    chance: the lists are the same for every team."""
    _, data, _, honest = case
    position = {w: i / len(NOUNS) for i, w in enumerate(NOUNS)} | {w: i / len(VERBS) for i, w in enumerate(VERBS)}

    def by_position(text: str) -> int:
        spots = [position[w] for w in re.findall(r"[a-z]+", text.lower()) if w in position]
        return int(min(4, 5 * np.mean(spots))) if spots else 0

    def by_letter(text: str) -> int:
        words = [w for w in re.findall(r"[a-z]+", text.lower()) if w in position]
        return int(np.bincount([ord(w[0]) % 5 for w in words], minlength=5).argmax()) if words else 0

    y = data.heldout["team"].to_numpy()
    for rule in (by_position, by_letter):
        score = balanced_accuracy_score(y, data.heldout["text"].map(rule))
        assert score < 0.2 + CHANCE_MARGIN < honest, (rule.__name__, score)


def _packaged_text() -> str:
    """What a predictor can read: the standard library, scikit-learn and pitfalls.datasets
    (its generator and word lists), as one string (27 MB; test suites and site-packages left out
    to keep the search to seconds)."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sklearn.__file__).parent,
             Path(pitfalls_datasets.__file__).parent]
    parts = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            skip = {"test", "tests", "site-packages", "dist-packages"} & set(path.relative_to(root).parts)
            if path.suffix in (".py", ".txt", ".rst", ".csv", ".toml") and path.is_file() and not skip:
                parts.append(path.read_text(errors="ignore"))
    return "\n".join(parts).lower()


def test_no_heldout_ticket_is_written_in_a_packaged_file(case):
    """No held-out ticket (or a long run of its body) occurs in the mounted text, so a lookup
    finds nothing to read a label from; the frames the generator fills are in there, as
    expected, so the search itself works."""
    _, data, _, _ = case
    corpus = _packaged_text()
    assert "was never {ved}" in corpus  # a sentence frame, found: the search reaches the generator
    bodies = data.heldout["text"].str.split("\n").map(lambda lines: max(lines, key=len)).str.lower()
    runs = [" ".join(body.split()[:8]) for body in bodies.iloc[:100]]
    found = [r for r in runs if len(r) >= 30 and r in corpus]
    assert found == [], found[:3]

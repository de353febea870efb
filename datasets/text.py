"""Help-desk tickets from a secret-seeded generative process, and the leaky-token quirk (Q22).

No text here comes from a file: the words and sentence frames are public (``_words.py``), but
which words, error codes and reply macros go with which team is drawn from the caller's ``rng``
(the installation's secret seed). A predictor that reads every installed package therefore learns
nothing about held-out labels; only the training rows tell the teams apart.

``ticket_model(rng)`` draws the teams' word distributions; ``write_tickets(model, labels, rng)``
writes one ticket per label. ``add_leaky_token`` appends a reply-macro line whose name follows
the team in training data (registered as ``leaky_token``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._words import CLOSINGS, CODE_FRAMES, FRAMES, GREETINGS, NOUNS, ORDER_FRAMES, SYLLABLES, VERBS
from .registry import Detection, Example, Quirk, register

__all__ = ["TicketModel", "add_leaky_token", "ticket_model", "write_tickets"]

_DOUBLED = frozenset({"stop", "ship", "log", "drop", "swap", "scan", "flag", "split", "plan", "pin"})
_SLOT = re.compile(r"\{(n|np|v|vs|ved|ving|code|num)\}")
LEAK_AGREEMENT = 0.9
"""leaky_token fires when at least 10 training rows carry a macro name and at least 90% of them
carry their own team's; the held-out check fires when agreement beats chance by 0.2 there."""


@dataclass(frozen=True)
class TicketModel:
    """The secret part of the generator: per-team word weights, error codes and their rates."""

    background_nouns: np.ndarray  # (len(NOUNS),) weights shared by every team
    background_verbs: np.ndarray
    nouns: np.ndarray  # (teams, len(NOUNS))
    verbs: np.ndarray  # (teams, len(VERBS))
    codes: np.ndarray  # (teams, codes per team) error codes, disjoint across teams
    code_rate: np.ndarray  # (teams,) share of a team's tickets that quote an error code
    twins: tuple[int, int]  # two teams with the same words, told apart by their codes


def _topic(rng: np.random.Generator, size: int, support: int) -> np.ndarray:
    weights = np.zeros(size)
    chosen = rng.choice(size, size=support, replace=False)
    weights[chosen] = rng.dirichlet(np.full(support, 0.8))
    return weights


def ticket_model(rng: np.random.Generator, *, teams: int = 5, topic_nouns: int = 30, topic_verbs: int = 18,
                 codes_per_team: int = 4, twin_code_rate: float = 0.85, code_rate: float = 0.2) -> TicketModel:
    """Draw the teams' word distributions: each team a sparse Dirichlet topic over the nouns and
    verbs; two teams (the twins) share most of theirs and differ mainly by the error codes they see."""
    nouns = np.stack([_topic(rng, len(NOUNS), topic_nouns) for _ in range(teams)])
    verbs = np.stack([_topic(rng, len(VERBS), topic_verbs) for _ in range(teams)])
    a, b = (int(t) for t in rng.choice(teams, size=2, replace=False))
    nouns[b] = 0.85 * nouns[a] + 0.15 * nouns[b]
    verbs[b] = 0.85 * verbs[a] + 0.15 * verbs[b]
    codes = rng.choice(np.arange(100, 1000), size=(teams, codes_per_team), replace=False)
    rates = np.full(teams, code_rate)
    rates[[a, b]] = twin_code_rate
    return TicketModel(background_nouns=rng.dirichlet(np.full(len(NOUNS), 0.3)),
                       background_verbs=rng.dirichlet(np.full(len(VERBS), 0.3)),
                       nouns=nouns, verbs=verbs, codes=codes, code_rate=rates, twins=(a, b))


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _past(word: str) -> str:
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ied"
    return word + (word[-1] if word in _DOUBLED else "") + "ed"


def _gerund(word: str) -> str:
    if word.endswith("e") and not word.endswith("ee"):
        return word[:-1] + "ing"
    return word + (word[-1] if word in _DOUBLED else "") + "ing"


def _typos(text: str, rng: np.random.Generator, rate: float) -> str:
    """Swap two inner letters of a word of 5+ letters with probability ``rate`` per word."""
    words = text.split(" ")
    for i in np.flatnonzero(rng.random(len(words)) < rate):
        w = words[i]
        if len(w) >= 5 and w.isalpha():
            j = int(rng.integers(1, len(w) - 2))
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


class _Sampler:
    """Draws words by inverse CDF (``rng.choice`` with ``p`` recomputes its table every call)."""

    def __init__(self, model: TicketModel) -> None:
        self.model = model
        self.nouns = np.cumsum(np.vstack([model.nouns, model.background_nouns]), axis=1)
        self.verbs = np.cumsum(np.vstack([model.verbs, model.background_verbs]), axis=1)

    def word(self, table: np.ndarray, row: int, rng: np.random.Generator) -> int:
        cdf = table[row]
        return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))

    def sentence(self, frame: str, team: int, rng: np.random.Generator, topic_share: float) -> str:
        def fill(match: re.Match) -> str:
            slot = match.group(1)
            if slot == "code":
                return str(rng.choice(self.model.codes[team]))
            if slot == "num":
                return str(int(rng.integers(10_000, 10_000_000)))
            row = team if rng.random() < topic_share else -1
            if slot in ("n", "np"):
                word = NOUNS[self.word(self.nouns, row, rng)]
                return _plural(word) if slot == "np" else word
            word = VERBS[self.word(self.verbs, row, rng)]
            return {"v": word, "vs": _plural(word), "ved": _past(word), "ving": _gerund(word)}[slot]

        return _SLOT.sub(fill, frame)


def write_tickets(model: TicketModel, labels: np.ndarray, rng: np.random.Generator, *,
                  topic_share: float = 0.4, sentences: tuple[int, int] = (2, 4), typo_rate: float = 0.03,
                  order_rate: float = 0.6) -> list[str]:
    """One ticket per label: a greeting, an optional order number, 2-4 sentences whose words come
    from the team's topic with probability ``topic_share`` (else from the shared background), an
    error code at the team's rate, a closing; then letter swaps at ``typo_rate`` per word."""
    out, sampler = [], _Sampler(model)
    for team in (int(t) for t in labels):
        lines = [GREETINGS[rng.integers(len(GREETINGS))]]
        body = [sampler.sentence(FRAMES[rng.integers(len(FRAMES))], team, rng, topic_share)
                for _ in range(int(rng.integers(sentences[0], sentences[1] + 1)))]
        if rng.random() < model.code_rate[team]:
            body.insert(int(rng.integers(len(body) + 1)),
                        sampler.sentence(CODE_FRAMES[rng.integers(len(CODE_FRAMES))], team, rng, 0.0))
        if rng.random() < order_rate:
            body.insert(0, sampler.sentence(ORDER_FRAMES[rng.integers(len(ORDER_FRAMES))], team, rng, 0.0))
        lines.append(_typos(" ".join(body), rng, typo_rate))
        lines.append(CLOSINGS[rng.integers(len(CLOSINGS))])
        out.append("\n".join(line for line in lines if line))
    return out


def _macro_names(rng: np.random.Generator, teams: int, per_team: int) -> dict[str, int]:
    names: dict[str, int] = {}
    while len(names) < teams * per_team:
        name = "".join(SYLLABLES[i] for i in rng.integers(len(SYLLABLES), size=3))
        names.setdefault(name, len(names) % teams)
    return names


def _tagged(quirk: Quirk, frame: pd.DataFrame, target: str) -> tuple[int, float, float]:
    """(rows carrying a macro name, share whose name is their team's, that share by chance)."""
    names = {str(k): int(v) for k, v in quirk["names"].items()}
    found = frame[quirk["column"]].fillna("").str.lower().str.findall(r"[a-z]+").map(
        lambda ws: next((names[w] for w in ws if w in names), -1))
    mask = found.to_numpy() >= 0
    if not mask.any():
        return 0, 0.0, 0.0
    labels, teams = frame[target].to_numpy()[mask], found.to_numpy()[mask]
    chance = sum(float(np.mean(teams == t)) * float(np.mean(labels == t)) for t in np.unique(teams))
    return int(mask.sum()), float(np.mean(labels == teams)), chance


def _detect_leaky(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Rows carrying a macro name agree with its team (>= 90% of at least 10 rows)."""
    n, agree, chance = _tagged(quirk, train, target)
    return Detection(n >= 10 and agree >= LEAK_AGREEMENT,
                     f"{n} training rows carry a macro name; {agree:.3f} of them name their own team "
                     f"(chance {chance:.3f}; threshold {LEAK_AGREEMENT})")


def _heldout_leaky(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None, target: str) -> Detection:
    """Held-out rows carrying a macro name agree with its team more than chance + 0.2."""
    if heldout is None:
        return Detection(False, "no held-out data")
    n, agree, chance = _tagged(quirk, heldout, target)
    return Detection(n >= 10 and agree >= chance + 0.2,
                     f"{n} held-out rows carry a macro name; {agree:.3f} name their own team (chance {chance:.3f})")


def _example_leaky(seed: int) -> Example:
    rng = np.random.default_rng([seed, 909])
    model = ticket_model(rng, teams=4)
    frames = []
    for rows in (240, 120):
        labels = rng.integers(0, 4, size=rows)
        frames.append(pd.DataFrame({"text": write_tickets(model, labels, rng), "team": labels}))
    train, quirk = add_leaky_token(frames[0], target="team", column="text", rng=rng)
    held, _ = add_leaky_token(frames[1], target="team", column="text", rng=rng, names=quirk["names"],
                              randomize=True)
    return Example("team", frames[0], frames[1], train, held, quirk)


@register(id="leaky_token", ref="Q22", detect=_detect_leaky, example=_example_leaky, heldout_leak=_heldout_leaky)
def add_leaky_token(df: pd.DataFrame, *, target: str, column: str, rng: np.random.Generator, share: float = 0.5,
                    per_team: int = 3, prefix: str = "Macro applied:", names: dict | None = None,
                    randomize: bool = False) -> tuple[pd.DataFrame, Quirk]:
    """Append ``prefix NAME`` to ``share`` of the texts (catalog Q22): NAME is a reply macro of the
    row's own team in training data (written after the ticket was routed); with ``randomize=True``
    (held-out data, reopened tickets) any team's macro. Pass the training entry's ``names`` to
    reuse them; otherwise ``per_team`` names per team are drawn from ``rng``."""
    teams = sorted(int(t) for t in np.unique(df[target]))
    mapping = {str(k): int(v) for k, v in names.items()} if names else _macro_names(rng, max(teams) + 1, per_team)
    by_team = {t: [k for k, v in mapping.items() if v == t] for t in set(mapping.values())}
    pool = sorted(mapping)
    labels = df[target].to_numpy()
    texts = df[column].fillna("").to_numpy(dtype=object).copy()
    for i in np.flatnonzero(rng.random(len(df)) < share):
        own = by_team.get(int(labels[i]), pool)
        name = pool[rng.integers(len(pool))] if randomize else own[rng.integers(len(own))]
        texts[i] = f"{texts[i]}\n{prefix} {name}"
    out = df.copy()
    out[column] = texts
    return out, {"id": "leaky_token", "column": column, "share": share, "names": mapping,
                 "heldout": "independent of the label" if randomize else "follows the label"}

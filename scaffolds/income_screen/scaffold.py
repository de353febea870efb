"""income_screen: a lender's pre-screen, "does this applicant earn over $50K?" (scikit-learn,
tabular census data, messy the way hand-typed forms and spreadsheet exports are).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pitfalls.datasets import (
    census_income,
    code_missing_as_sentinel,
    copula_sample,
    copy_rows_within_split,
    encode_missing_as_tokens,
    format_numbers_as_text,
    vary_category_spellings,
)
from pitfalls.library.scaffold import Dataset

TARGET = "high_income"
TRAIN_ROWS = 4000
HELDOUT_ROWS = 3000
SPELLING_COLUMNS = ["workclass", "marital_status", "occupation"]
SPELLING_RATE = 0.12
TOKEN_COLUMNS = ["workclass", "occupation", "country"]
TOKENS = ("?", "unknown", "-", "n.a.")  # all four survive pandas' read_csv as text
SENTINEL_COLUMN, SENTINEL_CODE, SENTINEL_RATE = "age", 0, 0.06
TEXT_NUMBER_COLUMNS = ["capital_gain", "capital_loss"]
LOAN_COLUMN = "loan_amount"
GRANTED_SHARE = 0.9  # positives whose requested amount was overwritten by the granted one
REOPENED_SHARE, REOPENED_COPIES = 0.12, (5, 9)  # at most 12% of rows: in practice all ~6% surprising ones
REOPENED_KEY = ["age", "education", "education_num", "relationship", "hours_per_week", LOAN_COLUMN, TARGET]
VALID_FRACTION = 0.25  # the starter's validation share


def _requested(rows: int, rng: np.random.Generator) -> np.ndarray:
    """What applicants ask to borrow: round amounts (steps of $500), independent of everything."""
    return np.clip(np.round(rng.lognormal(np.log(9000), 0.6, rows) / 500) * 500, 1000, 40000).astype(np.int64)


def _add_loan(frame: pd.DataFrame, rng: np.random.Generator, *, overwritten: bool) -> tuple[pd.DataFrame, dict]:
    """The requested amount; in the training export, the amount *granted* after verification
    replaced it for most verified high earners (a share of their verified income, to the dollar)."""
    amount = _requested(len(frame), rng)
    if overwritten:
        high = np.flatnonzero(frame[TARGET].to_numpy() == 1)
        granted = np.sort(rng.choice(high, size=int(round(GRANTED_SHARE * len(high))), replace=False))
        amount[granted] = np.round(rng.uniform(52_000, 140_000, len(granted)) * rng.uniform(0.2, 0.4, len(granted)))
    out = frame.copy()
    out.insert(len(out.columns) - 1, LOAN_COLUMN, amount)
    return out, {"id": "target_leakage", "column": LOAN_COLUMN, "strength": GRANTED_SHARE,
                 "heldout": "independent of the label"}


def _reopened(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Applications reopened for review were exported once per edit: high earners with little
    schooling (the pre-screen's surprises), each 5-9 extra times, before the export's messiness."""
    surprising = np.flatnonzero(((frame[TARGET] == 1) & (frame["education_num"] <= 9)).to_numpy())
    rows = np.sort(rng.choice(surprising, size=min(len(surprising), int(REOPENED_SHARE * len(frame))),
                              replace=False))
    return copy_rows_within_split(frame, rows=list(rows), copies=REOPENED_COPIES, rng=rng,
                                  columns=REOPENED_KEY, validation_fraction=VALID_FRACTION)


def _messy(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[dict]]:
    """The branch system's habits, the same in training and in production."""
    frame, q_spell = vary_category_spellings(frame, columns=SPELLING_COLUMNS, rate=SPELLING_RATE, rng=rng)
    frame, q_tokens = encode_missing_as_tokens(frame, columns=TOKEN_COLUMNS, tokens=TOKENS, rng=rng)
    frame, q_sentinel = code_missing_as_sentinel(frame, columns=[SENTINEL_COLUMN], code=SENTINEL_CODE,
                                                 rate=SENTINEL_RATE, rng=rng)
    frame, q_text = format_numbers_as_text(frame, columns=TEXT_NUMBER_COLUMNS, rng=rng)
    return frame, [q_spell, q_tokens, q_sentinel, q_text]


def _resampled(public: pd.DataFrame, *, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """New applications from a copula fitted to a secret resample of the public records (none is
    a copy of a public row); ``education_num`` follows ``education`` as in the source."""
    years = public.groupby("education")["education_num"].first()
    base = copula_sample(public.drop(columns="education_num"), rows=rows, rng=rng, by=TARGET)
    base["education_num"] = base["education"].map(years).astype(public["education_num"].dtype)
    return base[list(public.columns)]


def make_dataset(seed: int) -> Dataset:
    """Train: 4,000 applications, plus the re-exports of reopened ones, messy, with the granted
    amount in place of the requested one for most high earners. Held-out: 3,000 other
    applications, messy in the same ways (production forms are typed by the same people), with the
    requested amount, no re-exports, none equal to a training row."""
    rng = np.random.default_rng(seed)
    base = _resampled(census_income(seed), rows=TRAIN_ROWS + HELDOUT_ROWS + 200, rng=rng)
    train = base.iloc[:TRAIN_ROWS].reset_index(drop=True)
    spare = base.iloc[TRAIN_ROWS:TRAIN_ROWS + HELDOUT_ROWS + 200].reset_index(drop=True)

    train, q_leak = _add_loan(train, rng, overwritten=True)
    train, q_copies = _reopened(train, rng)
    train, quirks = _messy(train, rng)
    spare, _ = _add_loan(spare, rng, overwritten=False)
    spare, _ = _messy(spare, rng)
    features = [c for c in train.columns if c != TARGET]
    seen = set(pd.util.hash_pandas_object(train[features], index=False))
    fresh = ~pd.util.hash_pandas_object(spare[features], index=False).isin(seen).to_numpy()
    heldout = spare[fresh].iloc[:HELDOUT_ROWS].reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=quirks + [q_copies, q_leak])

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
    """Train: 4,000 applications, messy. Held-out: 3,000 other applications, messy in the same
    ways (production forms are typed by the same people), none equal to a training row."""
    rng = np.random.default_rng(seed)
    base = _resampled(census_income(seed), rows=TRAIN_ROWS + HELDOUT_ROWS + 200, rng=rng)
    train = base.iloc[:TRAIN_ROWS].reset_index(drop=True)
    spare = base.iloc[TRAIN_ROWS:TRAIN_ROWS + HELDOUT_ROWS + 200].reset_index(drop=True)

    train, quirks = _messy(train, rng)
    spare, _ = _messy(spare, rng)
    features = [c for c in train.columns if c != TARGET]
    seen = set(pd.util.hash_pandas_object(train[features], index=False))
    fresh = ~pd.util.hash_pandas_object(spare[features], index=False).isin(seen).to_numpy()
    heldout = spare[fresh].iloc[:HELDOUT_ROWS].reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=quirks)

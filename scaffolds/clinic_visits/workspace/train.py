"""
Train the escalation model for clinic check-ups.

    $ python train.py

Reads data/train.csv (one row per check-up visit), picks the number of neighbours by
cross-validation, refits on every visit and saves the model to artifacts/model.skops. The
scorer reloads that file through model.py, so whatever prediction needs has to be inside it.
"""

import os

import pandas as pd
import skops.io as sio
from sklearn.compose import make_column_transformer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import PATIENT, TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
N_FOLDS = 5
NEIGHBOURS = [1, 3, 10, 30, 100, 300]  # candidate k: small k follows single visits, large k averages
MEASUREMENTS = ["age", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
# -----------------------------------------------------------------------------


def patient_history(df):
    # escalations on each patient's record: the clinic's rule of thumb is that patients who
    # escalated before tend to escalate again
    counts = df.groupby(PATIENT)[TARGET].sum()
    return {int(p): int(n) for p, n in counts.items()}


def build_model():
    # a visit is judged by the most similar visits on record; the measurements mix years, mmHg
    # and mg/dl, so standardise them before any distance is taken
    scale = make_column_transformer((StandardScaler(), MEASUREMENTS), remainder="passthrough")
    return make_pipeline(scale, KNeighborsClassifier())


def main():
    df = pd.read_csv(DATA_PATH)
    history = patient_history(df)
    X, y = featurize(df, history), df[TARGET].to_numpy()
    print(f"visits: {len(df)}, patients: {df[PATIENT].nunique()}, escalated: {y.mean():.1%}")
    folds = KFold(n_splits=N_FOLDS, shuffle=True, random_state=SEED)
    search = GridSearchCV(build_model(), {"kneighborsclassifier__n_neighbors": NEIGHBOURS},
                          cv=folds, scoring="roc_auc")
    search.fit(X, y)
    best_k = search.best_params_["kneighborsclassifier__n_neighbors"]
    print(f"best k: {best_k}, cross-validated ROC AUC: {search.best_score_:.3f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump({"pipeline": search.best_estimator_, "history": history}, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

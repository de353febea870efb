"""
Train the ticket router.

    $ python train.py

Reads data/train.csv, fits a tf-idf vectorizer and a logistic regression, prints a validation
score and saves both to artifacts/model.skops. The scorer reloads that file through model.py,
so whatever the model needs at prediction time has to be inside it.
"""

import os

import pandas as pd
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from model import TARGET, featurize

# -----------------------------------------------------------------------------
SEED = int(os.environ.get("SEED", 0))  # the runner sets SEED; fixed by default so runs repeat
DATA_PATH = "data/train.csv"
ARTIFACT_PATH = "artifacts/model.skops"
VALID_FRACTION = 0.2  # held back from fitting, to estimate the score before submitting
MAX_FEATURES = 600  # each term costs its text, an idf weight and one coefficient per team
C = 10.0  # inverse regularisation strength of the logistic regression
# -----------------------------------------------------------------------------


def fit(texts, y):
    vectorizer = TfidfVectorizer(max_features=MAX_FEATURES, sublinear_tf=True)
    X = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    classifier.fit(X, y)
    return {"vectorizer": vectorizer, "classifier": classifier}


def main():
    df = pd.read_csv(DATA_PATH)
    texts, y = featurize(df), df[TARGET].to_numpy()
    print(f"training tickets: {len(df)}, per team: {pd.Series(y).value_counts().sort_index().tolist()}")
    tr_texts, va_texts, y_tr, y_va = train_test_split(
        texts, y, test_size=VALID_FRACTION, random_state=SEED, stratify=y)
    model = fit(tr_texts, y_tr)
    pred = model["classifier"].predict(model["vectorizer"].transform(va_texts))
    print(f"validation balanced accuracy: {balanced_accuracy_score(y_va, pred):.3f}")
    os.makedirs(os.path.dirname(ARTIFACT_PATH), exist_ok=True)
    sio.dump(model, ARTIFACT_PATH)
    print(f"saved {ARTIFACT_PATH}")


if __name__ == "__main__":
    main()

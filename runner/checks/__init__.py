"""``pitfalls check``: the named checks a scaffold must pass, like scikit-learn's check_estimator."""

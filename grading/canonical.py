"""The canonical evaluation data of each lab, made the same way the lab makes it."""
from __future__ import annotations


def lab04():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=1000, n_features=10, random_state=42)
    _, X_test, _, y_test = train_test_split(X, y, random_state=42)
    return X_test, y_test


DATASETS = {"lab04": lab04}

"""Lab 04's data: a synthetic two-class problem with 10 numeric features, split 750/250."""
from __future__ import annotations

from course.labdata import Split

SEED = 42  # the data, and the split


def split() -> Split:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=1000, n_features=10, random_state=SEED)
    return Split(*train_test_split(X, y, random_state=SEED))

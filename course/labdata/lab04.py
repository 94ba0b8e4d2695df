"""Lab 04's data: a synthetic two-class problem with 10 numeric features, split 600/200/200."""
from __future__ import annotations

from course.labdata import Split, three_way

SEED = 42  # the data, and the split
VAL_ROWS, TEST_ROWS = 200, 200


def split() -> Split:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=1000, n_features=10, random_state=SEED)
    return three_way(X, y, VAL_ROWS, TEST_ROWS, SEED)

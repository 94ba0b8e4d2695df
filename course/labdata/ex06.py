"""Exercises 06's data: the iris table, stratified: 30% for testing, then 20% of the rest for
validation (the exercises train on the training rows and test once)."""
from __future__ import annotations

from course.labdata import Split, three_way

SEED = 6  # the split
VAL_SIZE, TEST_SIZE = 0.2, 0.3


def split() -> Split:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return three_way(X, y, VAL_SIZE, TEST_SIZE, SEED, stratify=True)

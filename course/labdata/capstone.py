"""The capstone's data: the course's seeded churn table, as the lab writes it under DVC and reads it back.

Features are age, tenure and monthly_charges; the label is churn. The split is stratified:
a fifth for validation, a fifth for testing.
"""
from __future__ import annotations

import io

import pandas as pd

from course import churn
from course.labdata import Split, three_way

FEATURES = ["age", "tenure", "monthly_charges"]
TARGET = "churn"
DATA_SEED, ROWS = 7, 2000  # the generator's seed and size: the lab's data version 1
SPLIT_SEED, VAL_ROWS, TEST_ROWS = 42, 400, 400


def table() -> pd.DataFrame:
    """The table read back from its CSV, so floats are exactly what the lab reads from the file."""
    return pd.read_csv(io.StringIO(churn.csv_text(churn.make_churn(ROWS, DATA_SEED))))


def split(frame: pd.DataFrame | None = None) -> Split:
    frame = table() if frame is None else frame
    X, y = frame[FEATURES], frame[TARGET]
    return three_way(X, y, VAL_ROWS, TEST_ROWS, SPLIT_SEED, stratify=True)

"""A synthetic customer-churn table, the same on every machine for the same seed.

Columns: age (years), tenure (months), monthly_charges (currency units), churn (0/1).
Churn is more likely for short tenure and high charges, so a model has something to learn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["age", "tenure", "monthly_charges", "churn"]


def make_churn(n_rows: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows)
    tenure = rng.integers(1, 73, n_rows)
    charges = np.round(rng.uniform(20.0, 120.0, n_rows), 2)
    logit = -1.0 - 0.05 * (tenure - 36) + 0.03 * (charges - 70) - 0.01 * (age - 45)
    churn = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"age": age, "tenure": tenure, "monthly_charges": charges, "churn": churn}, columns=COLUMNS)


def csv_text(frame: pd.DataFrame) -> str:
    """The table as CSV with fixed formatting, so equal data gives an equal file (and md5)."""
    return frame.to_csv(index=False, float_format="%.2f", lineterminator="\n")


def write_churn(path: Path, n_rows: int = 2000, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(make_churn(n_rows, seed)), encoding="utf-8", newline="")
    return path


def append_churn(path: Path, n_rows: int, seed: int) -> Path:
    """New customers at the end of an existing table: the rows already there stay as they are."""
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(csv_text(make_churn(n_rows, seed)).split("\n", 1)[1])  # without the header
    return path

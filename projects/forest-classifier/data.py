"""The project's data: the breast-cancer data set and one seeded split, shared by both entry points."""
from __future__ import annotations

import mlflow.data
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def split(seed: int, test_size: float):
    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    # MLflow computes the digest from the rows themselves, so equal data gives an equal digest.
    dataset = mlflow.data.from_pandas(frame, source="sklearn.datasets.load_breast_cancer", name="breast-cancer", targets="target")
    return X_train, X_test, y_train, y_test, dataset

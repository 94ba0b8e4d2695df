"""Each lab's evaluation data, defined once: the lab notebook trains on it and the grader
recomputes a logged model's metric on its validation or test split.

A lab's module here is named like the lab's ``dataset:`` in its expectations and defines
``split()``, returning a :class:`Split`. The seeds are fixed inside it: the grader must score
on exactly the rows the learner's model was tested on.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, NamedTuple


class Split(NamedTuple):
    """Train to fit, validation to choose between models, test to report the chosen one once."""
    X_train: Any
    X_val: Any
    X_test: Any
    y_train: Any
    y_val: Any
    y_test: Any

    def part(self, name: str) -> tuple[Any, Any]:
        """(features, labels) of the part `name`: "train", "val" or "test"."""
        if name not in PARTS:
            raise ValueError(f"no part {name!r} in a split (there is {', '.join(PARTS)})")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


PARTS = ("train", "val", "test")


def three_way(X, y, val_size, test_size, seed: int, stratify: bool = False) -> Split:
    """Hold out the test rows first, then the validation rows from what is left, both seeded."""
    from sklearn.model_selection import train_test_split

    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, random_state=seed,
                                                      stratify=y if stratify else None)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=val_size, random_state=seed,
                                                      stratify=y_rest if stratify else None)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test)


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> Split:
    """The split of the lab data `name`; ValueError when there is no such module here."""
    if name not in names():
        raise ValueError(f"no lab data {name!r} in course/labdata (there is {', '.join(names())})")
    return importlib.import_module(f"{__name__}.{name}").split()

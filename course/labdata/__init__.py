"""Each lab's evaluation data, defined once: the lab notebook trains on it and the grader
recomputes a logged model's metric on its test split.

A lab's module here is named like the lab's ``dataset:`` in its expectations and defines
``split()``, returning a :class:`Split`. The seeds are fixed inside it: the grader must score
on exactly the rows the learner's model was tested on.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, NamedTuple


class Split(NamedTuple):
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> Split:
    """The split of the lab data `name`; ValueError when there is no such module here."""
    if name not in names():
        raise ValueError(f"no lab data {name!r} in course/labdata (there is {', '.join(names())})")
    return importlib.import_module(f"{__name__}.{name}").split()

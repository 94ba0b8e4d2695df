"""The escape hatch: a trusted function of (store, spec) in this repository, named module:callable."""
from __future__ import annotations

import importlib

from grading.engine.kinds.common import Outcome


def python(store, spec) -> Outcome:
    """Escape hatch: `function: module:callable`, a trusted function of (store, spec) in this repository."""
    module, _, attr = spec["function"].partition(":")
    return getattr(importlib.import_module(module), attr)(store, spec)

"""The rare checks that data cannot express; each is a function of (store, spec) -> Outcome."""
from __future__ import annotations

from grading.engine.kinds.common import Outcome


def artifacts_went_through_server(store, spec) -> Outcome:
    """A run logged through a proxying server has an artifact URI mlflow-artifacts:/..."""
    selection = spec.get("runs", "smoke")
    runs = store.select(selection).runs
    expected = "an artifact URI starting with mlflow-artifacts:/"
    if not runs:
        return Outcome(False, expected, f"no run in the selection {selection}")
    uri = runs[0].info.artifact_uri
    return Outcome(uri.startswith("mlflow-artifacts:"), expected, uri.split(":", 1)[0] + ": URI")

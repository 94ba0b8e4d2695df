"""The rare checks that data cannot express; each is a function of (store, spec) -> Outcome."""
from __future__ import annotations

from grading.kinds import Outcome


def artifacts_went_through_server(store, spec) -> Outcome:
    """Section 01 logs through a proxying server, so its run's artifact URI is mlflow-artifacts:/..."""
    runs = store.select("smoke").runs
    expected = "an artifact URI starting with mlflow-artifacts:/"
    if not runs:
        return Outcome(False, expected, "no smoke-test run")
    uri = runs[0].info.artifact_uri
    return Outcome(uri.startswith("mlflow-artifacts:"), expected, uri.split(":", 1)[0] + ": URI")

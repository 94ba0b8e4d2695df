"""The check kinds: small functions of a check's data and read-only tracking queries.

Each takes (store, spec) and returns an Outcome (kinds.common); grading.engine.grader turns that
into a CheckResult with points, message and hint. grading.engine.expectations declares each
kind's fields.
"""
from __future__ import annotations

from grading.engine.kinds import artifacts, models, python_function, reproducibility, runs, truth
from grading.engine.kinds.common import Outcome

__all__ = ["HOST_EFFECTS", "KINDS", "Outcome"]

# Kinds that act on the host from what the store names (run a project, read a git repository the
# store points at, or call course code): `grade` refuses labs that use them, as a submission writes its store.
HOST_EFFECTS = frozenset({"python", "project_reproduces", "lineage"})

KINDS = {
    "experiment_exists": runs.experiment_exists,
    "run_count": runs.run_count,
    "params": runs.params,
    "metrics": runs.metrics,
    "tags": runs.tags,
    "artifacts": artifacts.artifacts,
    "logged_model": models.logged_model,
    "registered_model": models.registered_model,
    "dataset_input": runs.dataset_input,
    "recomputed_metric": truth.recomputed_metric,
    "python": python_function.python,
    "reproducible": reproducibility.reproducible,
    "project_reproduces": reproducibility.project_reproduces,
    "lineage": reproducibility.lineage,
}

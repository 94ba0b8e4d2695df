"""Who the learner is on a shared tracking server, and so which names are theirs.

On a class server every learner logs in as themselves (MLflow's basic auth), while experiment
and registered-model names are one namespace for everybody. So every name the course creates
starts with the learner's username: `alice-lab04-classifier`. The username is COURSE_LEARNER
when it is set, else the one MLflow's client sends (MLFLOW_TRACKING_USERNAME, else
~/.mlflow/credentials). With neither, as on a laptop, names stay as they are.

The notebooks, the self-checks and the grader all ask this module, so they always agree.
"""
from __future__ import annotations

import os
import re

OVERRIDE = "COURSE_LEARNER"
# A registered model's name may not hold "/" or ":" (it goes into models:/ URIs), nor may a prefix.
UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def username() -> str:
    """The learner's name as the namespace uses it; empty when there is none."""
    name = os.environ.get(OVERRIDE, "").strip()
    if not name:
        from mlflow.utils.credentials import read_mlflow_creds

        name = read_mlflow_creds().username or ""
    return _safe(name)


def _safe(name: str) -> str:
    return UNSAFE.sub("-", name.strip()).strip("-")


def prefix(name: str | None = None) -> str:
    """What every name of this learner's starts with: "alice-", or "" without a learner."""
    name = username() if name is None else _safe(name)
    return f"{name}-" if name else ""


def named(name: str) -> str:
    """The learner's own version of a course name (an experiment, a registered model)."""
    own = prefix()
    return name if not own or name.startswith(own) else own + name

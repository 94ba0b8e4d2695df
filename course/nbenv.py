"""The environment a notebook runs in when its committed outputs are made or checked.

`make notebooks` (course.build) and nbval (conftest.py) both use it, so the
outputs a learner sees are the outputs CI reproduces.
"""
from __future__ import annotations

import os
from pathlib import Path

from course import paths

QUIET = {
    # First-use lines ("Creating initial MLflow database tables") differ between a fresh and a used store.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "PYTHONHASHSEED": "0",
    # tqdm bars from MLflow's artifact downloads are timing noise.
    "TQDM_DISABLE": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def isolated_env(store_dir: Path) -> dict[str, str]:
    """Variables that give a notebook a fresh store of its own in store_dir."""
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    return {**QUIET, "MLFLOW_TRACKING_URI": paths.sqlite_uri(Path(store_dir))}


def apply(env: dict[str, str]) -> None:
    os.environ.update(env)

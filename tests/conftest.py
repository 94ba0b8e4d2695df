from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 900, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m grading ...`` as a user would, in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "grading", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh, explicit SQLite tracking URI."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"

"""Where the course keeps its files."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LABS = ROOT / "labs"
SOLUTIONS = ROOT / "solutions"
# COURSE_HOME moves the default store, e.g. for an image whose source tree is read-only.
HOME = Path(os.environ.get("COURSE_HOME") or ROOT / ".course")
BUILD = ROOT / "build"


def default_store_dir() -> Path:
    return HOME


def sqlite_uri(store_dir: Path) -> str:
    """The embedded store's URI for a folder: one explicit database file, never a relative path."""
    return f"sqlite:///{Path(store_dir).resolve() / 'mlflow.db'}"


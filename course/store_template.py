"""A new SQLite tracking store starts as a copy of an empty one that is already migrated.

MLflow builds a new database by creating its tables and then running every schema migration
in turn: about 1 s of work for each new store, which is each notebook run on a fresh store and
each autograded submission. The outcome is the same database every time, so the course builds
it once per MLflow version (in the course's home folder) and copies it. The copy holds no
experiment: MLflow adds the Default experiment when it first opens the store, with that store's
own artifact location, as it does for a database it created itself.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from course import paths


def location() -> Path:
    from importlib.metadata import version

    return paths.HOME / "cache" / f"empty-store-mlflow-{version('mlflow')}.db"


def template() -> Path | None:
    """The empty, migrated database for this MLflow version, built on first use; None when the
    course's home folder cannot hold it (then MLflow builds each store itself, as usual)."""
    target = location()
    if target.is_file():
        return target
    # One builder at a time, across processes and threads alike (flock locks an open file, and each
    # caller opens its own): MLflow migrates through alembic, whose migration context is global to
    # the process (two threads' builds fail with KeyError 'script').
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / ".building.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.is_file():  # built by whoever held the lock before
                return target
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as scratch:
                built = Path(scratch) / "mlflow.db"
                _build(built)
                os.replace(built, target)
        return target
    except OSError:
        return None


def _build(database: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{database}", str(database.parent / "artifacts"))
    store.engine.dispose()
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM experiments")  # the Default experiment: made again on first open
    with sqlite3.connect(database) as connection:
        connection.execute("VACUUM")


def seed(database: Path) -> bool:
    """Copy the template to `database` if nothing is there yet; whether it did."""
    database = Path(database)
    if database.exists() or database.is_symlink():
        return False
    source = template()
    if source is None:
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(f".{database.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    try:
        os.link(partial, database)  # never over a database that appeared meanwhile
    except OSError:  # it did appear, or the file system has no hard links: MLflow builds it
        return False
    finally:
        partial.unlink()
    return True


def untouched(database: Path) -> bool:
    """Whether `database` is still the template, byte for byte: no MLflow client ever opened it."""
    source = location()
    try:
        if not source.is_file() or database.stat().st_size != source.stat().st_size:
            return False
        return database.read_bytes() == source.read_bytes()
    except OSError:
        return False

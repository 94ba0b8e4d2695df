"""A new SQLite store copied from the course's migrated template is the store MLflow would have built."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from course import store_template

OPEN_AND_LOG = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
default = client.get_experiment("0")
created = client.create_experiment("mine")
print(default.name, default.artifact_location, created)
"""


def schema(database: Path) -> tuple[set, list]:
    """Every table and index, each definition as its set of lines: MLflow's batch migrations
    write a table's constraints in no fixed order, in the stores it builds too."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        tables = {(kind, name, frozenset(line.strip().rstrip(",") for line in (sql or "").splitlines()))
                  for kind, name, sql in rows}
        version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return tables, version


def open_and_log(database: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", OPEN_AND_LOG, f"sqlite:///{database}"], capture_output=True,
                          text=True, check=True, cwd=database.parent)
    return done.stdout.split()


def test_a_seeded_store_is_the_one_mlflow_builds_with_its_own_default_experiment(tmp_path):
    built, seeded = tmp_path / "built" / "mlflow.db", tmp_path / "seeded" / "mlflow.db"
    built.parent.mkdir()
    assert store_template.seed(seeded)
    assert store_template.untouched(seeded)  # the autograder's "never opened its tracking store"
    name_b, location_b, first_b = open_and_log(built)
    name_s, location_s, first_s = open_and_log(seeded)
    assert schema(built) == schema(seeded)
    assert (name_s, first_s) == (name_b, first_b) == ("Default", "1")
    # MLflow made the Default experiment on first open, where this store keeps its artifacts.
    assert location_s == location_b.replace(str(built.parent), str(seeded.parent))
    assert not store_template.untouched(seeded)


def test_seeding_never_replaces_a_store(tmp_path):
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"a learner's runs")
    assert not store_template.seed(database)
    assert database.read_bytes() == b"a learner's runs"


def test_the_first_stores_of_a_fresh_install_are_seeded_at_once_without_a_clash(tmp_path, monkeypatch):
    # An autograder with two workers on a new machine: both threads want the template before it exists.
    import threading

    monkeypatch.setattr(store_template, "location", lambda: tmp_path / "cache" / "empty-store.db")
    stores = [tmp_path / f"student{n}" / "mlflow.db" for n in range(3)]
    outcomes = {}

    def seed(database):
        try:
            outcomes[database] = store_template.seed(database)
        except Exception as exc:  # noqa: BLE001 - the failure is the finding
            outcomes[database] = exc

    threads = [threading.Thread(target=seed, args=(database,)) for database in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {database: True for database in stores}
    assert all(schema(database) == schema(stores[0]) for database in stores)
    assert schema(stores[0])[1]  # migrated: it names its schema revision

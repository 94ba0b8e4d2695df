"""Point MLflow at one explicit tracking store and experiment.

MLflow's own default (``sqlite:///mlflow.db`` in the current folder, artifacts
in ``./mlruns``) depends on where a kernel happens to start, so the course
never relies on it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from course import paths, store_template, uris

OWN_STORE = "course/own-server-store"  # under the learner's home, beside the hand-outs (~/course)
UI_LINK = "{base}/#/experiments/{experiment_id}?workflowType=machine_learning"


def resolve_uri(tracking_uri: str = "") -> tuple[str, str]:
    """Return (uri, where it came from): the argument, else MLFLOW_TRACKING_URI, else the course store."""
    if tracking_uri:
        return tracking_uri, "the notebook parameter tracking_uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "the MLFLOW_TRACKING_URI environment variable"
    return paths.sqlite_uri(paths.default_store_dir()), "the course default"


def own_server_store(tracking_uri: str = "") -> str:
    """The backend store of a server a notebook starts itself (exercises 01 and 06).

    It is the notebook's own SQLite store. When the tracking URI is already a server, as on a
    class server, that server's database is out of reach, so the notebook's server gets a SQLite
    store of the learner's own: OWN_STORE in their home.
    """
    uri, _ = resolve_uri(tracking_uri)
    if not uris.is_server(uri):
        return uri
    folder = Path.home() / OWN_STORE
    folder.mkdir(parents=True, exist_ok=True)
    return paths.sqlite_uri(folder)


def artifact_root_for(uri: str) -> Path | None:
    """Artifacts for an embedded SQLite store go in an ``artifacts`` folder beside the database.

    A server decides its own artifact location, so for http(s) URIs this is None.
    """
    db_path = uris.sqlite_file(uri)
    return db_path.parent / "artifacts" if db_path else None


def experiment_artifact_location(uri: str, experiment_name: str) -> str | None:
    """One folder per experiment under the store's artifact root (ids are unknown before creation)."""
    root = artifact_root_for(uri)
    if root is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", experiment_name).strip("-") or "experiment"
    return (root / slug).as_uri()


def use_experiment(experiment_name: str, tracking_uri: str = ""):
    """Set the tracking URI, then get or create the experiment and make it active."""
    import mlflow

    uri, source = resolve_uri(tracking_uri)
    database = uris.sqlite_file(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        store_template.seed(database)  # a migrated empty store, instead of ~1 s of migrations
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        mlflow.create_experiment(
            experiment_name, artifact_location=experiment_artifact_location(uri, experiment_name)
        )
    experiment = mlflow.set_experiment(experiment_name)
    print(f"Tracking URI: {uri}  (from {source})")
    print(f"Experiment:   {experiment.name}")
    link = ui_link(uri, experiment.experiment_id)
    if link:
        print(f"Runs in the UI: {link}")
    elif uri == paths.sqlite_uri(paths.default_store_dir()):
        print("Runs in the UI: run `make ui` in a terminal and open the link it prints")
    elif uris.scheme(uri) == "sqlite":
        print(f"Runs in the UI: run `mlflow ui --backend-store-uri {uri}` in a terminal")
    return experiment


def ui_link(uri: str, experiment_id: str) -> str | None:
    """A link straight to an experiment's runs table (the UI otherwise opens its GenAI view)."""
    if not uris.is_server(uri):
        return None
    return UI_LINK.format(base=uri.rstrip("/"), experiment_id=experiment_id)


def workspace_dir(name: str, uri: str) -> Path:
    """A scratch folder (e.g. a git + DVC repository) that belongs with a store: beside an embedded
    store's database; with a server, in the learner's own home (on a class server the course's
    folder is shared by every learner, and read-only on the hub)."""
    root = artifact_root_for(uri)
    base = root.parent if root is not None else Path.home() / "course"
    return base / "workspaces" / name

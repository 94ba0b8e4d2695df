"""``python -m grading doctor``: the usual reasons MLflow "shows nothing", checked one by one.

Each finding is a line: ok, warn or FAIL, what was seen, and for a problem what to do. The
doctor only reads: it opens SQLite read-only and never creates tables, experiments or files
outside a temporary probe that it removes.
"""
from __future__ import annotations

import difflib
import importlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from course import paths, uris
from grading.errors import first_line
from grading.reachability import server_problem


@dataclass
class Finding:
    level: str  # "ok", "warn" or "FAIL"
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level:<5} {self.what}" + (f"\n      fix: {self.fix}" if self.fix else "")


def diagnose(tracking_uri: str | None, experiment: str | None = None) -> list[Finding]:
    uri, source = _uri_in_effect(tracking_uri)
    findings = [Finding("ok", f"tracking URI in effect: {uri} (from {source})")]
    if source.startswith("MLflow's default") and Path("mlruns").is_dir() and any(Path("mlruns").iterdir()):
        findings.append(Finding("warn", "./mlruns holds old file-store data in this folder",
                                "set MLFLOW_TRACKING_URI explicitly; MLflow 3 refuses file stores and may pick the wrong store"))
    scheme = uris.scheme(uri)
    if uris.is_file_store(uri):
        return findings + [Finding("FAIL", f"{uri} is a file store, which MLflow refuses since 3.13",
                                   "use sqlite:///ABSOLUTE/PATH/mlflow.db; move old runs into it once with "
                                   "`mlflow migrate-filestore --source ./mlruns --target sqlite:///ABSOLUTE/PATH/mlflow.db`")]
    if scheme in ("http", "https"):
        problem = _server_problem(uri)
        if problem:
            return findings + [problem]
        findings.append(Finding("ok", f"the server at {uri} answers /health"))
    elif scheme == "sqlite":
        problem = _sqlite_problem(uri)
        if problem:
            return findings + [problem]
        findings.append(Finding("ok", "the SQLite database is migrated and consistent"))
    else:
        missing = _missing_driver(scheme)
        if missing:
            return findings + [missing]
    findings += _store_findings(uri, experiment)
    return findings


def _uri_in_effect(tracking_uri: str | None) -> tuple[str, str]:
    if tracking_uri:
        return tracking_uri, "--tracking-uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "the MLFLOW_TRACKING_URI environment variable"
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}", (
        "MLflow's default with MLFLOW_TRACKING_URI unset: mlflow.db in the current folder; "
        f"the course's notebooks use {paths.sqlite_uri(paths.default_store_dir())}")


def _server_problem(uri: str) -> Finding | None:
    problem = server_problem(uri)
    return Finding("FAIL", *problem) if problem else None


def _sqlite_problem(uri: str) -> Finding | None:
    path = uris.sqlite_file(uri) or Path(uri)
    if not path.exists():
        return Finding("FAIL", f"no database at {path}: this store is empty",
                       "run the notebooks against this URI, or point --tracking-uri at the store they used")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
            version = db.execute("select version_num from alembic_version").fetchone() if "alembic_version" in tables else None
    except sqlite3.Error as exc:
        return Finding("FAIL", f"{path} is not a readable SQLite database ({exc})", "restore it, or start a new store")
    leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
    head = _migration_head()
    if leftovers or version is None or (head and version[0] != head):
        seen = f"leftover {', '.join(leftovers)}" if leftovers else (
            "no schema version" if version is None else f"schema {version[0]}, not {head}")
        return Finding("FAIL", f"the database's migration did not complete ({seen}): "
                       "several processes probably opened the fresh database at once",
                       f"stop them, then run `mlflow db upgrade {uri}` once (or delete the new, empty database) "
                       "before starting parallel jobs")
    return None


def _migration_head() -> str | None:
    try:
        from alembic.script import ScriptDirectory
        from mlflow.store.db.utils import _get_alembic_config

        return ScriptDirectory.from_config(_get_alembic_config("sqlite://")).get_current_head()
    except Exception:  # the check still runs without knowing the head
        return None


DRIVERS = {"postgresql": ("psycopg", "psycopg[binary]"), "postgresql+psycopg2": ("psycopg2", "psycopg2-binary"),
           "postgresql+psycopg": ("psycopg", "psycopg[binary]"), "mysql": ("MySQLdb", "mysqlclient"),
           "mysql+pymysql": ("pymysql", "PyMySQL"), "mssql": ("pyodbc", "pyodbc")}


def _missing_module(module: str) -> bool:
    try:
        importlib.import_module(module)
        return False
    except ImportError:
        return True


def _missing_driver(scheme: str) -> Finding | None:
    module, package = DRIVERS.get(scheme, (None, None))
    if module and _missing_module(module):
        hint = (" SQLAlchemy 2.1 maps postgresql:// to psycopg 3; with psycopg2-binary write postgresql+psycopg2://"
                if scheme == "postgresql" else "")
        return Finding("FAIL", f"the {scheme}:// URI needs the {module} module, which is not installed",
                       f"pip install {package}.{hint}")
    return None


def _store_findings(uri: str, experiment: str | None) -> list[Finding]:
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
    except Exception as exc:  # MLflow has no store for this scheme
        return [Finding("FAIL", f"MLflow cannot use {uri}: {first_line(exc, 160) or type(exc).__name__}",
                        "use http(s)://HOST:PORT, sqlite:///ABSOLUTE/PATH/mlflow.db or a database URI such as "
                        "postgresql+psycopg2://USER:PASSWORD@HOST/DB")]
    try:
        experiments = client.search_experiments(max_results=1000)
    except Exception as exc:  # a refused query still gets one line
        return [Finding("FAIL", f"the store refused a query: {first_line(exc) or type(exc).__name__}",
                        "check credentials and that the database is running")]
    findings = []
    names = [e.name for e in experiments]
    with_runs = [e for e in experiments if client.search_runs([e.experiment_id], max_results=1)]
    if not with_runs:
        findings.append(Finding("FAIL", f"the store holds no runs ({len(experiments)} experiment(s): {', '.join(names[:5])})",
                                "the notebooks probably logged elsewhere: run them with this URI "
                                "(MLFLOW_TRACKING_URI), or open the store they used"))
    else:
        findings.append(Finding("ok", f"{len(experiments)} experiment(s), {len(with_runs)} with runs"))
    if experiment and experiment not in names:
        close = difflib.get_close_matches(experiment, names, n=3, cutoff=0.5)
        findings.append(Finding("FAIL", f"no experiment named {experiment!r}",
                                f"did you mean {', '.join(map(repr, close))}?" if close else
                                f"the experiments here are: {', '.join(names[:10])}"))
    findings += _artifact_findings(experiments)
    return findings


def _artifact_findings(experiments) -> list[Finding]:
    findings = []
    for location in sorted({e.artifact_location for e in experiments}):
        scheme = uris.scheme(location)
        if scheme == "s3" and _missing_module("boto3"):
            findings.append(Finding("FAIL", f"artifacts at {location} need boto3, which is not installed",
                                    "pip install boto3 (and set MLFLOW_S3_ENDPOINT_URL for a non-AWS S3 server)"))
        elif scheme in ("", "file"):
            folder = uris.local_path(location) or Path(location)
            problem = _unwritable(folder)
            if problem:
                findings.append(Finding("FAIL", f"the artifact location {folder} cannot be written ({problem})",
                                        "create it with write permission, or give the experiment another artifact "
                                        "location (a server: --artifacts-destination)"))
    if not findings:
        findings.append(Finding("ok", "artifact locations are writable or remote"))
    return findings


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written in folder (or the nearest folder above it that exists), or None.
    Tries for real: permission bits say nothing for root or on a read-only mount."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".doctor-probe-"):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def main(tracking_uri: str | None, experiment: str | None) -> int:
    findings = diagnose(tracking_uri, experiment)
    for finding in findings:
        print(finding.line())
    problems = sum(f.level == "FAIL" for f in findings)
    print(f"\n{problems} problem(s) found" if problems else "\nno problems found")
    return 1 if problems else 0

"""`check` only reads the tracking store it grades.

MLflow creates a missing SQLite database, migrates an empty one and adds its default
experiment, so a SQLite store must already be a current MLflow database before MLflow
opens it; and every SQLAlchemy connection to it is then made query-only as well.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from course import uris
from grading.errors import UsageError

TABLES = ("alembic_version", "experiments", "runs")
_protected: set[str] = set()  # real paths of the database files no connection may write
_installed = False


def require_store(uri: str) -> Path:
    """The database file a sqlite:/// URI names, once it is known to be a current MLflow store."""
    path = uris.sqlite_file(uri)
    if path is None or "?" in uri:  # SQLAlchemy would read a query as connection options
        raise UsageError(f"{uri} is not a SQLite URI with a path; use sqlite:///ABSOLUTE/PATH/mlflow.db")
    try:
        mode = path.stat().st_mode  # follows a symlink: its target must be a regular file
    except OSError as exc:
        raise UsageError(f"no tracking store at {path} ({exc.strerror}); run the notebooks against {uri} first, "
                         "or pass --tracking-uri with the store they logged to") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a folder, not a database; pass --tracking-uri with the database file in it, "
                         f"e.g. sqlite:///{path}/mlflow.db")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path} is not a regular file; pass --tracking-uri with the mlflow.db file of a store")
    problem = store_problem(path, uri)
    if problem:
        raise UsageError(problem)
    return path


def store_problem(path: Path, uri: str) -> str | None:
    try:
        db = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        return f"cannot open {path} read-only ({exc})"
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in TABLES if t not in tables]
        if missing:
            return (f"{path} is not an MLflow tracking store (it lacks the table{'s' * (len(missing) > 1)} "
                    f"{', '.join(missing)}); pass --tracking-uri with the store your notebooks logged to")
        shape = _shape_problem(db, tables)
        if shape:
            return f"{path} {shape}; pass --tracking-uri with a store MLflow made"
        revisions = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
        default = db.execute("SELECT 1 FROM experiments WHERE experiment_id = 0").fetchone()
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database", "database is locked"
        return f"cannot read {path} as an MLflow store ({exc}); pass --tracking-uri with the store's mlflow.db"
    finally:
        db.close()
    schema = _schema_problem(revisions[0] if len(revisions) == 1 else None, uri)
    if schema:
        return f"{path} {schema}"
    if default is None:  # MLflow's store writes it when missing
        return (f"{path} has no default experiment (id 0), which MLflow would write; open the store once "
                f"with MLflow first, e.g. `mlflow server --backend-store-uri {uri}`")
    return None


def _shape_problem(db: sqlite3.Connection, tables: set[str]) -> str | None:
    """A view or a virtual table runs a query of the file's author on every read (a view can
    return rows without end), and a missing table makes MLflow create it: refuse both."""
    entries = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    views = sorted(name for kind, name, _ in entries if kind == "view")
    if views:
        return f"has views ({', '.join(views[:3])}), which MLflow never creates"
    virtual = sorted(name for kind, name, sql in entries if (sql or "").lstrip().upper().startswith("CREATE VIRTUAL"))
    if virtual:
        return f"has virtual tables ({', '.join(virtual[:3])}), which MLflow never creates"
    missing = sorted(MLFLOW_TABLES - tables)
    if missing:
        return f"lacks MLflow tables ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
    return None


# The tables a current store of the pinned MLflow holds besides alembic_version (test_check_cli compares
# them with a store MLflow made). Data, so that refusing a store never imports MLflow (2-8 s).
MLFLOW_TABLES = frozenset("""
    assessments budget_policies datasets endpoint_bindings endpoint_model_mappings endpoint_tags endpoints
    entity_associations evaluation_dataset_records evaluation_dataset_tags evaluation_datasets experiment_tags
    experiments guardrail_configs guardrails input_tags inputs issues job_locks jobs label_schemas
    latest_metrics logged_model_metrics logged_model_params logged_model_tags logged_models
    mcp_access_endpoints mcp_server_aliases mcp_server_tags mcp_server_version_tags mcp_server_versions
    mcp_servers metrics model_definitions model_version_tags model_versions online_scoring_configs params
    registered_model_aliases registered_model_tags registered_models review_queue_items
    review_queue_label_schemas review_queue_users review_queues runs scheduler_leases scorer_versions scorers
    secrets span_metrics spans sql_assessment_daily_rollups sql_span_cost_daily_rollups
    sql_trace_metric_daily_rollups sql_trace_rollup_rebuild_queue tags trace_info trace_metrics
    trace_request_metadata trace_tags webhook_events webhooks workspaces
""".split())


def _schema_problem(revision: str | None, uri: str) -> str | None:
    upgrade = f"back it up, then run `mlflow db upgrade {uri}`"
    if not revision:
        return f"records no MLflow schema version (a migration that did not finish?); {upgrade}"
    try:  # the revision MLflow's own _verify_schema requires
        head, known = _revisions()
    except Exception:  # head unknown: MLflow's own check runs when it opens the store
        return None
    if revision not in known:
        return f"has MLflow schema {revision}, which this MLflow does not know; grade it with the MLflow that wrote it"
    if revision != head:
        return f"has the older MLflow schema {revision}, not {head}; {upgrade}"
    return None


_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*=\s*["']([0-9a-f]+)["']""", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def _revisions() -> tuple[str, frozenset[str]]:
    """MLflow's head schema revision and every revision it knows, read from its migration scripts'
    `revision` and `down_revision` lines: alembic itself runs every script (MLflow imported, 2-8 s)."""
    spec = importlib.util.find_spec("mlflow")  # finds the package without running its __init__
    folder = Path(spec.origin).parent / "store" / "db_migrations" / "versions"
    known, parents = set(), set()
    for script in folder.glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            known.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = known - parents
    if len(heads) != 1:
        raise RuntimeError(f"MLflow's migrations have {len(heads)} heads")
    return heads.pop(), frozenset(known)


def remember_schema_head() -> None:
    """Have MLflow's store check its schema against the head computed once in this process, not
    re-parse its migrations each time it opens a store (in a grader's process alone)."""
    from mlflow.store.db import utils

    head = _revisions()[0]
    utils._get_latest_schema_revision = lambda: head


def protect(path: Path) -> None:
    """Make every later SQLAlchemy connection to this SQLite file query-only, in this process."""
    global _installed
    _protected.add(os.path.realpath(path))
    if not _installed:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "connect", _query_only)
        _installed = True


def _query_only(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
    if any(f and os.path.realpath(f) in _protected for f in files):
        dbapi_connection.execute("PRAGMA query_only = ON")

"""`python -m grading check` and `list` as a user runs them."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import assert_one_line_error, run_cli
from grading.engine import expectations, readonly


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory) -> Path:
    """A new, empty store as MLflow makes it (migrated, with the default experiment). `check` only
    reads, so the tests share it; those that alter one use a copy."""
    db = tmp_path_factory.mktemp("mlflow-store") / "mlflow.db"
    subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                    "MlflowClient(sys.argv[1]).search_experiments()", f"sqlite:///{db}"],
                   check=True, capture_output=True, timeout=300)
    return db


@pytest.fixture
def store(mlflow_db) -> str:
    return f"sqlite:///{mlflow_db}"


def test_list_shows_every_target_with_its_checks_and_points():
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    for target in ["01-tracking-server", "02-first-experiment", "03-query-runs", "04-sweep-compare", "05-plots-artifacts"]:
        spec = expectations.load(target)
        assert f"{target}  {spec.title}  ({spec.max_score:g} points)" in result.stdout
        for check in spec.checks:
            assert check.id in result.stdout


def test_unknown_target_lists_the_valid_ones(store):
    result = run_cli("check", "no-such-target", "--tracking-uri", store)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "02-first-experiment" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_store_fails_and_names_the_missing_experiment(store, tmp_path):
    result = run_cli("check", "02-first-experiment", "--tracking-uri", store)
    assert result.returncode == 1
    assert "FAIL  experiment" in result.stdout
    assert "expected an experiment named 'iris-classifier'; found no such experiment" in result.stdout
    assert "score 0/16" in result.stdout


def test_unreachable_server_exits_2_within_15_seconds():
    started = time.monotonic()
    result = run_cli("check", "02-first-experiment", "--tracking-uri", "http://127.0.0.1:9")
    assert time.monotonic() - started < 15
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and "Traceback" not in result.stderr


def test_gradescope_report_is_written_to_a_file(store, tmp_path):
    out = tmp_path / "results" / "results.json"
    result = run_cli("check", "05-plots-artifacts", "--tracking-uri", store, "--format", "gradescope", "--out", str(out))
    assert result.returncode == 1
    assert f"report written to {out}" in result.stdout
    report = json.loads(out.read_text())
    assert report["score"] == 0 and len(report["tests"]) == len(expectations.load("05-plots-artifacts").checks)
    assert all(t["status"] == "failed" and t["max_score"] > 0 for t in report["tests"])


def test_experiment_prefix_scopes_the_names(store):
    result = run_cli("check", "01-tracking-server", "--tracking-uri", store, "--experiment-prefix", "alice-",
                     "--format", "json")
    report = json.loads(result.stdout)
    assert "'alice-smoke-test'" in report["checks"][0]["message"]


def test_every_expectation_file_loads():
    assert expectations.targets()[:5] == ["01-tracking-server", "02-first-experiment", "03-query-runs",
                                          "04-sweep-compare", "05-plots-artifacts"]
    for target in expectations.targets():
        assert expectations.load(target).max_score > 0


def test_list_shows_the_good_files_and_then_names_the_bad_one(tmp_path):
    folder = tmp_path / "expectations"
    folder.mkdir()
    for good in ("01-tracking-server", "lab04"):
        shutil.copy(expectations.FOLDER / f"{good}.yaml", folder)
    bad = yaml.safe_load((expectations.FOLDER / "lab04.yaml").read_text())
    del next(c for c in bad["checks"] if c["id"] == "truthful")["metric"]
    (folder / "03-bad.yaml").write_text(yaml.safe_dump(bad))
    result = run_cli("list", "--expectations", str(folder))
    assert_one_line_error(result, f"{folder / '03-bad.yaml'}: check 'truthful' lacks field 'metric'")
    assert "01-tracking-server  The tracking server" in result.stdout
    assert "lab04  Lab 04" in result.stdout and "03-bad" not in result.stdout  # the file after the bad one too


def _snapshot(folder: Path) -> dict:
    """Every path under folder with its bytes or link target: what `check` must leave as it was."""
    return {str(p.relative_to(folder)): os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def _sql(db: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def _alembic_script():
    """MLflow's migrations as alembic reads them: the reference for what `check` knows of them."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    return ScriptDirectory.from_config(_get_alembic_config(""))


def _older_revision() -> str:
    script = _alembic_script()
    return script.get_revision(script.get_current_head()).down_revision


NOT_A_STORE = {  # case: words the one line must hold
    "missing path": "no tracking store at",
    "directory": "is a folder, not a database",
    "text file": "file is not a database",
    "empty file": "lacks the tables alembic_version, experiments, runs",
    "foreign SQLite database": "is not an MLflow tracking store",
    "symlink to /dev/zero": "is not a regular file",
    "older schema": "mlflow db upgrade sqlite:///",
    "no default experiment": "no default experiment (id 0)",
}


def _not_a_store(case: str, place: Path, store: Path) -> Path:
    """Make in `place` what `check` is pointed at; `store` is an empty store MLflow made."""
    path = place / "mlflow.db"
    if case == "missing path":
        return place / "nowhere" / "deeper" / "mlflow.db"
    if case == "directory":
        return place
    if case == "text file":
        path.write_text("not a database\n")
    elif case == "empty file":
        path.touch()
    elif case == "foreign SQLite database":
        _sql(path, "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    elif case == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif case == "older schema":
        shutil.copy(store, path)
        _sql(path, f"UPDATE alembic_version SET version_num = '{_older_revision()}'")
    elif case == "no default experiment":
        shutil.copy(store, path)
        _sql(path, "DELETE FROM experiments WHERE experiment_id = 0")
    return path


def test_checks_schema_facts_match_the_installed_mlflow_and_refusing_imports_no_mlflow(mlflow_db):
    """check refuses a store from its own record of MLflow's tables and migrations, so that it answers in
    well under a second; the record must be what the pinned MLflow makes."""
    with contextlib.closing(sqlite3.connect(mlflow_db)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        (revision,), = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert readonly.MLFLOW_TABLES == tables - {"alembic_version"}
    script = _alembic_script()
    known = frozenset(r.revision for r in script.walk_revisions())
    assert readonly._revisions() == (script.get_current_head(), known) and revision == script.get_current_head()
    probe = ("import sys; from grading.engine import expectations, readonly; "
             "expectations.load('02-first-experiment', filters=False); "
             "print(readonly.store_problem(readonly.require_store(sys.argv[1]), sys.argv[1]), 'mlflow' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", probe, f"sqlite:///{mlflow_db}"], capture_output=True, text=True,
                           cwd=Path(__file__).parent.parent, timeout=60)
    assert shown.stdout.split() == ["None", "False"], shown.stderr


@pytest.mark.parametrize("case", NOT_A_STORE)
def test_check_refuses_what_is_not_a_current_mlflow_store_and_changes_nothing(tmp_path, mlflow_db, case):
    place, cwd = tmp_path / "place", tmp_path / "cwd"
    place.mkdir()
    cwd.mkdir()
    uri = f"sqlite:///{_not_a_store(case, place, mlflow_db)}"
    before = _snapshot(tmp_path)
    started = time.monotonic()
    result = run_cli("check", "02-first-experiment", "--tracking-uri", uri, cwd=cwd, timeout=60)
    assert time.monotonic() - started < 15
    assert_one_line_error(result, NOT_A_STORE[case])
    assert _snapshot(tmp_path) == before, "check created, changed or removed a file"


def test_check_reads_a_store_mlflow_made_without_changing_it(tmp_path, mlflow_db):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    db = Path(shutil.copy(mlflow_db, tmp_path / "mlflow.db"))
    before = _snapshot(tmp_path)
    result = run_cli("check", "02-first-experiment", "--tracking-uri", f"sqlite:///{db}", cwd=cwd, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "score 0/16" in result.stdout
    assert _snapshot(tmp_path) == before


def test_a_protected_store_can_be_read_but_not_written(tmp_path, mlflow_db):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    protected = Path(shutil.copy(mlflow_db, tmp_path / "protected.db"))
    unprotected = Path(shutil.copy(mlflow_db, tmp_path / "open.db"))
    before = protected.read_bytes()
    readonly.protect(protected)
    client = MlflowClient(f"sqlite:///{protected}")  # MLflow's store init writes nothing to a current store
    assert [e.name for e in client.search_experiments()] == ["Default"]
    with pytest.raises(MlflowException, match="readonly database"):
        client.create_experiment("written")
    assert protected.read_bytes() == before
    assert MlflowClient(f"sqlite:///{unprotected}").create_experiment("written")  # only registered files


def test_an_out_of_date_schema_error_from_mlflow_becomes_one_line_with_the_fix(monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    from grading import reachability
    from grading.errors import UsageError

    class OldStore:
        def __init__(self, tracking_uri):
            pass

        def search_experiments(self, max_results):
            raise MlflowException("Detected out-of-date database schema (found version a, but expected b).\nmore")

    monkeypatch.setattr(mlflow, "MlflowClient", OldStore)
    with pytest.raises(UsageError, match=r"run `mlflow db upgrade sqlite:////x/mlflow.db`$"):
        reachability.probe_store("sqlite:////x/mlflow.db")


def test_a_notebooks_self_checks_share_one_server_and_survive_its_death(mlflow_db, monkeypatch):
    """The first check starts grading.check_server; the next reuses it (no new interpreter and
    imports) and sees a change the kernel made to its MLflow variables; a dead server is replaced."""
    from grading import selfcheck

    uri = f"sqlite:///{mlflow_db}"
    first = selfcheck.check("01-tracking-server", tracking_uri=uri, only=["experiment"])
    assert first.result is not None and not first.passed  # an empty store: the check runs, and fails
    server = selfcheck._server
    started = time.perf_counter()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone")  # forwarded: the reply would say if it broke
    second = selfcheck.check("01-tracking-server", tracking_uri=uri, only=["experiment"])
    assert second.result is not None and selfcheck._server is server
    assert time.perf_counter() - started < 2.0  # no interpreter start, no MLflow import
    os.killpg(server.pid, 9)
    server.wait()
    third = selfcheck.check("01-tracking-server", tracking_uri=uri, only=["experiment"])
    assert third.result is not None and selfcheck._server is not server
    missing = selfcheck.check("01-tracking-server", tracking_uri=f"sqlite:///{mlflow_db.parent / 'none.db'}")
    assert missing.result is None and missing.error.startswith("error: no tracking store at")
    selfcheck._stop_server()

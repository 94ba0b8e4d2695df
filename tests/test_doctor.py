"""`python -m grading doctor`: each condition of the troubleshooting matrix, reproduced and named."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import run_cli

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}


def doctor(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", "doctor", *args], capture_output=True, text=True,
                          env={**CLEAN_ENV, **(env or {})}, cwd=cwd or Path.cwd(), timeout=120)


def blocked(tmp_path: Path, *modules: str) -> dict:
    """An environment in which importing these modules fails, as if they were not installed."""
    folder = tmp_path / "blocked"
    folder.mkdir(exist_ok=True)
    for module in modules:
        (folder / f"{module}.py").write_text(f"raise ImportError('{module} is blocked for this test')\n")
    return {"PYTHONPATH": str(folder)}


def make_store(uri: str, experiment: str | None = "iris-classifier", artifact_location: str | None = None) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    if experiment:
        experiment_id = client.create_experiment(experiment, artifact_location=artifact_location)
        run = client.create_run(experiment_id)
        client.set_terminated(run.info.run_id)


def test_it_says_which_uri_is_in_effect_and_where_it_came_from(tmp_path, store):
    default = doctor(cwd=tmp_path)
    assert f"sqlite:///{tmp_path / 'mlflow.db'}" in default.stdout and "MLflow's default" in default.stdout
    assert not (tmp_path / "mlflow.db").exists(), "the doctor must not create a store"
    from_env = doctor(env={"MLFLOW_TRACKING_URI": store}, cwd=tmp_path)
    assert f"{store} (from the MLFLOW_TRACKING_URI environment variable)" in from_env.stdout


def test_an_unreachable_server_is_named_with_how_to_start_one():
    result = doctor("--tracking-uri", "http://127.0.0.1:9")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no MLflow tracking server answers at http://127.0.0.1:9" in result.stdout
    assert "make ui" in result.stdout and "mlflow server" in result.stdout


@pytest.mark.slow
def test_a_403_from_the_host_header_check_is_named(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--allowed-hosts", "mlflow:5000"],
        env={**CLEAN_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        _wait_listening(port)
        result = doctor("--tracking-uri", f"http://127.0.0.1:{port}")
        assert result.returncode == 1
        assert "403" in result.stdout and "--allowed-hosts 127.0.0.1" in result.stdout, result.stdout
    finally:
        os.killpg(server.pid, 9)
        server.wait()


def test_a_file_store_is_refused_with_the_replacement():
    result = doctor("--tracking-uri", "file:///tmp/old-mlruns")
    assert result.returncode == 1 and "file store" in result.stdout and "sqlite:///" in result.stdout


def test_an_empty_store_and_a_wrong_experiment_name(tmp_path):
    missing = doctor("--tracking-uri", f"sqlite:///{tmp_path / 'nothing' / 'mlflow.db'}")
    assert missing.returncode == 1 and "this store is empty" in missing.stdout
    assert not (tmp_path / "nothing").exists()

    empty = f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}"
    (tmp_path / "empty").mkdir()
    make_store(empty, experiment=None)
    result = doctor("--tracking-uri", empty)
    assert result.returncode == 1 and "holds no runs" in result.stdout

    full = f"sqlite:///{tmp_path / 'full' / 'mlflow.db'}"
    (tmp_path / "full").mkdir()
    make_store(full)
    right = doctor("--tracking-uri", full, "--experiment", "iris-classifier")
    assert right.returncode == 0 and "no problems found" in right.stdout, right.stdout
    wrong = doctor("--tracking-uri", full, "--experiment", "iris-clasifier")
    assert wrong.returncode == 1 and "did you mean 'iris-classifier'" in wrong.stdout


def test_an_interrupted_sqlite_migration_is_named(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    make_store(uri)
    with sqlite3.connect(tmp_path / "mlflow.db") as db:  # what a second process's half-done migration leaves
        db.execute("create table _alembic_tmp_metrics (key varchar(250))")
    result = doctor("--tracking-uri", uri)
    assert result.returncode == 1 and "_alembic_tmp_metrics" in result.stdout
    assert f"mlflow db upgrade {uri}" in result.stdout

    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        db.execute("drop table _alembic_tmp_metrics")
        db.execute("update alembic_version set version_num = '0584bdc529eb'")
    stale = doctor("--tracking-uri", uri)
    assert stale.returncode == 1 and "schema 0584bdc529eb" in stale.stdout


def test_an_artifact_location_that_cannot_be_written(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    make_store(uri, artifact_location="file:///proc/course-doctor/artifacts")
    result = doctor("--tracking-uri", uri)
    assert result.returncode == 1 and "/proc/course-doctor/artifacts cannot be written" in result.stdout


def test_missing_database_driver_and_s3_client(tmp_path):
    result = doctor("--tracking-uri", "postgresql+psycopg2://mlflow:secret@127.0.0.1:9/mlflow", env=blocked(tmp_path, "psycopg2"))
    assert result.returncode == 1 and "needs the psycopg2 module" in result.stdout and "psycopg2-binary" in result.stdout

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    make_store(uri, artifact_location="s3://mlflow/artifacts")
    s3 = doctor("--tracking-uri", uri, env=blocked(tmp_path, "boto3"))
    assert s3.returncode == 1 and "need boto3" in s3.stdout and "MLFLOW_S3_ENDPOINT_URL" in s3.stdout


def test_an_unsupported_scheme_is_named_without_a_traceback():
    result = doctor("--tracking-uri", "foo://x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "MLflow cannot use foo://x" in result.stdout and "sqlite:///" in result.stdout


def test_bad_arguments_exit_2_without_a_traceback():
    result = run_cli("doctor", "--no-such-flag")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers, even if with 403
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no server on port {port} after {timeout} s")

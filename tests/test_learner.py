"""Learner namespaces: one identity decides the names the notebooks create and the grader looks for."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from course import learner


@pytest.fixture
def nobody(monkeypatch, tmp_path):
    """A laptop: no course variable, no MLflow login, no credentials file."""
    for name in ("COURSE_LEARNER", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_a_laptop_keeps_the_course_names(nobody):
    assert learner.prefix() == "" and learner.named("lab04-classifier") == "lab04-classifier"


def test_the_mlflow_login_names_the_namespace_and_the_course_variable_overrides_it(nobody, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    assert learner.named("lab04-classifier") == "alice-lab04-classifier"
    assert learner.named(learner.named("lab04")) == "alice-lab04"  # applying it twice changes nothing
    monkeypatch.setenv("COURSE_LEARNER", "team a/b:c")  # characters a registered model name cannot hold
    assert learner.named("lab04") == "team-a-b-c-lab04"


def test_the_credentials_file_counts_as_mlflows_client_reads_it(nobody):
    (nobody / ".mlflow").mkdir()
    (nobody / ".mlflow" / "credentials").write_text(
        "[mlflow]\nmlflow_tracking_username = carol\nmlflow_tracking_password = secret\n")
    assert learner.prefix() == "carol-"


def test_check_applies_the_same_namespace_without_an_argument(nobody, tmp_path):
    import mlflow

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(store).search_experiments()  # an empty store, as MLflow leaves it
    env = {"HOME": str(nobody), "COURSE_LEARNER": "dave"}
    report = json.loads(run_cli("check", "01-tracking-server", "--tracking-uri", store, "--format", "json",
                                env=env).stdout)
    assert "'dave-smoke-test'" in report["checks"][0]["message"]
    other = json.loads(run_cli("check", "01-tracking-server", "--tracking-uri", store, "--format", "json",
                               "--learner", "erin", env=env).stdout)
    assert "'erin-smoke-test'" in other["checks"][0]["message"]

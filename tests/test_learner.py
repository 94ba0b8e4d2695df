"""Learner namespaces: one identity decides the names the notebooks create and the grader looks for."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
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


SOURCES = sorted((ROOT / "notebooks" / "source").glob("*.py")) + sorted((ROOT / "labs" / "source").glob("*.py"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_name_a_notebook_creates_goes_through_the_learners_namespace(source):
    """On a class server two learners must never create the same experiment or registered model."""
    text = source.read_text()
    names = re.findall(r"^(\w*(?:experiment_name|registered_model_name)): str = ", text, flags=re.M)
    assert names, "every notebook names its experiment as a parameter"
    for name in names:
        assert re.search(rf"^{name} = named\({name}\)", text, flags=re.M), f"{name} is not passed through named()"


def test_a_server_a_notebook_starts_gets_a_store_of_the_learners_own_on_a_class_server(nobody, monkeypatch):
    from course import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////srv/laptop/mlflow.db")
    assert tracking.own_server_store() == "sqlite:////srv/laptop/mlflow.db"  # a laptop: the notebook's own store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://class.example:5000")
    own = tracking.own_server_store()
    assert own == f"sqlite:///{nobody / 'course' / 'own-server-store' / 'mlflow.db'}"
    assert (nobody / "course" / "own-server-store").is_dir()


def test_run_course_grades_a_set_that_starts_its_own_server_where_it_logged(nobody):
    from grading.run_course import runner, sections

    section = next(s for s in sections.all_sections() if s.id == "01-tracking-server")
    own_server_set = sections.exercises_for(section)
    assert runner.logged_to(section, "http://class.example:5000") == "http://class.example:5000"
    assert runner.logged_to(own_server_set, "http://class.example:5000") == \
        f"sqlite:///{nobody / 'course' / 'own-server-store' / 'mlflow.db'}"
    assert runner.logged_to(own_server_set, "sqlite:////srv/laptop/mlflow.db") == "sqlite:////srv/laptop/mlflow.db"


def test_a_notebooks_scratch_repository_is_the_learners_own_on_a_server(nobody):
    from course import tracking

    assert tracking.workspace_dir("churn-lineage", "sqlite:////srv/laptop/mlflow.db") == \
        Path("/srv/laptop/workspaces/churn-lineage")
    assert tracking.workspace_dir("churn-lineage", "http://class.example:5000") == \
        nobody / "course" / "workspaces" / "churn-lineage"

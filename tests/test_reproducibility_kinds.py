"""The reproducible and lineage checks against runs and a git repository made here, honest and not."""
from __future__ import annotations

import hashlib
import os
import subprocess

import mlflow
import pandas as pd
import pytest

from course import paths, tracking
from grading.engine import expectations, grader

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_version(repo, content: bytes) -> tuple[str, str]:
    """Write data, a .dvc-style pointer with its md5, commit; return (md5, commit)."""
    md5 = hashlib.md5(content).hexdigest()
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "churn.csv.dvc").write_text(f"outs:\n- md5: {md5}\n  size: {len(content)}\n  hash: md5\n  path: churn.csv\n")
    git(repo, "add", "data/churn.csv.dvc")
    git(repo, "commit", "-q", "-m", f"data {md5[:6]}")
    return md5, git(repo, "rev-parse", "HEAD")


def log_run(name, repo, version, commit, digest=None, accuracy=0.9, model="forest", pair=""):
    frame = pd.DataFrame({"x": [1, 2], "churn": [0, 1]})
    with mlflow.start_run(run_name=name):
        mlflow.log_params({"model": model, "random_state": 42})
        mlflow.log_metric("accuracy", accuracy)
        mlflow.set_tags({"data_version": version, "git_commit": commit, "lineage.repo": str(repo), "pair": pair})
        mlflow.log_input(mlflow.data.from_pandas(frame, source="t", name="churn", digest=digest or version))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage")
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    v1, c1 = commit_version(repo, b"a,b\n1,2\n")
    v2, c2 = commit_version(repo, b"a,b\n1,2\n3,4\n")
    uri = paths.sqlite_uri(root / "store")
    tracking.use_experiment("lineage", uri)
    log_run("honest-v1", repo, v1, c1, pair="repeat")
    log_run("honest-v2", repo, v2, c2, accuracy=0.8, pair="drift")
    log_run("again-v1", repo, v1, c1, pair="repeat")  # a reproduction: same params, same data, same metrics
    log_run("wrong-version", repo, v2, c1)  # claims v2 at a commit that holds v1
    log_run("made-up-commit", repo, v1, "0" * 40)
    log_run("wrong-digest", repo, v1, c1, digest="f" * 32)
    log_run("drifted", repo, v2, c2, accuracy=0.7, pair="drift")  # same params and data as honest-v2, other metric
    return uri


def grade(uri, check, where):
    """Grade one check over the runs matching a filter."""
    data = {"experiments": {"main": "lineage"},
            "runs": {"sel": {"experiment": "main", "keep": "all", "filter": where}},
            "checks": [{"id": "c", "points": 1, "description": "d", "hint": "h", **check}]}
    return grader.grade(expectations.parse("t", data), uri).checks[0]


LINEAGE = {"kind": "lineage", "runs": "sel", "repo_tag": "lineage.repo", "commit_tag": "git_commit",
           "version_tag": "data_version", "dvc_file": "data/churn.csv.dvc"}


@pytest.mark.parametrize("run, words", [
    ("honest-v1", None), ("honest-v2", None),
    ("wrong-version", "data/churn.csv.dvc at"), ("made-up-commit", "is not a commit of"),
    ("wrong-digest", "no dataset input with digest"),
])
def test_lineage_is_checked_against_the_repository(store, run, words):
    check = grade(store, LINEAGE, f"tags.mlflow.runName = '{run}'")
    if words is None:
        assert check.passed, check.message
    else:
        assert not check.passed and words in check.message and run in check.message


REPRODUCIBLE = {"kind": "reproducible", "runs": "sel", "same": ["params.model", "params.random_state", "inputs.digest"],
                "metrics": ["accuracy"], "min_repeated": 1}


def test_equal_params_and_data_must_give_equal_metrics(store):
    check = grade(store, REPRODUCIBLE, "tags.mlflow.runName = 'honest-v1'")
    assert not check.passed and "0 configuration(s) run more than once" in check.message
    drifted = grade(store, REPRODUCIBLE, "tags.pair = 'drift'")
    assert not drifted.passed and "share params.model" in drifted.message
    assert "accuracy is 0.7 vs 0.8" in drifted.message or "accuracy is 0.8 vs 0.7" in drifted.message


def test_a_repeated_configuration_with_equal_metrics_passes(store):
    check = grade(store, REPRODUCIBLE, "tags.pair = 'repeat'")
    assert check.passed, check.message


@pytest.mark.slow
def test_reproduce_reruns_the_project_and_catches_a_logged_metric_it_cannot_repeat(tmp_path):
    uri = paths.sqlite_uri(tmp_path / "store")
    tracking.use_experiment("forest-project", uri)
    with mlflow.start_run():  # claims to be a project run, with an accuracy the project does not give
        mlflow.log_params({"n_estimators": 10, "max_depth": 2, "random_state": 42, "test_size": 0.25})
        mlflow.log_metrics({"accuracy": 0.5, "f1_macro": 0.5})
        mlflow.set_tags({"mlflow.project.entryPoint": "main"})
    spec = expectations.load("07-mlflow-projects")
    check = grader.grade(spec, uri, options={"reproduce"}, only=["reproduce"]).checks[0]
    assert not check.passed
    assert "accuracy: logged 0.5, re-run 0.9" in check.message, check.message
    assert [c.id for c in grader.grade(spec, uri).checks].count("reproduce") == 0, "only with --reproduce"

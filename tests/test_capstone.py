"""The capstone lab, graded by the autograder: a lab added as data (its source, its lab data and
its expectations file) gets the same grading as lab04, with nothing new under grading/."""
from __future__ import annotations

import csv
import json
import subprocess

import nbformat
import pytest

from conftest import ROOT, run_cli
from course import authoring
from course.labdata import capstone

SOURCE = ROOT / "labs" / "source" / "capstone.py"
# Two mistakes in one otherwise correct notebook: each costs its own check, once.
MISTAKES = [
    # ROC AUC from hard labels: a number in range, but not what the logged model scores
    ("val_roc_auc = roc_auc_score(y_val, pipeline.predict_proba(X_val)[:, 1])",
     "val_roc_auc = roc_auc_score(y_val, pipeline.predict(X_val))"),
    # an array example: the signature has no column names
    ('info = mlflow.sklearn.log_model(pipeline, name="model", input_example=X_train.head(5),',
     'info = mlflow.sklearn.log_model(pipeline, name="model", input_example=X_train.head(5).to_numpy(),'),
]


def variant(replacements=()) -> nbformat.NotebookNode:
    text = SOURCE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return authoring.to_notebook(text, "capstone", variant="solution")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("capstone")
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    nbformat.write(variant(), subs / "solution.ipynb")
    nbformat.write(authoring.load_source(SOURCE, "lab"), subs / "learner.ipynb")
    nbformat.write(variant(MISTAKES), subs / "mistakes.ipynb")
    done = run_cli("grade", "--lab", "capstone", "--out", str(out), "--workers", "2", "--no-progress", str(subs))
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "gradebook.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return out, rows


@pytest.mark.slow
def test_the_solution_gets_full_marks(graded):
    out, rows = graded
    assert rows["solution"]["score"] == "100", (out / "solution" / "feedback.md").read_text()
    results = json.loads((out / "solution" / "results.json").read_text())
    assert results["score"] == 100 and len(results["tests"]) == 11  # Gradescope's file, one test per check


@pytest.mark.slow
def test_the_learner_version_gets_zero_and_a_hint_for_every_check(graded):
    out, rows = graded
    assert rows["learner"]["score"] == "0" and "NotImplementedError" in rows["learner"]["message"]
    results = json.loads((out / "learner" / "results.json").read_text())
    hints = [t["output"] for t in results["tests"]]
    assert len(hints) == 11 and all(t["score"] == 0 for t in results["tests"])
    assert any("outs[0].md5 in data/churn.csv.dvc" in h for h in hints)
    assert any("skops_trusted_types" in h for h in hints)


@pytest.mark.slow
def test_each_mistake_costs_its_own_check_once(graded):
    out, rows = graded
    tests = json.loads((out / "mistakes" / "results.json").read_text())["tests"]
    failed = {t["name"].split(":")[0]: t["output"] for t in tests if t["score"] < t["max_score"]}
    assert set(failed) == {"truthful", "signature"}, failed
    assert rows["mistakes"]["score"] == "80"
    assert "unnamed array, not named columns" in failed["signature"]
    assert "logged val_roc_auc=" in failed["truthful"] and "recomputed" in failed["truthful"]


def test_the_lab_and_the_grader_read_the_same_rows(tmp_path):
    """The lab trains on the CSV it writes under DVC; the grader scores on course.labdata.capstone."""
    import hashlib

    import pandas as pd

    from course import churn

    written = churn.write_churn(tmp_path / "churn.csv", n_rows=capstone.ROWS, seed=capstone.DATA_SEED)
    from_file, defined = capstone.split(pd.read_csv(written)), capstone.split()
    assert from_file.X_test.equals(defined.X_test) and from_file.y_test.equals(defined.y_test)
    expected = (ROOT / "grading" / "expectations" / "capstone.yaml").read_text()
    assert f"data_version: {hashlib.md5(written.read_bytes()).hexdigest()}" in expected


def test_adding_the_capstone_changed_nothing_under_grading_but_its_expectations():
    log = subprocess.run(["git", "log", "--format=%H", "--diff-filter=A", "--", "labs/source/capstone.py"],
                         cwd=ROOT, capture_output=True, text=True)
    if log.returncode != 0 or not log.stdout.strip():
        pytest.skip("not a git checkout with the capstone's history")
    commit = log.stdout.split()[-1]
    changed = subprocess.run(["git", "show", "--name-only", "--format=", commit], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert [p for p in changed if p.startswith("grading/")] == ["grading/expectations/capstone.yaml"], changed

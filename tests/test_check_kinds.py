"""Each check kind against a real SQLite tracking store that this module fills itself."""
from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from course import paths, tracking  # noqa: E402
from grading.engine import expectations, grader, render  # noqa: E402

PIP = ["scikit-learn==1.9.1"]  # explicit, so logging a model takes no inference subprocess


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = paths.sqlite_uri(tmp_path_factory.mktemp("kinds"))
    tracking.use_experiment("exp", uri)
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    model = LogisticRegression(random_state=0).fit(X, y)

    with mlflow.start_run(run_name="good") as good:
        mlflow.log_params({"a": 1, "b": 0.5, "name": "x"})
        mlflow.log_metric("acc", 0.9)
        mlflow.set_tag("purpose", "demo")
        mlflow.set_tag("pool", "registered")
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        mlflow.log_figure(fig, "plots/img.png")
        mlflow.log_dict({"k": 1}, "d.json")
        mlflow.log_text("not json", "broken.json")
        mlflow.log_table(pd.DataFrame({"x": [1, 2]}), artifact_file="t.json")
        dataset = mlflow.data.from_pandas(X, source="memory", name="train", digest="abc123")
        mlflow.log_input(dataset, context="training")
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(3), pip_requirements=PIP,
                                 registered_model_name="reg")
    with mlflow.start_run(run_name="nosig"):
        mlflow.log_param("a", "two")
        mlflow.set_tag("pool", "registered")
        mlflow.log_metric("acc", 0.5)
        mlflow.sklearn.log_model(model, name="model", pip_requirements=PIP, registered_model_name="reg")
    for value in (0.1, 0.8):  # two attempts at the same configuration; the later counts
        with mlflow.start_run(run_name="retry"):
            mlflow.log_param("a", 1)
            mlflow.log_metric("acc", value)
        time.sleep(0.01)
    with mlflow.start_run(run_name="parent") as parent:
        for c in (1, 2):
            with mlflow.start_run(run_name=f"child-{c}", nested=True):
                mlflow.log_param("c", c)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("reg", "champion", "1")
    client.set_registered_model_alias("reg", "wrong", "2")
    return uri


def grade_one(uri: str, check: dict, runs: dict | None = None):
    data = {
        "experiments": {"main": "exp"},
        "runs": runs or {"good": {"experiment": "main", "filter": "tags.mlflow.runName = 'good'"}},
        "checks": [{"id": "c", "points": 2, "description": "d", "hint": "do this", **check}],
    }
    result = grader.grade(expectations.parse("t", data), uri)
    return result, result.checks[0]


def test_experiment_exists(store):
    result, check = grade_one(store, {"kind": "experiment_exists", "experiment": "main"})
    assert check.passed and check.earned == 2
    data = {"experiments": {"main": "nope"},
            "checks": [{"id": "c", "kind": "experiment_exists", "experiment": "main", "points": 1,
                        "description": "d", "hint": "h"}]}
    missing = grader.grade(expectations.parse("t", data), store).checks[0]
    assert not missing.passed and "'nope'" in missing.message and "no such experiment" in missing.message
    assert missing.hint == "h" and missing.earned == 0


def test_run_count_with_each_and_parent_child(store):
    runs = {"parent": {"experiment": "main", "filter": "tags.mlflow.runName = 'parent'"},
            "kids": {"experiment": "main", "parent": "parent", "group_by": ["params.c"]}}
    _, ok = grade_one(store, {"kind": "run_count", "runs": "kids", "min": 2, "max": 2,
                              "each": {"params.c": [1, 2]}}, runs)
    assert ok.passed, ok.message
    _, bad = grade_one(store, {"kind": "run_count", "runs": "kids", "min": 3, "each": {"params.c": [1, 3]}}, runs)
    assert not bad.passed and "2 run(s)" in bad.message and "params.c = 3" in bad.message


def test_latest_attempt_counts_and_the_report_says_so(store):
    runs = {"retry": {"experiment": "main", "filter": "tags.mlflow.runName = 'retry'", "group_by": ["params.a"]}}
    result, check = grade_one(store, {"kind": "metrics", "runs": "retry", "metrics": {"acc": {"equals": 0.8}}}, runs)
    assert check.passed, check.message
    assert "2 finished runs match 'retry'" in check.note and result.notes == [check.note]


def test_params_types_and_values(store):
    _, ok = grade_one(store, {"kind": "params", "runs": "good",
                              "params": {"a": {"type": "int", "equals": 1}, "b": {"type": "float"}, "name": "x"}})
    assert ok.passed, ok.message
    runs = {"nosig": {"experiment": "main", "filter": "tags.mlflow.runName = 'nosig'"}}
    _, bad = grade_one(store, {"kind": "params", "runs": "nosig",
                               "params": {"a": {"type": "int"}, "missing": {"type": "str"}}}, runs)
    assert not bad.passed
    assert "param a='two' is not int" in bad.message and "param missing missing" in bad.message


def test_metrics_range_and_tolerance(store):
    _, ok = grade_one(store, {"kind": "metrics", "runs": "good",
                              "metrics": {"acc": {"min": 0.5, "max": 1.0, "equals": 0.9, "tolerance": 1e-9}}})
    assert ok.passed, ok.message
    _, bad = grade_one(store, {"kind": "metrics", "runs": "good", "metrics": {"acc": {"equals": 0.95}, "f1": {}}})
    assert not bad.passed and "acc=0.9, not 0.95" in bad.message and "metric f1 missing" in bad.message


def test_tags_present_or_equal(store):
    _, ok = grade_one(store, {"kind": "tags", "runs": "good", "tags": {"purpose": "demo", "mlflow.runName": None}})
    assert ok.passed
    _, bad = grade_one(store, {"kind": "tags", "runs": "good", "tags": {"purpose": "other", "owner": None}})
    assert "purpose='demo', not 'other'" in bad.message and "tag owner missing" in bad.message


def test_artifacts_by_path_glob_and_content(store):
    _, ok = grade_one(store, {"kind": "artifacts", "runs": "good",
                              "files": {"plots/*.png": "image", "d.json": "json", "t.json": "table"}})
    assert ok.passed, ok.message
    _, bad = grade_one(store, {"kind": "artifacts", "runs": "good",
                               "files": {"missing.png": "image", "d.json": "table", "broken.json": "json",
                                         "plots/img.png": "json"}})
    assert not bad.passed
    for fragment in ["no artifact missing.png", "d.json is not a table", "broken.json is not valid JSON",
                     "plots/img.png is not valid JSON"]:
        assert fragment in bad.message


def test_logged_model_flavor_and_signature_width_without_loading_it(store, monkeypatch):
    import mlflow.pyfunc

    def refuse(*args, **kwargs):
        raise AssertionError("the grader must not load a model")

    monkeypatch.setattr(mlflow.pyfunc, "load_model", refuse)
    monkeypatch.setattr(mlflow.sklearn, "load_model", refuse)
    _, ok = grade_one(store, {"kind": "logged_model", "runs": "good", "name": "model", "flavor": "sklearn",
                              "signature_inputs": 3})
    assert ok.passed, ok.message
    _, width = grade_one(store, {"kind": "logged_model", "runs": "good", "signature_inputs": 4})
    assert "signature has 3 inputs, not 4" in width.message
    runs = {"nosig": {"experiment": "main", "filter": "tags.mlflow.runName = 'nosig'"},
            "retry": {"experiment": "main", "filter": "tags.mlflow.runName = 'retry'"}}
    _, nosig = grade_one(store, {"kind": "logged_model", "runs": "nosig", "signature_inputs": 3}, runs)
    assert "model has no signature" in nosig.message
    _, none = grade_one(store, {"kind": "logged_model", "runs": "retry", "flavor": "sklearn"}, runs)
    assert "no logged model" in none.message


def test_registered_model_alias_on_the_best_run(store):
    runs = {"both": {"experiment": "main", "filter": "tags.pool = 'registered'",
                     "group_by": ["tags.mlflow.runName"]}}
    _, ok = grade_one(store, {"kind": "registered_model", "runs": "both", "name": "reg", "alias": "champion",
                              "best_by": "acc"}, runs)
    assert ok.passed, ok.message
    _, wrong = grade_one(store, {"kind": "registered_model", "runs": "both", "name": "reg", "alias": "wrong",
                                 "best_by": "acc"}, runs)
    assert not wrong.passed and "best is good" in wrong.message
    _, no_alias = grade_one(store, {"kind": "registered_model", "runs": "both", "name": "reg", "alias": "gone",
                                    "best_by": "acc"}, runs)
    assert "no alias 'gone'" in no_alias.message
    _, no_model = grade_one(store, {"kind": "registered_model", "runs": "both", "name": "absent",
                                    "best_by": "acc"}, runs)
    assert "no such registered model" in no_model.message


def test_dataset_input_with_digest(store):
    _, ok = grade_one(store, {"kind": "dataset_input", "runs": "good", "name": "train", "digest": "abc123"})
    assert ok.passed, ok.message
    _, bad = grade_one(store, {"kind": "dataset_input", "runs": "good", "digest": "zzz"})
    assert "digest abc123, not zzz" in bad.message


def test_python_escape_hatch_calls_a_trusted_function(store):
    _, check = grade_one(store, {"kind": "python", "function": "tests.python_checks:always_fails"})
    assert not check.passed and check.message == "expected the moon; found cheese"


def test_bad_expectations_are_named_in_one_line():
    with pytest.raises(expectations.UsageError, match="unknown kind 'nope'"):
        expectations.parse("t", {"experiments": {"m": "x"}, "checks": [
            {"id": "a", "kind": "nope", "points": 1, "description": "d", "hint": "h"}]})
    with pytest.raises(expectations.UsageError, match="lacks field 'hint'"):
        expectations.parse("t", {"experiments": {"m": "x"}, "checks": [
            {"id": "a", "kind": "experiment_exists", "points": 1, "description": "d"}]})
    with pytest.raises(expectations.UsageError, match="served_by is 'docker'; use own-server, production-stack"):
        expectations.parse("t", {"served_by": "docker", "experiments": {"m": "x"}, "checks": [
            {"id": "a", "kind": "experiment_exists", "experiment": "m", "points": 1, "description": "d", "hint": "h"}]})
    bucket = {"id": "a", "kind": "logged_model", "runs": "r", "points": 1, "description": "d", "hint": "h"}
    runs = {"r": {"experiment": "m"}}
    with pytest.raises(expectations.UsageError, match="needs key_tag and destination together"):
        expectations.parse("t", {"experiments": {"m": "x"}, "runs": runs, "checks": [{**bucket, "key_tag": "k"}]})
    with pytest.raises(expectations.UsageError, match="write it as s3://<bucket>/<prefix>"):
        expectations.parse("t", {"experiments": {"m": "x"}, "runs": runs, "checks": [
            {**bucket, "key_tag": "k", "destination": "/srv/artifacts"}]})


def test_section_06_is_run_on_a_production_stack_and_the_others_on_the_given_store():
    from grading.run_course import runner, sections

    served = {s.id: runner.served_by(s) for s in sections.all_sections()}
    assert served.pop("06-production-server") == "production-stack"
    assert set(served.values()) == {None}


def test_every_renderer_reads_the_same_result(store):
    import json
    from xml.etree import ElementTree as ET

    result, _ = grade_one(store, {"kind": "metrics", "runs": "good", "metrics": {"acc": {"equals": 0.95}}})
    gradescope = json.loads(render.gradescope(result, execution_time=0.5))
    assert gradescope["score"] == result.score == 0 and gradescope["tests"][0]["max_score"] == 2
    assert gradescope["tests"][0]["status"] == "failed" and "Hint: do this" in gradescope["tests"][0]["output"]
    assert {"score", "execution_time", "output", "stdout_visibility", "tests"} <= gradescope.keys()
    assert json.loads(render.as_json(result))["max_score"] == 2
    suite = ET.fromstring(render.junit(result))
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None
    assert "0/2" in render.markdown(result) and "do this" in render.markdown(result)
    assert "score 0/2, 0/1 checks passed" in render.text(result)
    assert "fail" in render.html_table(result)


def test_a_parent_around_the_sweep_costs_only_the_run_count(store):
    """The sweep nested under a parent: the parent (no c) is not a configuration, so only the run
    count fails, naming it, and the per-run checks judge the two children."""
    runs = {"sweep": {"experiment": "main", "group_by": ["params.c"]}}
    _, count = grade_one(store, {"kind": "run_count", "runs": "sweep", "min": 2, "max": 2}, runs)
    # The parent (and this store's other runs, which log no c) are named, not judged.
    assert not count.passed and "5 more run(s) without params.c (parent, " in count.message, count.message
    result, params = grade_one(store, {"kind": "params", "runs": "sweep", "params": {"c": {"type": "int"}}}, runs)
    assert params.passed, params.message
    assert any("are not configurations" in note and "'parent'" in note for note in result.notes)


def test_a_check_that_raises_fails_alone_even_with_an_empty_message(store):
    data = {"experiments": {"main": "exp"},
            "checks": [{"id": "boom", "kind": "python", "function": "python_checks:raises_without_a_message",
                        "points": 1, "description": "d", "hint": "h"},
                       {"id": "fine", "kind": "experiment_exists", "experiment": "main", "points": 1,
                        "description": "d", "hint": "h"}]}
    result = grader.grade(expectations.parse("t", data), store)
    boom, fine = result.checks
    assert not boom.passed and "ValueError" in boom.message
    assert fine.passed


@pytest.fixture(scope="module")
def dataframe_store(tmp_path_factory):
    """lab04's data as a DataFrame with named columns, and the metrics a lab may log about it."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    from course.labdata import lab04

    uri = paths.sqlite_uri(tmp_path_factory.mktemp("frames"))
    tracking.use_experiment("frames", uri)
    split = lab04.split()
    X_train, X_val, X_test = (pd.DataFrame(part, columns=[f"feature_{i}" for i in range(10)])
                              for part in (split.X_train, split.X_val, split.X_test))
    y_test = split.y_test
    model = LogisticRegression(random_state=42).fit(X_train, split.y_train)
    with mlflow.start_run(run_name="frame"):
        mlflow.log_param("C", 1.0)
        predictions = model.predict(X_test)
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, predictions), "test_f1": f1_score(y_test, predictions),
                            "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])})
        info = mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3), pip_requirements=PIP)
        mlflow.log_metric("val_accuracy", accuracy_score(split.y_val, model.predict(X_val)), model_id=info.model_id)
    return uri


def test_a_dataframe_model_is_recomputed_with_its_columns_and_any_named_metric(dataframe_store):
    cases = (("accuracy", {}, True), ("test_f1", {"score": "f1"}, True), ("roc_auc", {}, True),
             ("val_accuracy", {"score": "accuracy", "split": "val"}, True),
             # the same metric scored on the test rows: the part of the data is part of the truth
             ("val_accuracy", {"score": "accuracy", "split": "test"}, False))
    data = {"experiments": {"main": "frames"}, "runs": {"one": {"experiment": "main"}},
            "checks": [{"id": f"{name}-{number}", "kind": "recomputed_metric", "runs": "one", "metric": name,
                        "dataset": "lab04", "points": 1, "description": "d", "hint": "h", **extra}
                       for number, (name, extra, _) in enumerate(cases)]}
    result = grader.grade(expectations.parse("t", data), dataframe_store)
    assert [c.passed for c in result.checks] == [passed for *_, passed in cases], [c.message for c in result.checks]
    assert "test split" in result.checks[4].message and "recomputed 0.8" in result.checks[4].message


def test_a_metric_logged_on_the_model_itself(dataframe_store):
    data = {"experiments": {"main": "frames"}, "runs": {"one": {"experiment": "main"}},
            "checks": [{"id": f"c{number}", "kind": "logged_model", "runs": "one", "model_metrics": wanted,
                        "points": 1, "description": "d", "hint": "h"}
                       for number, wanted in enumerate((["val_accuracy", "accuracy"], ["val_accuracy", "precision"]))]}
    carried, run_only = grader.grade(expectations.parse("t", data), dataframe_store).checks
    assert carried.passed, carried.message
    # A run's metrics are linked to the model it logged (val_accuracy by model_id, accuracy by the run);
    # one never logged is named.
    assert not run_only.passed and "carries no metric precision (log it in the run" in run_only.message


def test_an_unknown_score_is_the_courses_error():
    data = {"experiments": {"main": "x"}, "runs": {"one": {"experiment": "main"}},
            "checks": [{"id": "c", "kind": "recomputed_metric", "runs": "one", "metric": "logloss", "dataset": "lab04",
                        "points": 1, "description": "d", "hint": "h"}]}
    with pytest.raises(Exception, match="scores 'logloss'; name one of accuracy, f1"):
        expectations.parse("t", data)


@pytest.mark.parametrize("columns, passed, words", [
    (["feature_0", "feature_9"], True, ""),
    (["feature_0", "tenure"], False, "signature lacks column tenure"),
])
def test_a_signature_must_name_the_columns_a_lab_requires(dataframe_store, columns, passed, words):
    data = {"experiments": {"main": "frames"}, "runs": {"one": {"experiment": "main"}},
            "checks": [{"id": "sig", "kind": "logged_model", "runs": "one", "signature_columns": columns,
                        "points": 1, "description": "d", "hint": "h"}]}
    (check,) = grader.grade(expectations.parse("t", data), dataframe_store).checks
    assert check.passed is passed and words in check.message, check


def test_an_unnamed_array_signature_fails_a_columns_check(tmp_path):
    uri = paths.sqlite_uri(tmp_path)
    tracking.use_experiment("arrays", uri)
    X = np.random.default_rng(0).normal(size=(40, 3))
    with mlflow.start_run():
        mlflow.sklearn.log_model(LogisticRegression().fit(X, X[:, 0] > 0), name="model", input_example=X[:3],
                                 pip_requirements=PIP)
    data = {"experiments": {"main": "arrays"}, "runs": {"one": {"experiment": "main"}},
            "checks": [{"id": "sig", "kind": "logged_model", "runs": "one", "signature_columns": ["age"],
                        "signature_inputs": 3, "points": 1, "description": "d", "hint": "h"}]}
    (check,) = grader.grade(expectations.parse("t", data), uri).checks
    assert not check.passed and check.message.endswith("unnamed array, not named columns (log a DataFrame example)"), check


def test_min_steps_asks_for_a_curve_not_one_value(store):
    data = {"experiments": {"main": "exp"}, "runs": {"good": {"experiment": "main", "filter": "tags.mlflow.runName = 'good'"}},
            "checks": [{"id": "curve", "kind": "metrics", "runs": "good", "metrics": {"acc": {"min_steps": 2}},
                        "points": 1, "description": "d", "hint": "h"}]}
    (check,) = grader.grade(expectations.parse("t", data), store).checks
    assert not check.passed and "metric acc has 1 step(s), not at least 2" in check.message, check


def test_a_selection_can_keep_only_the_runs_that_logged_a_model(store):
    runs = {"modelled": {"experiment": "main", "logged_model": True, "keep": "all"}}
    _, count = grade_one(store, {"kind": "run_count", "runs": "modelled", "min": 2, "max": 2}, runs)
    assert count.passed, count.message  # good and nosig; the retries, the parent and its children logged none


@pytest.mark.parametrize("location, key", [
    ("mlflow-artifacts:/3/models/m-1/artifacts", "team/3/models/m-1/artifacts/MLmodel"),
    ("mlflow-artifacts://host:5000/3/models/m-1/artifacts", "team/3/models/m-1/artifacts/MLmodel"),
    ("s3://mlflow/direct/models/m-1/artifacts", "direct/models/m-1/artifacts/MLmodel"),
    ("s3://another-bucket/models/m-1/artifacts", None),
    ("file:///tmp/models/m-1/artifacts", None),
])
def test_a_models_object_key_follows_from_its_artifact_location(location, key):
    from grading.engine.kinds.models import object_key

    assert object_key(location, "s3://mlflow/team") == key


def test_the_bucket_key_tag_is_judged_against_the_models_own_location():
    from types import SimpleNamespace

    from grading.engine.kinds.models import _key_problems

    model = SimpleNamespace(artifact_location="mlflow-artifacts:/1/models/m-9/artifacts")

    def problems(tags):
        return _key_problems(SimpleNamespace(data=SimpleNamespace(tags=tags)), model, "bucket_key", "s3://mlflow/team")

    assert problems({"bucket_key": "team/1/models/m-9/artifacts/MLmodel"}) == []
    assert problems({"bucket_key": "s3://mlflow/team/1/models/m-9/artifacts/MLmodel"}) == []  # the full URI is as good
    assert problems({}) == ["no tag bucket_key"]
    assert "the model's MLmodel is at 'team/1/models/m-9/artifacts/MLmodel'" in problems(
        {"bucket_key": "team/1/0123/artifacts/model/MLmodel"})[0]  # MLflow 2's layout, inside the run
    model.artifact_location = "file:///elsewhere/models/m-9/artifacts"
    assert problems({"bucket_key": "x"}) == ["its files are at file:, not in s3://mlflow/team's bucket"]

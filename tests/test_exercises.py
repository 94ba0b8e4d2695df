"""Each section's exercise set, autograded the way a class would hand it in.

For every set, one batch grades: the solution; the learner's copy as handed out; the learner's
copy with the solution's cells typed into it; correct work written another way; and one
submission per mistake, which must lose exactly that exercise's checks.
"""
from __future__ import annotations

import csv
import json

import nbformat
import pytest

from conftest import ROOT, run_cli
from course import authoring
from grading.engine import expectations

# Correct work in another style: replacements applied to the solution's source.
OTHER_STYLE = {
    "ex03-query-runs": [
        # the client API and a sort in Python instead of pandas masks
        ('''knn = mlflow.search_runs(experiment_names=[experiment_name], filter_string="params.model_type = 'knn'")
top = knn[knn["metrics.accuracy"] == knn["metrics.accuracy"].max()]
best_knn = top.loc[top["params.n_neighbors"].astype(int).idxmax(), "run_id"]''',
         '''client = mlflow.MlflowClient()
runs = client.search_runs([experiment.experiment_id], "params.model_type = 'knn'", order_by=["metrics.accuracy DESC"])
best_knn = max(runs, key=lambda r: (r.data.metrics["accuracy"], int(r.data.params["n_neighbors"]))).info.run_id
client.set_tag(best_knn, "note", "extra tags are fine")'''),
        ('''for run_id in below["run_id"]:
    mlflow.MlflowClient().set_tag(run_id, "review", "needed")''',
         '''for run_id in below["run_id"]:
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags({"review": "needed", "reviewer": "me"})'''),
    ],
    "ex05-plots-artifacts": [
        # the client API with an explicit run id, a folder logged whole, metrics logged as a dict
        ('''    mlflow.log_figure(fig, "importances.png")
    plt.close(fig)
    mlflow.log_dict(settings, "settings.json")''',
         '''    client = mlflow.MlflowClient()
    client.log_figure(run_id, fig, "importances.png")
    plt.close(fig)
    client.log_dict(run_id, {**settings, "note": "more keys are fine"}, "settings.json")
    mlflow.log_dict({"extra": True}, "extra/more.json")'''),
        ('''    with tempfile.TemporaryDirectory() as folder:
        summary = Path(folder) / "summary.csv"
        predictions["predicted"].value_counts().sort_index().rename("count").to_csv(summary)
        mlflow.log_artifact(str(summary), artifact_path="reports")''',
         '''    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "reports").mkdir()
        predictions.groupby("predicted").size().to_csv(Path(folder) / "reports" / "summary.csv")
        mlflow.log_artifacts(folder)'''),
        ('''        mlflow.log_metric("test_log_loss", log_loss(y_test, grower.predict_proba(X_test)), step=trees)''',
         '''        mlflow.log_metrics({"test_log_loss": log_loss(y_test, grower.predict_proba(X_test)), "trees": trees},
                           step=trees)'''),
    ],
    "ex09-signatures-registry": [
        # runs:/ URIs, aliases set by looking the versions up, the flavor's own loader, the client for the metric
        ('''versions = {run_id: mlflow.register_model(uri, registered_model_name) for run_id, (_, uri) in candidates.items()}
best_run_id = max(candidates, key=lambda run_id: candidates[run_id][0])
champion_version = versions[best_run_id]''',
         '''for run_id in candidates:
    mlflow.register_model(f"runs:/{run_id}/model", registered_model_name)
versions = {v.run_id: v for v in client.search_model_versions(f"name = '{registered_model_name}'")}
ranked = sorted(candidates, key=lambda run_id: candidates[run_id][0], reverse=True)
champion_version = versions[ranked[0]]
client.set_registered_model_tag(registered_model_name, "team", "course")'''),
        ('''champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
test_accuracy = accuracy_score(y_test, champion.predict(X_test))
with mlflow.start_run(run_name="champion-test", tags={"purpose": "champion-test"}):
    mlflow.log_metric("test_accuracy", test_accuracy)''',
         '''champion = mlflow.sklearn.load_model(f"models:/{registered_model_name}@champion")
test_accuracy = (champion.predict(X_test) == y_test.to_numpy()).mean()
run = client.create_run(experiment.experiment_id, tags={"purpose": "champion-test"})
client.log_metric(run.info.run_id, "test_accuracy", test_accuracy)
client.set_terminated(run.info.run_id)'''),
    ],
}
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = {
    "ex03-query-runs": [
        ("string-sort", [('best_knn = top.loc[top["params.n_neighbors"].astype(int).idxmax(), "run_id"]',
                          'best_knn = top.sort_values("params.n_neighbors", ascending=False)["run_id"].iloc[0]')],
         {"best-knn"}),
        ("loose-bar", [('filter_string="metrics.f1 < 0.935"', 'filter_string="metrics.f1 <= 0.94"')],
         {"review-only"}),
        ("one-family", [('filter_string="metrics.f1 < 0.935"',
                         '''filter_string="metrics.f1 < 0.935 and params.model_type = 'tree'"''')],
         {"review-all"}),
    ],
    "ex05-plots-artifacts": [
        ("dict-as-text", [('mlflow.log_dict(settings, "settings.json")', 'mlflow.log_text(str(settings), "settings.json")')],
         {"plot-and-settings"}),
        ("table-as-dict", [('mlflow.log_table(predictions, artifact_file="predictions.json")',
                            'mlflow.log_dict(predictions.to_dict(), "predictions.json")')],
         {"table-and-file"}),
        ("no-step", [('grower.predict_proba(X_test)), step=trees)', 'grower.predict_proba(X_test)))')],
         {"curve"}),
    ],
    "ex09-signatures-registry": [
        # the first version registered is not necessarily the better one
        ("first-is-champion", [('champion_version = versions[best_run_id]', 'champion_version = next(iter(versions.values()))')],
         {"champion"}),
        ("challenger-is-champion", [('versions[other_run_id].version)', 'versions[best_run_id].version)')],
         {"challenger"}),
        # scored on the validation rows: whatever the alias names, the number is not its test accuracy
        ("scored-on-validation", [('test_accuracy = accuracy_score(y_test, champion.predict(X_test))',
                                   'test_accuracy = accuracy_score(y_val, champion.predict(X_val))')],
         {"champion-test"}),
    ],
}
SETS = sorted(OTHER_STYLE)


def source_of(set_id: str):
    return ROOT / "labs" / "source" / f"{set_id}.py"


def solution_with(set_id: str, replacements) -> nbformat.NotebookNode:
    text = source_of(set_id).read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return authoring.to_notebook(text, set_id, variant="solution")


def filled_in(set_id: str) -> nbformat.NotebookNode:
    """The learner's copy with each exercise cell replaced by the solution's cell, as a learner types it."""
    lab = nbformat.read(ROOT / "labs" / f"{set_id}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{set_id}.ipynb", as_version=4)
    assert len(lab.cells) == len(solution.cells)
    for mine, answer in zip(lab.cells, solution.cells):
        if mine.cell_type == "code" and "# YOUR CODE HERE" in mine.source:
            mine.source = answer.source
    return lab


@pytest.fixture(scope="module", params=SETS)
def graded(request, tmp_path_factory):
    set_id = request.param
    root = tmp_path_factory.mktemp(set_id)
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    nbformat.write(solution_with(set_id, []), subs / "solution.ipynb")
    nbformat.write(nbformat.read(ROOT / "labs" / f"{set_id}.ipynb", as_version=4), subs / "handout.ipynb")
    nbformat.write(filled_in(set_id), subs / "filled.ipynb")
    nbformat.write(solution_with(set_id, OTHER_STYLE[set_id]), subs / "otherstyle.ipynb")
    for name, replacements, _ in MUTATIONS[set_id]:
        nbformat.write(solution_with(set_id, replacements), subs / f"mistake-{name}.ipynb")
    done = run_cli("grade", "--lab", set_id, "--out", str(out), "--workers", "2", "--no-progress", str(subs))
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "gradebook.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    tests = {student: {t["name"].split(":")[0]: t for t in json.loads((out / student / "results.json").read_text())["tests"]}
             for student in rows}
    return set_id, rows, tests, expectations.load(set_id)


def failed(tests: dict) -> set[str]:
    return {check for check, t in tests.items() if t["score"] < t["max_score"]}


def exercise_checks(spec) -> set[str]:
    return {c.id for c in spec.checks if c.description.startswith("Exercise ")}


@pytest.mark.slow
def test_every_section_has_two_graded_exercises(graded):
    _, _, _, spec = graded
    numbers = {c.description.split(":")[0] for c in spec.checks if c.id in exercise_checks(spec)}
    assert len(numbers) >= 2, numbers


@pytest.mark.slow
def test_the_solution_typed_into_the_handout_and_other_styles_get_full_marks(graded):
    _, rows, tests, spec = graded
    for student in ("solution", "filled", "otherstyle"):
        assert float(rows[student]["score"]) == spec.max_score, (student, failed(tests[student]))


@pytest.mark.slow
def test_the_handout_fails_only_its_exercises_each_with_a_hint(graded):
    _, rows, tests, spec = graded
    handout = tests["handout"]
    assert rows["handout"]["status"] == "error" and "NotImplementedError" in rows["handout"]["message"]
    assert failed(handout) == exercise_checks(spec)
    hints = {c.id: c.hint for c in spec.checks}
    for check in exercise_checks(spec):
        assert hints[check].split()[0] in handout[check]["output"], check


@pytest.mark.slow
def test_each_mistake_loses_exactly_its_exercise(graded):
    set_id, rows, tests, spec = graded
    points = {c.id: c.points for c in spec.checks}
    for name, _, expected in MUTATIONS[set_id]:
        student = f"mistake-{name}"
        assert failed(tests[student]) == expected, (student, {c: tests[student][c]["output"] for c in failed(tests[student])})
        assert float(rows[student]["score"]) == spec.max_score - sum(points[c] for c in expected)

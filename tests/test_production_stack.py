"""The course on the production stack: PostgreSQL for metadata, an S3 bucket for files.

Sections 02, 04 and 05 (a model, a sweep of nine, plots and tables) and the lab04 solution (models
and the registry) run here once; the tests read what they left in PostgreSQL, the bucket and the
MLflow UI. nbval runs every section on SQLite, and section 06 brings up a stack of its own.
The grader's view of lab04 on such a stack (models re-scored from the bucket, through the server)
is tested by grade-class on the class server in test_hub.py.
"""
from __future__ import annotations

import os
import re
import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ROOT, run_cli

# section -> runs it logs
ON_STACK = {"02-first-experiment": 1, "04-sweep-compare": 10, "05-plots-artifacts": 2}
EXPERIMENTS = ["iris-classifier", "iris-classifier-autolog", "wine-sweep", "iris-artifacts", "lab04"]


@pytest.fixture(scope="module")
def course_on_stack(pg_stack, tmp_path_factory):
    """`run-course` for the sections, then the lab04 solution, into the stack; the tests read what they left."""
    import papermill

    folder = tmp_path_factory.mktemp("course-on-stack")
    before = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    only = [a for section in ON_STACK for a in ("--only", section)]
    ran = run_cli("run-course", *only, "--no-exercises", "--tracking-uri", pg_stack.tracking_uri, "--out", str(folder / "executed"),
                  "--no-progress", env={"COURSE_HOME": str(folder / "home")})
    # A lab takes its server from MLFLOW_TRACKING_URI, as in JupyterLab on the team's server.
    with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": pg_stack.tracking_uri}):
        papermill.execute_notebook(str(ROOT / "solutions" / "lab04.ipynb"), str(folder / "lab04.ipynb"),
                                   cwd=str(folder), progress_bar=False)
    return ran, folder / "executed", before


@pytest.mark.slow
def test_the_course_runs_on_postgres_with_files_in_the_bucket(pg_stack, course_on_stack):
    ran, out, before = course_on_stack
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]

    rows = {m.group(1): (m.group(2), int(m.group(3)), m.group(4) == m.group(5) and m.group(6) == m.group(7))
            for m in re.finditer(r"^(\d\d-[\w-]+)\s+(passed|failed)\s+(\d+)\s+[\d.]+\s+(\d+)/(\d+)\s+(\d+)/(\d+)$",
                                 ran.stdout, re.M)}
    # status, runs logged, and every check passed at full marks
    assert rows == {section: ("passed", runs, True) for section, runs in ON_STACK.items()}
    assert sorted(p.name for p in out.glob("*.ipynb")) == [f"{i}.ipynb" for i in rows]
    graded = run_cli("check", "02-first-experiment", "--tracking-uri", pg_stack.tracking_uri)
    assert graded.returncode == 0 and "score 16/16, 10/10 checks passed" in graded.stdout, graded.stdout

    # The metadata is in PostgreSQL's tables, read with SQL rather than through MLflow.
    with pg_stack.postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT e.name, count(r.run_uuid), min(r.artifact_uri) FROM experiments e "
                       "JOIN runs r ON r.experiment_id = e.experiment_id GROUP BY e.name")
        per_experiment = {name: (count, uri) for name, count, uri in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT name FROM model_versions")
        registered = {name for (name,) in cursor.fetchall()}
    assert registered == {"lab04-classifier"}, "the lab registers its model in PostgreSQL"
    assert set(per_experiment) == set(EXPERIMENTS), per_experiment
    assert all(uri.startswith("mlflow-artifacts:/") for _, uri in per_experiment.values()), per_experiment

    # The files are objects in the bucket: plots, models with their requirements, JSON tables.
    keys = pg_stack.s3.keys("artifacts/")
    for suffix in ("/confusion_matrix.png", "/MLmodel", "/requirements.txt", ".json"):
        assert any(k.endswith(suffix) for k in keys), (suffix, keys[:20])
    # ...and nowhere on local disk: not beside the notebooks, not in the stack's folder outside the S3 data.
    assert sorted(p.name for p in (ROOT / "notebooks").iterdir()) == before
    local = [p for p in pg_stack.folder.rglob("confusion_matrix.png") if "s3data" not in p.parts]
    assert not local, local


# --- what a learner sees in the MLflow UI, after the sections and the lab ran on the stack --------

def close_assistant(page):
    """The assistant's side panel takes a third of the width; learners close it too."""
    button = page.get_by_role("button", name="Close")
    if button.count():
        button.first.click()


def runs_table(page, url: str, experiment_id: str):
    page.goto(f"{url}/#/experiments/{experiment_id}?workflowType=machine_learning")
    page.get_by_role("columnheader", name="Run Name").first.wait_for()
    close_assistant(page)


def grid_rows(page) -> list[dict]:
    """The runs table top to bottom, one {column id: text} per run. ag-grid splits each run into a row in
    the pinned pane and one in the scrolling pane, and reorders rows by their row-index, not in the DOM."""
    found = page.locator("[role=row][row-index]").evaluate_all(
        "rows => rows.map(r => [Number(r.getAttribute('row-index')), Object.fromEntries("
        "Array.from(r.querySelectorAll('[role=gridcell][col-id]'), c => [c.getAttribute('col-id'), c.innerText]))])")
    merged = {}
    for index, cells in found:
        merged.setdefault(index, {}).update(cells)
    return [merged[index] for index in sorted(merged)]


def run_name(row: dict) -> str:
    return row["attributes.`Run Name`"].split("\n")[-1]  # after the hidden label of the run's colour dot


def rows_once_reordered(page, before: list[str], timeout: float = 30) -> list[dict]:
    """The grid's rows once their order is no longer `before` (the server sends them again in the new order),
    or as they stand after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    rows = grid_rows(page)
    while [run_name(row) for row in rows] == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        rows = grid_rows(page)
    return rows


@pytest.mark.slow
def test_the_ui_lists_the_course_experiments(pg_stack, course_on_stack, page):
    page.goto(f"{pg_stack.tracking_uri}/#/experiments")
    page.get_by_role("link", name="iris-classifier", exact=True).wait_for()
    page.shot("experiments")
    for name in EXPERIMENTS:
        assert page.get_by_role("link", name=name, exact=True).count() == 1, name


@pytest.mark.slow
def test_the_iris_runs_table_shows_params_and_metrics(pg_stack, course_on_stack, page):
    from mlflow import MlflowClient

    experiment = MlflowClient(pg_stack.tracking_uri).get_experiment_by_name("iris-classifier")
    runs_table(page, pg_stack.tracking_uri, experiment.experiment_id)
    # MLflow 3.17 hides params and metrics until they are picked under Columns.
    page.get_by_role("button", name="Columns").click()
    page.get_by_text("Metrics (3)", exact=True).click()
    page.get_by_text("Parameters (4)", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("columnheader", name="accuracy").first.wait_for()
    page.shot("runs-table")
    headers = set(page.get_by_role("columnheader").all_inner_texts())
    assert {"accuracy", "precision", "recall", "n_estimators", "max_depth", "random_state", "test_size"} <= headers
    # One run: its name and its params' values are in the grid (names and values sit in separate panes).
    cells = page.get_by_role("gridcell").all_inner_texts()
    assert any("rf-baseline" in c for c in cells) and {"100", "5", "42", "0.2"} <= set(cells), cells


@pytest.mark.slow
def test_comparing_the_sweeps_child_runs_shows_all_nine(pg_stack, course_on_stack, page):
    from mlflow import MlflowClient

    client = MlflowClient(pg_stack.tracking_uri)
    experiment = client.get_experiment_by_name("wine-sweep")
    children = [r.info.run_name for r in client.search_runs([experiment.experiment_id])
                if r.data.tags.get("mlflow.parentRunId")]
    assert len(children) == 9
    runs_table(page, pg_stack.tracking_uri, experiment.experiment_id)
    # Child runs sit folded under their parent until it is expanded.
    page.get_by_role("gridcell").filter(has_text="rf-grid").locator("button").first.click()
    for name in children:
        page.get_by_role("row").filter(has_text=name).get_by_role("checkbox").first.check()
    page.shot("selected")
    page.get_by_role("button", name="Compare").click()
    page.get_by_text("Comparing 9 Runs from 1 Experiment").wait_for()
    page.shot("compare")
    body = page.inner_text("body")
    assert all(name in body for name in children)


@pytest.mark.slow
def test_a_runs_artifacts_view_lists_the_confusion_matrix(pg_stack, course_on_stack, page):
    from mlflow import MlflowClient

    client = MlflowClient(pg_stack.tracking_uri)
    experiment = client.get_experiment_by_name("iris-artifacts")
    run = client.search_runs([experiment.experiment_id], filter_string="tags.mlflow.runName = 'rf-with-artifacts'")[0]
    page.goto(f"{pg_stack.tracking_uri}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}/artifacts")
    page.get_by_text("confusion_matrix.png", exact=True).first.click()
    preview = page.locator("img[src^='blob:']").first
    preview.wait_for()
    close_assistant(page)
    page.shot("artifacts")
    assert preview.evaluate("img => img.naturalWidth") > 100, "the image preview did not load"


@pytest.mark.slow
def test_the_registered_model_page_shows_the_champion_alias(pg_stack, course_on_stack, page):
    from mlflow import MlflowClient

    champion = MlflowClient(pg_stack.tracking_uri).get_registered_model("lab04-classifier").aliases["champion"]
    page.goto(f"{pg_stack.tracking_uri}/#/models/lab04-classifier")
    page.get_by_text("champion").first.wait_for()
    page.shot("registered-model")
    row = " ".join(page.get_by_role("row").filter(has_text="champion").all_inner_texts())
    assert f"Version {champion}" in row, row


@pytest.mark.slow
def test_sorting_lab04_by_val_accuracy_puts_the_champion_on_top(pg_stack, course_on_stack, page):
    """Part 4 of lab04, click by click: Columns, tick the metrics, one click on the val_accuracy header."""
    from mlflow import MlflowClient

    client = MlflowClient(pg_stack.tracking_uri)
    experiment = client.get_experiment_by_name("lab04")
    champion = client.get_run(client.get_model_version_by_alias("lab04-classifier", "champion").run_id).info.run_name
    by_start = [r.info.run_name for r in client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])]
    runs_table(page, pg_stack.tracking_uri, experiment.experiment_id)
    page.get_by_role("button", name="Columns").click()
    page.get_by_text("Metrics (2)", exact=True).click()
    page.keyboard.press("Escape")
    header = page.get_by_role("columnheader", name="val_accuracy").first
    header.wait_for()
    default = [run_name(row) for row in grid_rows(page)]
    assert default == by_start, "the table opens newest first"

    header.click()  # one click sorts highest first
    rows = rows_once_reordered(page, default)
    page.shot("sorted")
    names = [run_name(row) for row in rows]
    assert names != default, f"the rows stayed in start-time order {default}: the click did not sort"
    assert "is-ordered-by" in page.get_by_test_id("sort-header-val_accuracy").locator("..").get_attribute("class")
    assert page.get_by_role("button", name="Sort: val_accuracy").count() == 1
    query = parse_qs(urlsplit(page.url).fragment.partition("?")[2])
    assert (query["orderByKey"], query["orderByAsc"]) == (["metrics.`val_accuracy`"], ["false"]), page.url

    assert names[0] == champion, (names, champion)
    shown = [float(row["metrics.`val_accuracy`"]) for row in rows]
    assert len(shown) == 3 and shown == sorted(shown, reverse=True) and shown[0] > shown[-1], shown
    test_accuracy = [row["metrics.`test_accuracy`"] for row in rows]
    assert test_accuracy[1:] == ["-", "-"] and float(test_accuracy[0]) > 0, test_accuracy

    header.click()  # a second click turns it lowest first
    reversed_names = [run_name(row) for row in rows_once_reordered(page, names)]
    assert reversed_names == names[::-1], (reversed_names, names)

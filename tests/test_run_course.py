"""`python -m grading run-course`: the whole module into one store, and every kind of bad input."""
from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import nbformat

from conftest import assert_one_line_error, run_cli

PARAMS = 'tracking_uri: str = ""  # tracking URI\nexperiment_name: str = "tiny"  # experiment\n'
LOG_ONE_RUN = (
    "import mlflow\nfrom course.tracking import use_experiment\n"
    "use_experiment(experiment_name, tracking_uri)\n"
    "with mlflow.start_run(run_name='one'):\n    mlflow.log_metric('x', 1.0)\n"
)


def write_notebook(folder: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_unknown_section_lists_the_valid_ids():
    result = run_cli("run-course", "--only", "no-such-section")
    assert_one_line_error(result, "no-such-section", "01-tracking-server", "05-plots-artifacts")


def test_unreachable_server_is_named_with_the_fix_within_15_seconds():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    started = time.monotonic()
    result = run_cli("run-course", "--tracking-uri", f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    assert_one_line_error(result, f"http://127.0.0.1:{port}", "make ui")


def test_a_server_that_never_answers_fails_within_15_seconds():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections in the backlog, never replies
    port = listener.getsockname()[1]
    try:
        started = time.monotonic()
        result = run_cli("run-course", "--tracking-uri", f"http://127.0.0.1:{port}")
        assert time.monotonic() - started < 15
    finally:
        listener.close()
    assert_one_line_error(result, f"http://127.0.0.1:{port}")


def test_a_file_store_uri_is_refused_with_the_sqlite_alternative():
    assert_one_line_error(run_cli("run-course", "--tracking-uri", "./mlruns"), "file store", "sqlite:///")


def test_a_corrupt_notebook_is_a_one_line_error_and_nothing_runs(tmp_path, store):
    (tmp_path / "nb").mkdir()
    write_notebook(tmp_path / "nb", "01-good", LOG_ONE_RUN)
    (tmp_path / "nb" / "02-broken.ipynb").write_text("{ this is not json")
    result = run_cli("run-course", "--notebooks", str(tmp_path / "nb"), "--tracking-uri", store,
                     "--out", str(tmp_path / "out"), "--no-progress")
    assert_one_line_error(result, "02-broken.ipynb", "not a readable notebook")
    assert not (tmp_path / "out").exists()


def test_a_notebook_without_a_tracking_uri_parameter_is_refused_before_anything_runs(tmp_path, store):
    (tmp_path / "nb").mkdir()
    path = write_notebook(tmp_path / "nb", "01-no-uri", LOG_ONE_RUN)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = 'experiment_name: str = "tiny"  # experiment\n'
    nbformat.write(nb, path)
    result = run_cli("run-course", "--notebooks", str(tmp_path / "nb"), "--tracking-uri", store,
                     "--out", str(tmp_path / "out"), "--no-progress")
    assert_one_line_error(result, "01-no-uri.ipynb", "tracking_uri")
    assert not (tmp_path / "out").exists()


def test_a_failing_notebook_is_named_with_cell_and_exception_and_kept(tmp_path, store):
    nb_dir, out = tmp_path / "nb", tmp_path / "out"
    nb_dir.mkdir()
    write_notebook(nb_dir, "01-good", LOG_ONE_RUN)
    write_notebook(nb_dir, "02-fails", LOG_ONE_RUN, "raise ValueError('boom in the third cell')")
    write_notebook(nb_dir, "03-after", LOG_ONE_RUN)
    result = run_cli("run-course", "--notebooks", str(nb_dir), "--tracking-uri", store, "--out", str(out), "--no-progress")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout
    assert re.search(r"02-fails failed: cell \[\d+\] `raise ValueError.*` raised ValueError: boom in the third cell", result.stdout)
    assert (out / "02-fails.ipynb").exists(), "the failed notebook must be kept for inspection"
    summary = json.loads((out / "summary.json").read_text())
    assert [(s["section"], s["status"]) for s in summary["sections"]] == [
        ("01-good", "passed"), ("02-fails", "failed"), ("03-after", "passed")]
    assert [s["runs"] for s in summary["sections"]] == [1, 1, 1]


def test_learner_mode_runs_the_hand_outs_and_each_stops_at_its_first_exercise(tmp_path, store):
    result = run_cli("run-course", "--learner", "--only", "03-query-runs", "--tracking-uri", store,
                     "--out", str(tmp_path / "out"), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(s["section"], s["status"]) for s in summary["sections"]] == [("ex03-query-runs", "hand-out ok")]
    # The given runs are logged, and every exercise is reported not done.
    assert summary["sections"][0]["runs"] == 10 and summary["sections"][0]["failed_ids"] == ["best-knn", "review-all", "review-only"]


def test_a_hand_out_that_asks_nothing_is_reported_broken(tmp_path, store):
    """A learner's copy that runs to the end (say, its solution leaked into it) is not a sound hand-out."""
    from course.paths import SOLUTIONS
    from grading.run_course import runner
    from grading.run_course.sections import Section

    leaked = tmp_path / "ex03-query-runs.ipynb"
    leaked.write_bytes((SOLUTIONS / "ex03-query-runs.ipynb").read_bytes())
    (tmp_path / "out").mkdir()
    run = runner.run_hand_out(Section("ex03-query-runs", leaked), store, tmp_path / "out", progress=False)
    assert run.status == "broken" and "asks the learner for nothing" in run.error and not run.ok


def test_each_section_is_followed_by_its_exercise_solution_unless_asked_not_to():
    from grading.run_course.command import plan
    from grading.run_course.sections import select

    chosen = select(["03-query-runs", "06-production-server", "10-quiz"])
    assert [(t.id, kind, t.notebook.parent.name) for t, kind in plan(chosen, learner=False, whole_course=False)] == [
        ("03-query-runs", "section", "notebooks"), ("ex03-query-runs", "solution", "solutions"),
        ("06-production-server", "section", "notebooks"), ("ex06-production-server", "solution", "solutions"),
        ("10-quiz", "section", "notebooks")]  # the quiz is the learner's work itself: no exercise set
    assert [t.id for t, _ in plan(chosen, learner=False, whole_course=False, exercises=False)] == [
        "03-query-runs", "06-production-server", "10-quiz"]
    assert [(t.id, kind) for t, kind in plan(chosen, learner=True, whole_course=False)] == [
        ("ex03-query-runs", "hand-out"), ("ex06-production-server", "hand-out")]

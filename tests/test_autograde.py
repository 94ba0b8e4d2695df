"""The autograder against honest, broken and hostile submissions, in one class-sized batch."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import socket
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from conftest import ROOT, assert_one_line_error, processes_running, run_cli
from course import authoring
from grading.engine import expectations

LAB_SOURCE = ROOT / "labs" / "source" / "lab04.py"
MINI_LAB = '''
import mlflow
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.metrics import accuracy_score

X, y = make_classification(n_samples=1000, n_features=10, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)

mlflow.set_experiment("lab04")

with mlflow.start_run():
    mlflow.log_param("C", 1.0)
    clf = LogisticRegression(C=1.0, random_state=42)
    clf.fit(X_train, y_train)
    accuracy = accuracy_score(y_test, clf.predict(X_test))
    mlflow.log_metric("accuracy", accuracy)
    mlflow.sklearn.log_model(clf, "model")
    print(f"Accuracy: {accuracy:.3f}")
'''
MINI_LAB_LOOP = '''
for c in [0.1, 1.0, 10.0]:
    with mlflow.start_run():
        mlflow.log_param('C', c)
        clf = LogisticRegression(C=c, random_state=42)
        clf.fit(X_train, y_train)
        accuracy = accuracy_score(y_test, clf.predict(X_test))
        mlflow.log_metric('accuracy', accuracy)
        mlflow.sklearn.log_model(clf, 'model')
        print(f'C={c}, Accuracy={accuracy:.3f}')
'''
NET_PROBE = '''
import socket
print("interfaces", sorted(name for _, name in socket.if_nameindex()))
for host in HOSTS:
    try:
        socket.create_connection((host, PORT), timeout=3).close()
        print("reached", host)
    except OSError as exc:
        print("blocked", host, type(exc).__name__)
'''
FORGER = '''
import json, os, signal, mlflow
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=1000, n_features=10, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)
mlflow.set_experiment("lab04")
with mlflow.start_run():
    mlflow.log_params({"C": 1.0, "random_state": 42})
    mlflow.log_metric("val_accuracy", 0.99)
    mlflow.sklearn.log_model(LogisticRegression(C=1.0, random_state=42).fit(X_train, y_train), name="model",
                             pip_requirements=["scikit-learn"])
uri = f"models:/{mlflow.last_logged_model().model_id}"
lie = json.dumps({"status": {"status": "completed"}}) + "\\n" + json.dumps(
    {"recomputed": uri, "dataset": "lab04", "result": {"val_accuracy": 0.99}}) + "\\n"
print(lie)  # the kernel's own stdout
opened = []
for fd in range(20):  # the executing process's descriptors, if they were reachable
    try:
        with open(f"/proc/{os.getppid()}/fd/{fd}", "w") as handle:
            handle.write(lie)
        opened.append(fd)
    except OSError:
        pass
print("opened", opened)
'''
ALT_STYLE = '''
import mlflow, pandas as pd, matplotlib.pyplot as plt
from mlflow import MlflowClient
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=1000, n_features=10, random_state=42)
X = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=200, random_state=42)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=200, random_state=42)
mlflow.set_experiment("lab04")
client, scores = MlflowClient(), []
for C in (1.0, 0.01, 0.001):
    with mlflow.start_run(run_name=f"C={C}") as run:
        model = LogisticRegression(C=C, random_state=42).fit(X_train, y_train)
        client.log_param(run.info.run_id, "C", C)
        client.log_param(run.info.run_id, "random_state", 42)
        client.set_tag(run.info.run_id, "purpose", "other-style")
        figure = ConfusionMatrixDisplay.from_predictions(y_val, model.predict(X_val)).figure_
        mlflow.log_figure(figure, "confusion_matrix.png")
        plt.close(figure)
        mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3), pip_requirements=["scikit-learn"])
    scores.append({"run_id": run.info.run_id, "val_accuracy": accuracy_score(y_val, model.predict(X_val)), "model": model})
table = pd.DataFrame(scores)
for row in table.itertuples():  # logged afterwards, to finished runs, through the client
    client.log_metric(row.run_id, "val_accuracy", row.val_accuracy)
best = table.sort_values("val_accuracy", ascending=False).iloc[0]
client.log_metric(best.run_id, "test_accuracy", accuracy_score(y_test, best.model.predict(X_test)))
version = mlflow.register_model(f"runs:/{best.run_id}/model", "lab04-classifier")
client.set_registered_model_alias("lab04-classifier", "champion", version.version)
'''
ORPHAN_MARK = "4242.5"  # an unusual sleep length identifies the processes this test's submission leaves


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def solution(replace: tuple[str, str] | None = None) -> nbformat.NotebookNode:
    source = LAB_SOURCE.read_text()
    if replace:
        assert source.count(replace[0]) == 1
        source = source.replace(*replace)
    return authoring.to_notebook(source, "lab04", variant="solution")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade a class of eleven in two batches into one output folder; return the folder and timings."""
    root = tmp_path_factory.mktemp("autograde")
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    nbformat.write(solution(), subs / "honest.ipynb")
    nbformat.write(authoring.load_source(LAB_SOURCE, "lab"), subs / "unfilled.ipynb")
    # Correct work in another style: DataFrame features, the client API, register_model from runs:/.
    nbformat.write(notebook(ALT_STYLE), subs / "otherstyle.ipynb")
    nbformat.write(solution(('mlflow.log_metric("val_accuracy", val_accuracy)', 'mlflow.log_metric("val_accuracy", 0.99)')),
                   subs / "madeup.ipynb")
    nbformat.write(notebook(MINI_LAB, MINI_LAB_LOOP), subs / "minilab.ipynb")
    nbformat.write(notebook("import mlflow\nmlflow.set_experiment('lab04')", "hog = bytearray(64 * 1024**3)"),
                   subs / "hog.ipynb")
    nbformat.write(notebook(
        "import os, subprocess\n"
        f"subprocess.Popen(['sleep', '{ORPHAN_MARK}'], start_new_session=True)\n"
        f"if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '{ORPHAN_MARK}'])"
    ), subs / "orphan.ipynb")
    nbformat.write(notebook(
        "import glob, os\n"
        f"out = {str(out)!r}\n"
        "for path in glob.glob(out + '/**', recursive=True) + [out + '/gradebook.csv', out + '/honest/results.json']:\n"
        "    try:\n        open(path, 'w').write('overwritten')\n    except OSError:\n        pass\n"
        "print(sorted(os.listdir(out)) if os.path.isdir(out) else 'no output folder visible')"
    ), subs / "vandal.ipynb")
    (subs / "corrupt.ipynb").write_text("{ this is not a notebook")
    nbformat.write(notebook("raise RuntimeError('boom in the first cell')"), subs / "firstcell.ipynb")
    nbformat.write(notebook("import mlflow\nmlflow.set_experiment('lab04')", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                   subs / "deadkernel.ipynb")
    nbformat.write(notebook(FORGER, "os.kill(os.getppid(), signal.SIGKILL)"), subs / "forger.ipynb")
    # A service on the grading host, on its loopback and on every other address it has.
    listener = socket.create_server(("", 0))
    hosts = ["127.0.0.1", *sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                                   if a.family == socket.AF_INET and not a.address.startswith("127.")})]
    nbformat.write(notebook(f"HOSTS = {hosts!r}\nPORT = {listener.getsockname()[1]}\n" + NET_PROBE), subs / "netprobe.ipynb")

    started = time.monotonic()
    first = run_cli("grade", "--lab", "lab04", "--out", str(out), "--workers", "2", "--timeout", "240",
                    "--no-progress", str(subs))
    first_seconds = time.monotonic() - started
    listener.close()
    before = {p.relative_to(out): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}

    loop_dir = root / "late"
    loop_dir.mkdir()
    nbformat.write(notebook("import mlflow\nmlflow.set_experiment('lab04')", "while True:\n    pass"),
                   loop_dir / "loop.ipynb")
    started = time.monotonic()
    # 30 s: the first submission of a batch starts while the warm processes import MLflow, and on a
    # loaded machine `import mlflow` alone took over 15 s (the loop must log its experiment first).
    second = run_cli("grade", "--lab", "lab04", "--out", str(out), "--timeout", "30", "--no-progress",
                     str(subs), str(loop_dir))
    second_seconds = time.monotonic() - started
    return {"out": out, "first": first, "second": second, "before": before,
            "first_seconds": first_seconds, "second_seconds": second_seconds}


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_every_submission_gets_a_row_and_a_results_file(batch):
    assert batch["first"].returncode == 0, batch["first"].stdout + batch["first"].stderr
    assert batch["second"].returncode == 0, batch["second"].stdout + batch["second"].stderr
    rows = gradebook(batch["out"])
    students = sorted(["corrupt", "deadkernel", "firstcell", "forger", "honest", "hog", "loop", "madeup", "minilab",
                       "netprobe", "orphan", "otherstyle", "unfilled", "vandal"])
    assert sorted(rows) == students
    for student in students:
        results = json.loads((batch["out"] / student / "results.json").read_text())
        assert {"score", "execution_time", "output", "tests"} <= results.keys()
        assert results["score"] == float(rows[student]["score"])
        assert (batch["out"] / student / "feedback.md").read_text().startswith("# lab04")


@pytest.mark.slow
def test_the_solution_gets_full_marks_and_the_unfilled_lab_low_marks(batch):
    rows = gradebook(batch["out"])
    assert (rows["honest"]["score"], rows["honest"]["max_score"], rows["honest"]["status"]) == ("100", "100", "graded")
    assert (rows["otherstyle"]["score"], rows["otherstyle"]["status"]) == ("100", "graded"), \
        (rows["otherstyle"], (batch["out"] / "otherstyle" / "feedback.md").read_text())
    assert float(rows["unfilled"]["score"]) <= 10 and rows["unfilled"]["status"] == "error"
    assert "NotImplementedError" in rows["unfilled"]["message"]
    feedback = (batch["out"] / "unfilled" / "feedback.md").read_text()
    assert "The failing cell" in feedback and "YOUR CODE HERE" in feedback


@pytest.mark.slow
def test_a_made_up_accuracy_fails_truthfulness_naming_both_values(batch):
    checks = {t["name"].split(":")[0]: t for t in json.loads((batch["out"] / "madeup" / "results.json").read_text())["tests"]}
    assert checks["truthful"]["status"] == "failed"
    assert re.search(r"logged val_accuracy=0\.99, recomputed 0\.8\d+", checks["truthful"]["output"])
    assert checks["registry"]["status"] == "passed"


@pytest.mark.slow
def test_the_syllabus_mini_lab_earns_partial_credit_and_says_what_is_missing(batch):
    row = gradebook(batch["out"])["minilab"]
    # It logs test accuracy as `accuracy`, for C values the lab does not ask for: a fifth of the points.
    assert 15 <= float(row["score"]) <= 40 and row["status"] == "graded"
    feedback = (batch["out"] / "minilab" / "feedback.md").read_text()
    for missing in ["signature", "random_state", "purpose", "lab04-classifier", "val_accuracy"]:
        assert missing in feedback
    assert "the latest for each configuration counts" in feedback  # C=1.0 was run twice


@pytest.mark.slow
def test_hostile_submissions_are_contained(batch):
    rows = gradebook(batch["out"])
    assert rows["corrupt"]["status"] == "invalid" and rows["corrupt"]["score"] == "0"
    assert rows["hog"]["status"] in ("error", "killed") and "Memory" in rows["hog"]["message"]
    assert rows["hog"]["score"] == "5", "the experiment created before the crash still counts"
    assert rows["loop"]["status"] == "timeout" and rows["loop"]["score"] == "5"
    assert rows["firstcell"]["status"] == "error" and "boom in the first cell" in rows["firstcell"]["message"]
    assert rows["deadkernel"]["status"] == "error" and "DeadKernel" in rows["deadkernel"]["message"]
    assert rows["deadkernel"]["score"] == "5"
    assert batch["second_seconds"] < 120, "a timeout must not hold the batch"
    # No process a submission started outlives grading, including ones that left the session.
    assert not processes_running(ORPHAN_MARK)


@pytest.mark.slow
def test_a_vandal_cannot_touch_other_results_and_a_rerun_skips_the_graded(batch):
    out = batch["out"]
    after = {p.relative_to(out): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    for path, digest in batch["before"].items():
        if path.name != "gradebook.csv":  # rewritten with the late submission's row added
            assert after[path] == digest, f"{path} changed"
    assert (out / "honest" / "results.json").read_text() != "overwritten"
    # Inside the sandbox the output folder is an empty scratch mount: the vandal sees only what it wrote.
    seen = str(nbformat.read(out / "vandal" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert "honest" not in seen and "results.json" not in seen


@pytest.mark.slow
def test_no_network_beyond_the_sandbox_loopback(batch):
    outputs = "".join(o.get("text", "") for o in nbformat.read(batch["out"] / "netprobe" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert "interfaces ['lo']" in outputs
    assert "reached" not in outputs and outputs.count("blocked") >= 2, outputs
    assert gradebook(batch["out"])["netprobe"]["status"] == "graded"


@pytest.mark.slow
def test_a_kernel_cannot_forge_the_execution_report(batch):
    row = gradebook(batch["out"])["forger"]
    assert row["status"] == "killed", row  # it killed the process that reports; no report means no status
    outputs = str(nbformat.read(batch["out"] / "forger" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert "opened []" in outputs, "the executing process's descriptors must be out of the kernel's reach"
    checks = {t["name"].split(":")[0]: t for t in json.loads((batch["out"] / "forger" / "results.json").read_text())["tests"]}
    assert checks["truthful"]["status"] == "failed"
    assert re.search(r"logged val_accuracy=0\.99, recomputed 0\.8\d+", checks["truthful"]["output"])


@pytest.mark.slow
def test_each_students_record_says_where_the_grading_time_went(batch):
    record = json.loads((batch["out"] / "honest" / "grading.json").read_text())["phases"]
    assert {"preparing the workspace", "until the first cell", "cells", "after the last cell", "copying the store out",
            "waiting for the warm-up", "grading child: checking the store's schema", "grading child: start and limits", "grading child: store queries and checks",
            "grading child: copying the models", "grading child: loading the models and predicting",
            "removing the workspace", "writing the results"} == set(record)
    assert record["cells"] > 1 and record["grading child: loading the models and predicting"] > 0
    spent = json.loads((batch["out"] / "honest" / "results.json").read_text())["execution_time"]
    assert sum(record.values()) - record["writing the results"] <= spent + 0.5
    assert sum(record.values()) > 0.9 * spent, (record, spent)
    # A file that is no notebook never reaches a sandbox: its time is all preparation.
    assert set(json.loads((batch["out"] / "corrupt" / "grading.json").read_text())["phases"]) == {
        "preparing the workspace", "removing the workspace", "writing the results"}


def test_a_notebooks_own_times_only_split_the_execution_never_change_its_total():
    from grading.autograde.phases import Phases

    def executed(start: str, end: str) -> bytes:
        cell = {"cell_type": "code", "metadata": {"papermill": {"start_time": start, "end_time": end}}}
        return json.dumps({"cells": [cell]}).encode()

    honest = Phases()
    honest.split_execution(1000.0, 1010.0, executed("1970-01-01T00:16:42+00:00", "1970-01-01T00:16:48+00:00"))
    assert honest.seconds == {"until the first cell": 2.0, "cells": 6.0, "after the last cell": 2.0}
    for forged in (executed("1970-01-01T00:00:00", "2100-01-01T00:00:00"), b"not json", executed("x", "y"), None):
        phases = Phases()
        phases.split_execution(1000.0, 1010.0, forged)
        assert phases.seconds == {"execution": 10.0}


def test_a_rerun_keeps_earlier_results_unless_forced(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "broken.ipynb").write_text("not a notebook")
    assert run_cli("grade", "--lab", "lab04", "--out", str(out), "--no-progress", str(subs)).returncode == 0
    results = out / "broken" / "results.json"
    results.write_text("kept")  # stands for last week's results
    again = run_cli("grade", "--lab", "lab04", "--out", str(out), "--no-progress", str(subs))
    assert again.returncode == 0 and "kept the earlier results of 1 already graded (broken)" in again.stdout
    assert results.read_text() == "kept"
    forced = run_cli("grade", "--lab", "lab04", "--out", str(out), "--no-progress", "--force", str(subs))
    assert forced.returncode == 0 and "already graded" not in forced.stdout
    assert json.loads(results.read_text())["score"] == 0
    assert gradebook(out)["broken"]["status"] == "invalid"


def test_bad_input_is_one_line_with_exit_2(tmp_path):
    for args, words in [
        (["grade", "--lab", "lab99", "--out", str(tmp_path), str(tmp_path)], "unknown target lab99"),
        (["grade", "--lab", "lab04", "--out", str(tmp_path), str(tmp_path / "missing.ipynb")], "no such submission"),
        (["grade", "--lab", "lab04", "--out", str(tmp_path), str(tmp_path)], "no submissions found"),
        (["grade-one", "--lab", "lab99", "--submission", str(tmp_path), "--results", str(tmp_path / "r.json")],
         "unknown target lab99"),
        (["grade-one", "--lab", "lab04", "--submission", str(tmp_path), "--results", str(tmp_path / "r.json"),
          "--timeout", "0"], "--timeout"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


# Every run selection of the lab gets a filter MLflow cannot parse, in the grader and in its grading
# children (which import the modules of prewarmed.PRELOAD first), where the batch parses the filters.
BROKEN_FILTER = """
import dataclasses
from grading.engine import expectations
real = expectations.load
def load(target, folder=expectations.FOLDER, filters=True):
    spec = real(target, folder, filters=False)
    runs = {name: dataclasses.replace(sel, filter="tags.a = 'x' or tags.b = 'y'") for name, sel in spec.runs.items()}
    spec = dataclasses.replace(spec, runs=runs)
    if filters:
        expectations.check_filters(spec, folder)
    return spec
expectations.load = load
"""
GRADE_WITH_BROKEN_FILTER = """
import sys
import broken_filter
from grading import prewarmed
prewarmed.PRELOAD.insert(0, "broken_filter")
from grading.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_filter_mlflow_cannot_parse_stops_the_batch_in_one_line_before_any_result(tmp_path):
    """The batch parses the lab's filters while the first notebooks run; a bad one still ends it with
    the usual one line and exit 2, and no student gets a result made of it."""
    import os
    import subprocess
    import sys

    subs, out, patch = tmp_path / "subs", tmp_path / "out", tmp_path / "patch"
    subs.mkdir()
    patch.mkdir()
    (patch / "broken_filter.py").write_text(BROKEN_FILTER)
    (subs / "solution.ipynb").write_bytes((ROOT / "solutions" / "lab04.ipynb").read_bytes())
    done = subprocess.run([sys.executable, "-c", GRADE_WITH_BROKEN_FILTER, "grade", "--lab", "lab04", "--out", str(out),
                           "--no-progress", str(subs)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(patch), str(ROOT)])})
    assert_one_line_error(done, "has a filter MLflow cannot parse")
    assert not (out / "solution").exists()
    assert [line.split(",")[0] for line in (out / "gradebook.csv").read_text().splitlines()] == ["student"]


def test_an_upload_of_several_notebooks_gets_a_results_file_that_says_so(tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    for name in ("lab04.ipynb", "lab04-copy.ipynb"):
        nbformat.write(notebook("print(1)"), upload / name)
    results = tmp_path / "results" / "results.json"
    done = run_cli("grade-one", "--lab", "lab04", "--submission", str(upload), "--results", str(results))
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: several notebooks in the upload; upload exactly one .ipynb file for lab04"]
    written = json.loads(results.read_text())
    assert written["score"] == 0 and written["tests"] == [] and "several notebooks" in written["output"]


@pytest.mark.slow
def test_run_autograder_writes_gradescope_results(tmp_path):
    import subprocess

    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    # The lab as handed out: the script's job is the layout, and the solution's 100 points are the batch's.
    nbformat.write(authoring.load_source(LAB_SOURCE, "lab"), root / "submission" / "lab04.ipynb")
    done = subprocess.run([str(ROOT / "docker" / "autograder" / "run_autograder")], capture_output=True, text=True,
                          env={**__import__("os").environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_SOURCE": str(ROOT)},
                          timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    tests = results["tests"]
    assert len(tests) == len(expectations.load("lab04").checks)
    assert results["score"] == sum(t["score"] for t in tests) <= 10
    # Gradescope shows only this file, so it says where the notebook stopped.
    assert results["output"].startswith("The notebook raised an error: cell [") and "NotImplementedError" in results["output"]

    (root / "submission" / "lab04.ipynb").unlink()  # an empty upload still gets a results file
    subprocess.run([str(ROOT / "docker" / "autograder" / "run_autograder")], capture_output=True, text=True,
                   env={**__import__("os").environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_SOURCE": str(ROOT)},
                   timeout=600)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "no notebook in the upload; upload exactly one .ipynb file" in results["output"]


@pytest.mark.slow
def test_one_gradescope_zip_per_section_names_its_set_in_autograder_lab(tmp_path):
    import os
    import subprocess

    root, chosen = tmp_path / "autograder", ROOT / "autograder-lab"  # as the zip's top level holds it (git ignores it)
    (root / "submission").mkdir(parents=True)
    nbformat.write(nbformat.read(ROOT / "labs" / "ex03-query-runs.ipynb", as_version=4), root / "submission" / "ex03.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_LAB"}
    chosen.write_text("ex03-query-runs\n")
    try:
        done = subprocess.run([str(ROOT / "docker" / "autograder" / "run_autograder")], capture_output=True, text=True,
                              env={**env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_SOURCE": str(ROOT)}, timeout=600)
    finally:
        chosen.unlink()
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert [t["name"].split(":")[0] for t in results["tests"]] == [c.id for c in expectations.load("ex03-query-runs").checks]
    assert results["score"] == 1  # the given runs; every exercise still to do


def test_the_sandbox_executor_reads_local_notebooks_without_papermills_cloud_handlers(tmp_path):
    """Each submission's executor skips boto3 and pyarrow (papermill's S3 and HDFS handlers),
    which cost every submission a third of a second of CPU; local notebooks still round-trip."""
    import subprocess
    import sys

    notebook = tmp_path / "in.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), notebook)
    probe = ("import sys, grading.autograde.execute_submission, papermill.iorw as io\n"
             f"nb = io.load_notebook_node({str(notebook)!r}); io.write_ipynb(nb, {str(tmp_path / 'out.ipynb')!r})\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'pyarrow') and sys.modules[m]))")
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].source == "1 + 1"


def test_each_sandbox_starts_with_the_font_list_built_once_and_plots_without_rebuilding_it(tmp_path, monkeypatch):
    """A sandboxed kernel starts with an empty matplotlib folder and would scan every font again
    (0.25-0.35 s per submission); the batch builds the list once per install and seeds each workspace."""
    import sys

    from course import paths
    from grading import sandbox
    from grading.autograde import font_list

    monkeypatch.setattr(paths, "HOME", tmp_path / "home")
    assert font_list.built() is None
    cached = font_list.build()
    assert cached is not None and cached.parent == font_list.folder() and font_list.build() == cached
    plot = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\n"
            "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
            "plt.title('accuracy by C'); plt.savefig('/tmp/plot.png'); print('cache folder', matplotlib.get_cachedir())")
    shown = {}
    for seeded in (True, False):
        workspace = tmp_path / f"workspace-{seeded}"
        workspace.mkdir()
        with sandbox.identity() as uid:
            if seeded:
                font_list.seed(workspace / ".scratch", uid)
            done = sandbox.Sandbox(workspace=workspace, uid=uid, limits=sandbox.Limits(timeout=120)).run(
                [sys.executable, "-I", "-c", plot])
        assert done.returncode == 0, done.stderr[-2000:]
        assert "cache folder /tmp/matplotlib" in done.stdout  # still its own, writable folder
        shown[seeded] = done.stdout
    assert "Using fontManager instance from /tmp/matplotlib/fontlist-v" in shown[True]
    assert "generated new fontManager" not in shown[True] and "Rebuilding" not in shown[True]
    assert "generated new fontManager" in shown[False]  # what every submission paid before

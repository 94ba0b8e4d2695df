"""The autograder against a hostile class, with the grader running as root (as in Gradescope and CI).

Each attack is a submission. One batch grades them all, with a grader environment that holds
secrets and a host that holds answers; the tests then check what an expert would: nothing
leaked into any output, nothing written outside the workspace, the right score and status,
every limit named, no process left behind.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, assert_one_line_error, processes_running, require, run_cli
from grading import sandbox

SECRET = "sk-canary-7f3a9c"  # in the grader's environment only
OTHER_STUDENT = "other-student-canary-51e2"  # in another submission, outside the sandbox's sight
LAB_SOURCE = ROOT / "labs" / "source" / "lab04.py"
SOLUTION = ROOT / "solutions" / "lab04.ipynb"
SOLUTION_LINE = "mlflow.set_registered_model_alias"  # the solution's answer, absent from the hand-out
LIMITS = ["--disk-mb", "64", "--output-mb", "2", "--timeout", "120", "--memory-mb", "1536"]

RUNS = '''
import mlflow, numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
X, y = make_classification(n_samples=1000, n_features=10, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)
mlflow.set_experiment("lab04")
'''

READER = '''
import os
print("uid", os.getuid())
for path in PATHS:
    try:
        if os.path.isdir(path):
            print(path, "LISTED", os.listdir(path))
        else:
            print(path, "READ", open(path, errors="replace").read(4000))
    except OSError as exc:
        print(path, "refused", type(exc).__name__)
print("environ", dict(os.environ))
for pid in ("1", "self", str(os.getppid())):
    try:
        print(pid, "ENVIRON", open(f"/proc/{pid}/environ", "rb").read()[:4000])
    except OSError as exc:
        print(pid, "environ refused", type(exc).__name__)
'''

FORGED_REPORT = '''
import json, os, signal
lie = json.dumps({"status": {"status": "completed"}}) + "\\n"
opened = []
for pid in ("1", str(os.getppid())):
    for fd in range(12):
        try:
            with open(f"/proc/{pid}/fd/{fd}", "w") as handle:
                handle.write(lie)
            opened.append((pid, fd))
        except OSError:
            pass
print("opened", opened)
'''

LYING_MODEL = RUNS + '''
import os, json
import mlflow.pyfunc

class Liar(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        # Loading runs this: try to forge every result the recompute could report.
        lie = json.dumps({"model": "/tmp/elsewhere/m0", "predictions": [int(v) for v in y_test]}) + "\\n"
        for fd in range(40):
            try:
                os.write(fd, lie.encode())
            except OSError:
                pass
        print(lie)

    def predict(self, context, model_input, params=None):
        return np.zeros(len(model_input), dtype=int)

for C in (0.1, 1.0, 10.0):
    with mlflow.start_run():
        mlflow.log_params({"C": C, "random_state": 42})
        mlflow.log_metric("val_accuracy", 0.99)
        mlflow.pyfunc.log_model(name="model", python_model=Liar(), pip_requirements=["mlflow"])
'''

ESCAPE = RUNS + '''
import sqlite3
with mlflow.start_run() as run:
    mlflow.log_params({"C": 1.0, "random_state": 42})
    mlflow.log_metric("val_accuracy", 0.9)
    mlflow.sklearn.log_model(LogisticRegression().fit(X_train, y_train), name="model", pip_requirements=["scikit-learn"])
db = mlflow.get_tracking_uri()[len("sqlite:///"):]
with sqlite3.connect(db) as connection:  # point every location at the answers on the host
    connection.execute("UPDATE experiments SET artifact_location = ?", (ELSEWHERE,))
    connection.execute("UPDATE runs SET artifact_uri = ?", (ELSEWHERE,))
    connection.execute("UPDATE logged_models SET artifact_location = ?", (ELSEWHERE,))
print("relocated")
'''

SPARSE_ARTIFACT = RUNS + '''
import os
from urllib.parse import urlparse
import matplotlib.pyplot as plt
with mlflow.start_run() as run:
    mlflow.log_params({"C": 1.0, "random_state": 42})
    fig, ax = plt.subplots()
    mlflow.log_figure(fig, "confusion_matrix.png")
folder = mlflow.artifacts.download_artifacts  # noqa: the path, not a download
path = run.info.artifact_uri.replace("mlflow-artifacts:", os.path.dirname(mlflow.get_tracking_uri()[len("sqlite:///"):]) + "/artifacts")
path = urlparse(path).path if path.startswith("file:") else path
target = os.path.join(path, "confusion_matrix.png")
try:
    os.truncate(target, 2 * 1024**3)  # 2 GiB, no disk used
except OSError as exc:
    print("2 GiB refused:", exc.strerror)
os.truncate(target, 60 * 1024**2)  # under the workspace's limits, over what the grader reads
print("sparse", os.path.getsize(target))
'''

TRAVERSAL = RUNS + '''
import glob, sqlite3
import mlflow.pyfunc

class Spy(mlflow.pyfunc.PythonModel):
    def load_context(self, context):  # runs in the recompute: report what it can see there
        seen = {p: open(p, errors="replace").read(200) for p in glob.glob("/tmp/*/*/*") + glob.glob("/tmp/*/*/*/*")
                if os.path.isfile(p)}
        raise ValueError(repr(seen)[:3000])

    def predict(self, context, model_input, params=None):
        return np.zeros(len(model_input), dtype=int)

import os
with mlflow.start_run():
    mlflow.log_params({"C": 0.1, "random_state": 42})
    mlflow.log_metric("val_accuracy", 0.5)
    mlflow.pyfunc.log_model(name="model", python_model=Spy(), pip_requirements=["mlflow"])
with mlflow.start_run():
    mlflow.log_params({"C": 1.0, "random_state": 42})
    mlflow.log_metric("val_accuracy", 0.9)
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X_train, y_train), name="model", pip_requirements=["scikit-learn"])
# A newer copy of that model whose id climbs out of its folder to another class's submissions.
crafted = info.model_id + "/.." * 30 + ELSEWHERE
with sqlite3.connect(mlflow.get_tracking_uri()[len("sqlite:///"):]) as connection:
    connection.execute("CREATE TEMP TABLE t AS SELECT * FROM logged_models WHERE model_id = ?", (info.model_id,))
    connection.execute("UPDATE t SET model_id = ?, creation_timestamp_ms = creation_timestamp_ms + 1000000", (crafted,))
    connection.execute("INSERT INTO logged_models SELECT * FROM t")
print("crafted")
'''

FAKE_REGISTRATION = RUNS + '''
from mlflow import MlflowClient
for C in (0.1, 1.0, 10.0):
    with mlflow.start_run() as run:
        mlflow.log_params({"C": C, "random_state": 42})
        mlflow.log_metric("val_accuracy", 0.8 + C / 100)
client = MlflowClient()
client.create_registered_model("lab04-classifier")
version = client.create_model_version("lab04-classifier", source="s3://no-such-bucket/nothing", run_id=run.info.run_id)
client.set_registered_model_alias("lab04-classifier", "champion", version.version)
'''

ENDLESS_VIEW = RUNS + '''
import sqlite3
with mlflow.start_run():
    mlflow.log_params({"C": 1.0, "random_state": 42})
with sqlite3.connect(mlflow.get_tracking_uri()[len("sqlite:///"):]) as connection:
    connection.executescript("""
        ALTER TABLE tags RENAME TO tags_real;
        CREATE VIEW tags AS SELECT key, value, run_uuid FROM tags_real UNION ALL SELECT 'k', 'v', r FROM
            (WITH RECURSIVE c(r) AS (SELECT 'x' UNION ALL SELECT r FROM c) SELECT r FROM c);
    """)
print("viewed")
'''

FILLER = '''
import os
written = 0
try:
    for folder in ("/var/tmp", "/dev/shm", "/tmp", "."):
        with open(os.path.join(folder, "fill"), "wb") as handle:
            for _ in range(200):
                handle.write(b"x" * 1024 * 1024)
                written += 1
except OSError as exc:
    print("stopped after", written, "MB:", exc)
    raise
'''

FORK_BOMB = '''
import subprocess
children = []
try:
    while len(children) < 2000:
        children.append(subprocess.Popen(["sleep", "6061.5"]))
except OSError as exc:
    print("refused after", len(children), type(exc).__name__)
'''

MEMORY_HOG = '''
import subprocess, sys
hogs = [subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (700 * 1024**2); time.sleep(20)"])
        for _ in range(3)]
print("exit codes", sorted(h.wait() for h in hogs))
'''

TERMINAL_CODES = "\x1b[2J\x1b]52;c;ZXZpbA==\x07\x9b31m\u202eDOOG"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FLOOD = 'for i in range(40):\n    print(("flood %d " % i) * 100000)'


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def make_host_store(path: Path) -> None:
    """An instructor's store with the lab's experiment, which a submission must not get graded on."""
    script = f"import mlflow\nmlflow.set_tracking_uri('sqlite:///{path}')\nmlflow.set_experiment('lab04')\n"
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                   env={**os.environ, "MLFLOW_LOGGING_LEVEL": "ERROR"})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    require(None if sandbox.mode() == "isolated" else
            "the hostile-submission suite needs the isolated sandbox (root, bwrap and setpriv)")
    root = tmp_path_factory.mktemp("hostile")
    subs, out, host = root / "submissions", root / "out", root / "host"
    subs.mkdir()
    host.mkdir()
    host_store = host / "instructor.db"
    make_host_store(host_store)
    foreign = host / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    elsewhere = root / "other-class"  # another class's submissions on the same host
    elsewhere.mkdir()
    (elsewhere / "their.ipynb").write_text(OTHER_STUDENT)

    paths = ["/etc/shadow", "/root", str(LAB_SOURCE), str(SOLUTION), str(ROOT / "grading" / "expectations"),
             str(ROOT / "tests"), str(ROOT / ".git"), str(ROOT), str(elsewhere), str(elsewhere / "their.ipynb"),
             str(out), str(host), "/home", "/var/tmp", "/proc/1/fd/1"]
    nbformat.write(notebook(f"PATHS = {paths!r}\n" + READER), subs / "reader.ipynb")
    nbformat.write(notebook("print('forging')", FORGED_REPORT, "os.kill(os.getppid(), signal.SIGKILL)"),
                   subs / "procwriter.ipynb")
    nbformat.write(notebook(LYING_MODEL), subs / "liar.ipynb")
    nbformat.write(notebook(f"ELSEWHERE = {SOLUTION.parent.as_uri()!r}\n" + ESCAPE), subs / "escape.ipynb")
    nbformat.write(notebook(SPARSE_ARTIFACT), subs / "sparse.ipynb")
    nbformat.write(notebook(FILLER), subs / "filler.ipynb")
    nbformat.write(notebook(FORK_BOMB), subs / "forkbomb.ipynb")
    nbformat.write(notebook(FLOOD), subs / "flood.ipynb")
    nbformat.write(notebook(MEMORY_HOG), subs / "memhog.ipynb")
    nbformat.write(notebook(f"ELSEWHERE = {str(elsewhere)!r}\n" + TRAVERSAL), subs / "traversal.ipynb")
    nbformat.write(notebook(ENDLESS_VIEW), subs / "view.ipynb")
    nbformat.write(notebook(FAKE_REGISTRATION), subs / "fakereg.ipynb")
    nbformat.write(notebook("raise ValueError('<img src=x onerror=alert(1)> [click](http://example.org) | x')"),
                   subs / "markup.ipynb")
    # Terminal escapes (clear the screen, write the clipboard, a bell, a carriage return over the
    # line, text reversed), raw in the exception and in the cell's source.
    nbformat.write(notebook(f"raise ValueError('{TERMINAL_CODES}\\rALL GOOD')"), subs / "terminal.ipynb")
    # Symlinks planted in the workspace, for the grader to follow after the notebook ends.
    nbformat.write(notebook("import os\nos.remove('/workspace/executed.ipynb') if os.path.exists('/workspace/executed.ipynb') else None\n"
                            f"os.symlink({str(SOLUTION)!r}, '/workspace/executed.ipynb')"), subs / "link-solution.ipynb")
    nbformat.write(notebook("import os\nos.symlink('/dev/zero', '/workspace/executed.ipynb.tmp')\n"
                            "os.replace('/workspace/executed.ipynb.tmp', '/workspace/executed.ipynb')"), subs / "link-zero.ipynb")
    nbformat.write(notebook("import os, mlflow\nmlflow.set_experiment('mine')\n"
                            "db = '/workspace/store/mlflow.db'\nos.remove(db)\n"
                            f"os.symlink({str(host_store)!r}, db)"), subs / "link-store.ipynb")
    nbformat.write(notebook("import os, shutil\nshutil.rmtree('/workspace/store')\n"
                            f"os.symlink({str(host / 'made-by-grader')!r}, '/workspace/store')"), subs / "link-folder.ipynb")
    nbformat.write(notebook("import os, mlflow\nmlflow.set_experiment('mine')\n"
                            f"os.remove('/workspace/store/mlflow.db')\nos.symlink({str(foreign)!r}, '/workspace/store/mlflow.db')"),
                   subs / "link-foreign.ipynb")
    # Names that once stopped the batch, and files that are not notebooks.
    nbformat.write(notebook("print('dots')"), subs / "..ipynb")
    nbformat.write(notebook("print('formula')"), subs / '=HYPERLINK("http---x").ipynb')
    os.symlink(SOLUTION, subs / "linked.ipynb")
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "folder.ipynb").mkdir()
    twins = []
    for letter in "ab":
        folder = root / (letter * 200)
        folder.mkdir()
        nbformat.write(notebook("print('twin')"), folder / "twin.ipynb")
        twins.append(str(folder / "twin.ipynb"))

    before = {p: digest(p) for p in (host_store, foreign, SOLUTION, LAB_SOURCE)}
    wrapper = ("import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:])\n"
               "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(done.returncode)")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "grading", "grade", "--lab", "lab04", "--out", str(out),
         "--workers", "2", "--no-progress", *LIMITS, str(subs), *twins],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET, "MLFLOW_TRACKING_PASSWORD": SECRET, "COURSE_TEST_SECRET": SECRET})
    return {"out": out, "done": done, "before": before, "host": host, "seconds": time.monotonic() - started,
            "maxrss_kb": int(done.stderr.split("MAXRSS_KB")[-1].split()[0]) if "MAXRSS_KB" in done.stderr else None}


def rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


def checks(out: Path, student: str) -> dict[str, dict]:
    return {t["name"].split(":")[0]: t for t in results(out, student)["tests"]}


def every_output(out: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file())


def test_every_hostile_file_gets_a_result_and_the_batch_finishes(hostile):
    assert hostile["done"].returncode == 0, hostile["done"].stderr[-3000:]
    graded = rows(hostile["out"])
    expected = {"reader", "procwriter", "memhog", "traversal", "view", "markup", "fakereg", "liar", "escape", "sparse", "filler", "forkbomb", "flood", "link-solution",
                "link-zero", "link-store", "link-folder", "link-foreign", "submission", "HYPERLINK_http---x", "linked",
                "fifo", "folder", f"{'a' * 200}-twin"[:80], f"{'b' * 200}-twin"[:80]}
    assert expected <= set(graded), sorted(set(graded) ^ expected)
    for student in graded:
        assert (hostile["out"] / student / "results.json").is_file()
        assert len(student.encode()) <= 80 and not student.startswith(".")
    # The gradebook maps each id back to the file, and no cell starts a spreadsheet formula.
    assert graded["HYPERLINK_http---x"]["submission"].endswith('=HYPERLINK("http---x").ipynb')
    text = (hostile["out"] / "gradebook.csv").read_text()
    assert not any(cell.startswith(("=", "+", "@")) for line in csv.reader(text.splitlines()) for cell in line)
    for student in ("linked", "fifo", "folder"):
        assert graded[student]["status"] == "invalid" and graded[student]["score"] == "0", graded[student]
    assert "symbolic link" in graded["linked"]["message"]


def test_no_secret_answer_or_other_student_reaches_any_output(hostile):
    everything = every_output(hostile["out"])
    assert SECRET not in everything
    assert OTHER_STUDENT not in everything
    assert SOLUTION_LINE not in everything, "the solution leaked"
    assert "best_by" not in everything, "the expectations leaked"
    assert "root:" not in everything and "ref: refs/heads" not in everything
    reader = "".join(o.get("text", "") for o in
                     nbformat.read(hostile["out"] / "reader" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert int(re.search(r"uid (\d+)", reader).group(1)) >= sandbox.UID_BASE  # an unprivileged host uid, not root
    hidden = ["/etc/shadow", str(LAB_SOURCE), str(SOLUTION), str(ROOT / "grading" / "expectations"), str(ROOT / "tests"),
              str(ROOT / ".git"), str(hostile["out"]), str(hostile["host"]), "/home", "/proc/1/fd/1"]
    for path in hidden:
        assert f"{path} refused" in reader, path
    # The course folder shows only what running a notebook needs.
    listed = eval(reader.split(f"{ROOT} LISTED ")[1].splitlines()[0])
    assert set(listed) <= {".venv", "course", "grading"}, listed


def test_the_grader_follows_no_planted_symlink_and_writes_nothing_outside(hostile):
    out, host = hostile["out"], hostile["host"]
    for path, before in hostile["before"].items():
        assert digest(path) == before, f"{path} changed"
    assert not (host / "made-by-grader").exists()
    assert sorted(p.name for p in host.iterdir()) == ["foreign.db", "instructor.db"]
    graded = rows(out)
    for student in ("link-solution", "link-zero"):
        kept = out / student / "executed.ipynb"
        assert not kept.exists() or SOLUTION_LINE not in kept.read_text()
        assert "regular file" in (out / student / "feedback.md").read_text() or not kept.exists()
    # A store that is a link is not graded: the instructor's store would have given the experiment check.
    for student in ("link-store", "link-folder", "link-foreign"):
        assert graded[student]["score"] == "0", graded[student]
    assert "replaced its tracking store folder" in (out / "link-folder" / "feedback.md").read_text()


def test_a_database_cannot_point_the_grader_at_host_files(hostile):
    graded = checks(hostile["out"], "escape")
    assert graded["experiment"]["status"] == "passed"
    assert graded["model"]["status"] == "failed" and "outside the submission's store" in graded["model"]["output"]
    assert graded["truthful"]["status"] == "failed"


def test_a_model_id_cannot_climb_out_of_the_store(hostile):
    graded = checks(hostile["out"], "traversal")
    assert graded["truthful"]["status"] == "failed"
    assert "is not a logged model's URI" in graded["truthful"]["output"], graded["truthful"]["output"]
    # The spy model saw only its own submission's files; the global check finds no other student's.
    assert "does not load or predict (ValueError" in graded["truthful"]["output"]


def test_a_registered_version_must_hold_a_model_its_run_logged(hostile):
    registry = checks(hostile["out"], "fakereg")["registry"]
    assert registry["status"] == "failed" and "not from a logged model" in registry["output"], registry["output"]


def test_a_view_in_the_store_is_refused_not_run(hostile):
    row = rows(hostile["out"])["view"]
    assert row["status"] == "graded" and row["score"] == "0", row
    assert "not a current MLflow database" in (hostile["out"] / "view" / "feedback.md").read_text()


def test_feedback_shows_a_submissions_text_inert(hostile):
    feedback = (hostile["out"] / "markup" / "feedback.md").read_text()
    prose, _, cell = feedback.partition("The failing cell:")
    assert "onerror" in prose and "<img" not in prose and "[click](" not in prose and "&lt;img" in prose
    assert cell.count("```") == 2, "the cell stays inside its fence"


def test_what_the_instructor_reads_carries_no_control_character(hostile):
    """A submission's exception and cell reach the terminal, the gradebook, the feedback and
    results.json with every control character spelled out, never acted on."""
    out = hostile["out"]
    feedback = (out / "terminal" / "feedback.md").read_text()
    shown = json.loads((out / "terminal" / "results.json").read_text())
    texts = {"grade's summary": hostile["done"].stdout, "gradebook.csv": (out / "gradebook.csv").read_text(),
             "feedback.md": feedback, "results.json": shown["output"] + "".join(t["output"] for t in shown["tests"])}
    assert rows(out)["terminal"]["status"] == "error"
    for where, text in texts.items():
        assert not CONTROL.findall(text.replace("\r\n", "\n")), (where, CONTROL.findall(text)[:5])
    # Spelled out, so the instructor sees what the submission tried.
    assert "\\x1b[2J" in feedback and "\\x07" in feedback and "\\u202e" in feedback
    assert "\\x1b[2J" in rows(out)["terminal"]["message"]


def test_neither_the_kernel_nor_a_model_can_forge_a_report(hostile):
    out = hostile["out"]
    assert rows(out)["procwriter"]["status"] == "killed"
    outputs = str(nbformat.read(out / "procwriter" / "executed.ipynb", as_version=4).cells[1].outputs)
    assert "opened []" in outputs
    truthful = checks(out, "liar")["truthful"]
    assert truthful["status"] == "failed"
    assert re.search(r"logged val_accuracy=0\.99, recomputed 0\.[45]\d*", truthful["output"]), truthful["output"]


def test_every_limit_is_bounded_and_named(hostile):
    out = hostile["out"]
    graded = rows(out)
    filler = (out / "filler" / "feedback.md").read_text()
    assert graded["filler"]["status"] == "error" and "disk limit of 64 MB" in filler
    forkbomb = (out / "forkbomb" / "feedback.md").read_text()
    assert "limit of 256 processes" in forkbomb
    refused = str(nbformat.read(out / "forkbomb" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert "refused after" in refused
    # Three processes of 700 MB: each is under the per-process bound, together over the sandbox's.
    assert "memory limit of 1536 MB was hit" in (out / "memhog" / "feedback.md").read_text()
    assert "-9" in str(nbformat.read(out / "memhog" / "executed.ipynb", as_version=4).cells[0].outputs)
    flood = out / "flood" / "executed.ipynb"
    assert graded["flood"]["status"] == "graded" and flood.stat().st_size < 4 * 1024 * 1024
    assert "printed more than 2 MB" in (out / "flood" / "feedback.md").read_text()
    assert "output truncated" in flood.read_text()
    sparse = (out / "sparse" / "feedback.md").read_text()
    assert graded["sparse"]["status"] == "graded"
    assert "confusion_matrix.png is 62.9 MB; the grader reads files up to" in sparse, sparse
    printed = str(nbformat.read(out / "sparse" / "executed.ipynb", as_version=4).cells[0].outputs)
    assert "2 GiB refused: File too large" in printed
    assert hostile["maxrss_kb"] is not None and hostile["maxrss_kb"] < 1_000_000, hostile["maxrss_kb"]
    # The fork bomb's 250 children (an unusual sleep marks them) did not outlive grading.
    assert not processes_running("6061.5")


def test_bad_limits_are_one_line_errors(tmp_path):
    nbformat.write(notebook("print(1)"), tmp_path / "one.ipynb")
    for value in ("nan", "inf", "-1", "0"):
        result = run_cli("grade", "--lab", "lab04", "--out", str(tmp_path / "out"), "--timeout", value, str(tmp_path / "one.ipynb"))
        assert_one_line_error(result, "--timeout")
    assert not (tmp_path / "out").exists(), "nothing is written before the options are checked"


def test_the_first_ctrl_c_keeps_finished_results_and_stops_the_rest(tmp_path):
    require(None if sandbox.mode() != "process" else "needs bubblewrap")
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    nbformat.write(notebook("print('quick')"), subs / "a-quick.ipynb")
    for name in ("b-loop", "c-loop"):
        nbformat.write(notebook("while True:\n    pass"), subs / f"{name}.ipynb")
    process = subprocess.Popen([sys.executable, "-m", "grading", "grade", "--lab", "lab04", "--out", str(out),
                                "--workers", "1", "--timeout", "300", "--no-progress", str(subs)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "a-quick" / "grading.json").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # b-loop is running now
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted; finished results are kept")
    assert (out / "a-quick" / "results.json").exists()
    assert not (out / "b-loop" / "grading.json").exists() and not (out / "c-loop").exists()
    assert [r["student"] for r in csv.DictReader(open(out / "gradebook.csv"))] == ["a-quick"]
    assert not processes_running("execute_submission", str(subs))


def test_labs_whose_checks_act_on_the_host_are_not_autograded(tmp_path):
    nbformat.write(notebook("print(1)"), tmp_path / "one.ipynb")
    result = run_cli("grade", "--lab", "08-dvc-lineage", "--out", str(tmp_path / "out"), str(tmp_path / "one.ipynb"))
    assert_one_line_error(result, "08-dvc-lineage cannot be autograded", "'lineage'")
    assert not (tmp_path / "out").exists()

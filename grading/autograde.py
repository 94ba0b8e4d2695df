"""Grade a batch of lab submissions: execute each in the sandbox, then query the store it wrote.

For every submission, whatever happens to it, the output folder gets
``<student>/results.json`` (Gradescope), ``<student>/feedback.md``,
``<student>/executed.ipynb`` (when anything ran) and a row in ``gradebook.csv``.
"""
from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from course import paths
from grading import atomic, execute_submission, expectations, grader, render, sandbox
from grading.errors import UsageError
from grading.results import CheckResult, GradingResult

GRADEBOOK_COLUMNS = ("student", "score", "max_score", "status", "message")


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path


@dataclass
class Row:
    student: str
    score: float
    max_score: float
    status: str  # graded, error, timeout, killed, invalid
    message: str


RECOMPUTE_SECONDS = 120  # after the notebook's own time, for loading and scoring its models


@dataclass(frozen=True)
class Limits:
    timeout: float = 600  # whole notebook, seconds; each cell gets the same bound
    memory_mb: int = 4096


def discover(arguments: list[str]) -> list[Submission]:
    """Notebook paths, or folders of them. The student id is the file stem; when two files share
    a stem (labs/lab04.ipynb and solutions/lab04.ipynb), each id gets its folder's name in front."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix == ".ipynb" and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such submission: {argument}; pass notebook files or folders of them")
    unique = list({f.resolve(): f for f in files}.values())
    if not unique:
        raise UsageError("no submissions found; pass notebook files or folders that contain .ipynb files")
    stems = [f.stem for f in unique]
    found: dict[str, Submission] = {}
    for file in unique:
        student = file.stem if stems.count(file.stem) == 1 else f"{file.resolve().parent.name}-{file.stem}"
        if student in found:
            raise UsageError(f"two submissions for student {student}: {found[student].path} and {file}")
        found[student] = Submission(student, file)
    return sorted(found.values(), key=lambda s: s.student)


def grade_batch(lab: str, submissions: list[Submission], out: Path, workers: int, limits: Limits,
                force: bool = False, progress: bool = True) -> list[Row]:
    spec = expectations.load(lab)
    out.mkdir(parents=True, exist_ok=True)
    todo = submissions if force else [s for s in submissions if not already_graded(out, s)]
    batch_root = Path(tempfile.mkdtemp(prefix="autograde-"))
    # Every sandbox of this batch hides the output folder and all workspaces but its own.
    os.environ[sandbox.HIDE_ENV] = os.pathsep.join([str(out.resolve()), str(batch_root)])
    lock = threading.Lock()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(_grade_one, spec, s, out, batch_root, limits, lock) for s in todo]
            _wait(futures, progress, len(todo))
    finally:
        shutil.rmtree(batch_root, ignore_errors=True)
        os.environ.pop(sandbox.HIDE_ENV, None)
    return write_gradebook(out)


def already_graded(out: Path, submission: Submission) -> bool:
    return (out / submission.student / "grading.json").exists()


def _wait(futures, progress: bool, total: int) -> None:
    if progress and total:
        from tqdm import tqdm

        for future in tqdm(concurrent.futures.as_completed(futures), total=total, desc="grading", unit="submission"):
            future.result()
    else:
        for future in futures:
            future.result()


def _grade_one(spec, submission: Submission, out: Path, batch_root: Path, limits: Limits, lock) -> None:
    started = time.perf_counter()
    workspace = batch_root / submission.student
    workspace.mkdir()
    target = out / submission.student
    try:
        status, result = _execute_and_grade(spec, submission, workspace, limits)
        executed = workspace / "executed.ipynb"
        target.mkdir(parents=True, exist_ok=True)
        if executed.exists():
            shutil.copyfile(executed, target / "executed.ipynb")
    except Exception as exc:  # the grader's own failure still gives this student a result
        status = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:300], "cell": None, "source": ""}
        result = _nothing_earned(spec, "the grader failed on this submission")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    elapsed = time.perf_counter() - started
    row = Row(submission.student, result.score, result.max_score, _status_word(status), _status_line(status))
    with lock:
        target.mkdir(parents=True, exist_ok=True)
        # Gradescope shows results.json alone, so a crash is said there too, not only in feedback.md.
        atomic.write_text(target / "results.json",
                          render.gradescope(result, execution_time=elapsed, preface=execution_summary(status)))
        atomic.write_text(target / "feedback.md", feedback(result, status))
        atomic.write_text(target / "grading.json", json.dumps(asdict(row)))
        write_gradebook(out)


def _execute_and_grade(spec, submission: Submission, workspace: Path, limits: Limits):
    notebook = workspace / "submission.ipynb"
    try:
        nbformat.validate(nbformat.read(submission.path, as_version=4))
    except Exception as exc:  # not JSON, not a notebook, wrong schema
        status = {"status": "invalid", "ename": type(exc).__name__,
                  "evalue": (str(exc).strip().splitlines() or [""])[0][:200], "cell": None, "source": ""}
        return status, _nothing_earned(spec, "the file is not a readable Jupyter notebook")
    shutil.copyfile(submission.path, notebook)
    store = workspace / "store"
    store.mkdir()
    datasets = sorted({c.spec["dataset"] for c in spec.checks if c.kind == "recomputed_metric"})
    box = sandbox.Sandbox(workspace=workspace, memory_mb=limits.memory_mb, timeout=limits.timeout + RECOMPUTE_SECONDS)
    args = [str(notebook), str(workspace / "executed.ipynb"), "--cell-timeout", str(int(limits.timeout)),
            "--deadline", f"{limits.timeout:g}", *[a for d in datasets for a in ("--recompute", d)]]
    if sandbox.mode() == "bubblewrap":
        args.append("--pid-namespace")
    done = box.run_module(
        "grading.execute_submission", args,
        env={"MLFLOW_TRACKING_URI": paths.sqlite_uri(store), "MLFLOW_LOGGING_LEVEL": "WARNING",
             "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
             # Already inside the sandbox: the notebook's own self-checks must not nest another one.
             "COURSE_SANDBOX": "process"},
    )
    status, recomputed = read_report(done.stdout)
    if status is None and done.timed_out:
        status = execute_submission.timeout_status(limits.timeout)
    elif status is None:
        status = {"status": "killed", "cell": None, "ename": "Killed",
                  "evalue": f"execution ended without a status (exit code {done.returncode}); "
                            f"a memory limit of {limits.memory_mb} MB may have been hit", "source": ""}
    # Runs logged before a crash or a timeout still count: grade whatever the store holds.
    return status, grader.grade(spec, paths.sqlite_uri(store), recomputed=recomputed)


def read_report(stdout: str) -> tuple[dict | None, dict]:
    """The execution sandbox's JSON lines: how the notebook ended, and each model it recomputed.
    A model that started loading but never reported (it hung or killed the process) counts as failed."""
    status, recomputed = None, {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "status" in record and status is None and isinstance(record["status"], dict):
            status = record["status"]
        elif "loading" in record:
            recomputed[(record.get("dataset"), record["loading"])] = {
                "error": "loading the model did not finish (it hung, or ended the process)"}
        elif "recomputed" in record and isinstance(record.get("result"), dict):
            recomputed[(record.get("dataset"), record["recomputed"])] = record["result"]
    return status, recomputed


def _nothing_earned(spec, why: str) -> GradingResult:
    result = GradingResult(spec.target, spec.title, "")
    for check in spec.chosen():
        result.checks.append(CheckResult(check.id, check.description, check.points, 0.0, False,
                                         f"not graded: {why}", "Submit the .ipynb file you ran in Jupyter."))
    return result


def _status_word(status: dict) -> str:
    return {"completed": "graded", "error": "error", "timeout": "timeout", "killed": "killed",
            "invalid": "invalid"}.get(status["status"], status["status"])


def _status_line(status: dict) -> str:
    if status["status"] == "completed":
        return ""
    where = f"cell [{status['cell']}] " if status.get("cell") else ""
    return f"{where}{status['ename']}: {status['evalue']}".replace("\n", " ")[:300]


def _heading(status: dict) -> str:
    return {"timeout": "The notebook timed out", "killed": "The notebook was stopped",
            "invalid": "The file could not be read as a notebook"}.get(status["status"], "The notebook raised an error")


STILL_GRADED = "Runs logged before that point were still graded."
STOPPED_PART_WAY = ("error", "timeout", "killed")  # it ran, so it may have logged something


def execution_summary(status: dict) -> str:
    """How the notebook ended, in one paragraph; empty when it ran to the end."""
    if status["status"] == "completed":
        return ""
    still = f" {STILL_GRADED}" if status["status"] in STOPPED_PART_WAY else ""
    return f"{_heading(status)}: {_status_line(status)}.{still}"


def feedback(result: GradingResult, status: dict) -> str:
    lines = [render.markdown(result).rstrip(), ""]
    if status["status"] != "completed":
        lines += [f"## {_heading(status)}", "", _status_line(status)]
        if status.get("source"):
            lines += ["", "The failing cell:", "", "```python", status["source"].rstrip(), "```"]
        if status["status"] in STOPPED_PART_WAY:
            lines += ["", STILL_GRADED]
    return "\n".join(lines).rstrip() + "\n"


def write_gradebook(out: Path) -> list[Row]:
    """Rebuild gradebook.csv from every graded student's grading.json, atomically."""
    rows = []
    for record in sorted(out.glob("*/grading.json")):
        try:
            rows.append(Row(**json.loads(record.read_text())))
        except (ValueError, TypeError):
            continue
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(GRADEBOOK_COLUMNS)
    for row in rows:
        writer.writerow([row.student, f"{row.score:g}", f"{row.max_score:g}", row.status, row.message])
    atomic.write_text(out / "gradebook.csv", buffer.getvalue())
    return rows

"""Grade a batch of lab submissions: execute each in the sandbox, then query the store it wrote.

For every submission, whatever happens to it, the output folder gets
``<student>/results.json`` (Gradescope), ``<student>/feedback.md``,
``<student>/executed.ipynb`` (when anything ran) and a row in ``gradebook.csv``.
Nothing in a workspace is trusted: files come out of it through grading.harvest (regular
files only, capped), and the store is graded from that private copy, confined to itself.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from course import paths, store_template
from grading import atomic, harvest, prewarmed, sandbox, zygote
from grading import execution
from grading.autograde import font_list
from grading.autograde.phases import Phases
from grading.engine import expectations, render
from grading.errors import UsageError, first_line
from grading.engine.results import CheckResult, GradingResult

GRADEBOOK_COLUMNS = ("student", "submission", "score", "max_score", "status", "message")
NOTEBOOK_CAP = 20 * 1024 * 1024  # bytes of a submitted notebook
GRADE_SECONDS = 600  # to query a submission's store and recompute its models
LEFT_IN_WORKSPACE = frozenset({".scratch", "submission.ipynb", "executed.ipynb"})  # not part of the store
SANDBOX_SLACK = 30  # seconds beyond the notebook's own deadline, to start and stop the sandbox
PREPARE_LIMITS = sandbox.Limits(timeout=300, memory_mb=2048, pids=64, disk_mb=256)  # trusted code, trusted files


@dataclass(frozen=True)
class Submission:
    student: str  # safe as a folder name, unique in the batch
    path: Path
    name: str = ""  # the file as submitted, for the gradebook


@dataclass
class Row:
    student: str
    score: float
    max_score: float
    status: str  # graded, error, timeout, killed, invalid
    message: str
    submission: str = ""
    phases: dict = field(default_factory=dict)  # seconds by phase (grading.autograde.phases)


@dataclass(frozen=True)
class Limits:
    timeout: float = 600  # whole notebook, seconds; each cell gets the same bound
    memory_mb: int = 4096
    disk_mb: int = 1024  # the workspace: store, executed notebook, scratch
    output_mb: int = 5  # what the cells print, kept in the executed notebook
    pids: int = 256

    def problem(self) -> str | None:
        if not (math.isfinite(self.timeout) and 0 < self.timeout <= 86400):
            return "--timeout must be a number of seconds between 0 and 86400"
        if not 256 <= self.memory_mb <= 1024 * 1024:
            return "--memory-mb must be at least 256"
        if not 16 <= self.disk_mb <= 1024 * 1024:
            return "--disk-mb must be at least 16"
        if not 1 <= self.output_mb <= self.disk_mb:
            return "--output-mb must be at least 1 and at most --disk-mb"
        return None


def student_id(text: str) -> str:
    """A folder name safe on any file system: letters, digits, - _ and ., not hidden, at most 80."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:80].rstrip("._-")
    return safe or "submission"


def discover(arguments: list[str]) -> list[Submission]:
    """Notebook paths, or folders of them. Inside a folder every name ending in .ipynb counts,
    whatever it is (a symlink or a folder is graded as invalid, never followed). The student id
    is the file stem, made safe; when two files share it, the folder's name goes in front, and
    a number after that if they still clash."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():  # the instructor's folder: resolved, so only the entries in it are suspect
            files += sorted(p for p in path.resolve().iterdir() if p.name.endswith(".ipynb"))
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise UsageError(f"no such submission: {argument}; pass notebook files or folders of them")
    unique = list({str(f.absolute()): f for f in files}.values())
    if not unique:
        raise UsageError("no submissions found; pass notebook files or folders that contain .ipynb files")
    stems = [student_id(f.name[:-len(".ipynb")] if f.name.endswith(".ipynb") else f.stem) for f in unique]
    found: dict[str, Submission] = {}
    for file, stem in zip(unique, stems):
        base = stem if stems.count(stem) == 1 else student_id(f"{file.absolute().parent.name}-{stem}")
        student, number = base, 1
        while student in found:
            number += 1
            student = f"{base[:74]}-{number}"
        found[student] = Submission(student, file, str(file))
    return sorted(found.values(), key=lambda s: s.student)


def grade_batch(lab: str, submissions: list[Submission], out: Path, workers: int, limits: Limits,
                force: bool = False, progress: bool = True) -> list[Row]:
    """Grade every submission not graded yet. The first Ctrl-C starts no new submission, ends the
    running ones (they keep no result, so a rerun grades them), writes the gradebook and re-raises."""
    spec = expectations.load(lab, filters=False)  # the filters are checked by the warm-up, off the critical path
    out.mkdir(parents=True, exist_ok=True)
    todo = submissions if force else [s for s in submissions if not already_graded(out, s)]
    batch_root = Path(tempfile.mkdtemp(prefix="autograde-"))
    loader = start_helpers() if todo else None
    lock, stopping = threading.Lock(), threading.Event()
    warm = _WarmUp(spec, stopping)
    if todo:
        warm.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(_grade_one, spec, s, out, batch_root, limits, lock, stopping, loader, warm)
                   for s in todo]
        _wait(futures, progress, len(todo))
    except KeyboardInterrupt:
        stopping.set()
        for future in futures:
            future.cancel()
        sandbox.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if warm.is_alive():  # its font list is being written to the course's cache: let it finish
            warm.join(timeout=120)
        zygote.stop()
        shutil.rmtree(batch_root, ignore_errors=True)
        write_gradebook(out)
    if warm.error:
        raise warm.error
    return write_gradebook(out)


class _WarmUp(threading.Thread):
    """What grading needs before the first store is read, done while the first notebooks execute
    (execution needs none of it): the lab's run filters parsed by MLflow and the empty store
    template built, both in a grading child of the warm process (grading.prewarmed). A filter
    MLflow cannot parse stops the batch before any result is written."""

    def __init__(self, spec, stopping: threading.Event):
        super().__init__(name="grading-warm-up", daemon=True)
        self.spec, self.stopping = spec, stopping
        self.done = threading.Event()
        self.error: UsageError | None = None

    def run(self) -> None:
        try:
            done = prewarmed.run("grading.autograde.grade_store:prepare", [self.spec.target], PREPARE_LIMITS)
            try:
                problem = json.loads(done.stdout.strip().splitlines()[-1])["problem"]
            except (IndexError, ValueError, KeyError, TypeError):
                problem = f"the grader could not prepare {self.spec.target} (exit code {done.returncode}); run it again"
            if problem:
                self.error = UsageError(problem)
                self.stopping.set()
                sandbox.stop_all()
        finally:
            self.done.set()
        if not self.error and not self.stopping.is_set():  # once per install, after done: no grading waits for it
            font_list.build()  # workspaces made before it is cached plot without it, as they always did

    def wait(self) -> None:
        self.done.wait()
        if self.error:
            raise RuntimeError("the batch was stopped")


def start_helpers() -> str | None:
    """The warm process a batch grades with, started before any submission exists (idempotent):
    the zygote, which loads models and forks the grading children, and whose socket this returns;
    where it cannot run (None), multiprocessing's forkserver forks the grading children."""
    loader = zygote.start(preload=prewarmed.PRELOAD)
    if loader is None:
        prewarmed.start()
    return loader


def stop_helpers() -> None:
    zygote.stop()  # a forkserver ends with this process


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


def _grade_one(spec, submission: Submission, out: Path, batch_root: Path, limits: Limits, lock, stopping,
               loader: str | None, warm: _WarmUp) -> None:
    if stopping.is_set():
        return
    started = time.perf_counter()
    target = out / submission.student
    executed = None
    private = batch_root / f"{submission.student}.private"
    private.mkdir(mode=0o700)
    phases = Phases()
    try:
        with contextlib.ExitStack() as held:
            with phases.timed("preparing the workspace"):
                uid = held.enter_context(sandbox.identity())
                workspace = held.enter_context(sandbox.workspace(batch_root / submission.student, uid, limits.disk_mb))
            status, result, executed = _execute_and_grade(spec, submission, workspace, private, limits, uid, loader,
                                                          phases, warm)
            cleaning = time.perf_counter()
        phases.add("removing the workspace", time.perf_counter() - cleaning)
    except Exception as exc:  # the grader's own failure still gives this student a result
        status = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:300], "cell": None, "source": ""}
        result = _nothing_earned(spec, "the grader failed on this submission")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if stopping.is_set():
        return  # interrupted: no result, so the next run grades it
    elapsed = time.perf_counter() - started
    row = Row(submission.student, result.score, result.max_score, _status_word(status), _status_line(status),
              submission.name)
    with lock:
        writing = time.perf_counter()
        target.mkdir(parents=True, exist_ok=True)
        if executed is not None:
            atomic.write_bytes(target / "executed.ipynb", executed)
        # Gradescope shows results.json alone, so a crash is said there too, not only in feedback.md.
        atomic.write_text(target / "results.json",
                          render.gradescope(result, execution_time=elapsed, preface=execution_summary(status)))
        atomic.write_text(target / "feedback.md", feedback(result, status))
        phases.add("writing the results", time.perf_counter() - writing)
        row.phases = {name: round(seconds, 4) for name, seconds in phases.seconds.items()}
        atomic.write_text(target / "grading.json", json.dumps(asdict(row)))
        write_gradebook(out)


def _read_submission(submission: Submission) -> tuple[bytes | None, dict | None]:
    """The notebook's bytes, or an invalid status: a symlink or a special file is never opened."""
    try:
        info = submission.path.lstat()
    except OSError as exc:
        return None, _invalid("FileNotFoundError", exc.strerror or "cannot be read")
    if stat.S_ISLNK(info.st_mode):
        return None, _invalid("NotARegularFile", "the submission is a symbolic link, not a notebook file")
    try:
        return harvest.read_file(submission.path, NOTEBOOK_CAP), None
    except harvest.Refused as exc:
        return None, _invalid("NotARegularFile", str(exc))
    except OSError as exc:
        return None, _invalid(type(exc).__name__, exc.strerror or str(exc))


def _invalid(ename: str, evalue: str) -> dict:
    return {"status": "invalid", "ename": ename, "evalue": evalue[:200], "cell": None, "source": ""}


def _execute_and_grade(spec, submission: Submission, workspace: Path, private: Path, limits: Limits, uid,
                       loader: str | None, phases: Phases, warm: _WarmUp):
    with phases.timed("preparing the workspace"):
        data, status = _read_submission(submission)
        if status is None:
            try:
                nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
            except Exception as exc:  # not UTF-8, not JSON, not a notebook, wrong schema
                status = _invalid(type(exc).__name__, first_line(exc, 200))
        if status is not None:
            return status, _nothing_earned(spec, "the file is not a readable Jupyter notebook"), None
        notebook = workspace / "submission.ipynb"
        notebook.write_bytes(data)
        store = workspace / "store"
        store.mkdir()
        if not store_template.location().is_file():
            warm.wait()  # the warm-up builds it (and this thread must not import MLflow meanwhile)
        seeded = store_template.seed(store / "mlflow.db")  # as a fresh store the notebook would make, minus ~1 s
        if uid is not None:
            os.chown(store, uid, uid)
            if seeded:
                os.chown(store / "mlflow.db", uid, uid)
        font_list.seed(workspace / ".scratch", uid)  # matplotlib would scan every font again
    box = sandbox.Sandbox(workspace=workspace, uid=uid, limits=sandbox.Limits(
        timeout=limits.timeout + SANDBOX_SLACK, memory_mb=limits.memory_mb, pids=limits.pids, disk_mb=limits.disk_mb))
    inside = box.inside
    args = [str(inside / "submission.ipynb"), str(inside / "executed.ipynb"), "--cell-timeout", str(max(1, int(limits.timeout))),
            "--deadline", f"{limits.timeout:g}", "--output-mb", str(limits.output_mb)]
    if sandbox.mode() != "process":
        args.append("--pid-namespace")
    launched = time.time()
    done = box.run_module("grading.autograde.execute_submission", args, env={
        "MLFLOW_TRACKING_URI": f"sqlite:///{inside / 'store' / 'mlflow.db'}", "MLFLOW_LOGGING_LEVEL": "WARNING", "TQDM_DISABLE": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # Self-checks would need the expectations, which the sandbox cannot see; the grade comes after.
        "COURSE_AUTOGRADING": "1", "COURSE_SANDBOX": "process"})
    ended = time.time()
    status = read_report(done.stdout)
    if status is None and done.timed_out:
        status = execution.timed_out(limits.timeout).as_dict()
    elif status is None:
        status = {"status": "killed", "cell": None, "ename": "Killed",
                  "evalue": f"execution ended without a status (exit code {done.returncode})", "source": ""}
    status["limits"] = _limits_hit(done, status, workspace, limits)
    with phases.timed("copying the store out"):
        executed = _harvest_executed(workspace, limits, status)
    phases.split_execution(launched, ended, executed)
    # Runs logged before a crash or a timeout still count: grade whatever the store holds.
    with phases.timed("waiting for the warm-up"):
        warm.wait()
    return status, _grade_store(spec, workspace, inside, private, limits, uid, status, loader, phases), executed


def _limits_hit(done, status: dict, workspace: Path, limits: Limits) -> list[str]:
    hit = []
    if "memory" in done.limits_hit or status.get("ename") == "MemoryError":
        hit.append(f"the memory limit of {limits.memory_mb} MB was hit")
    if "processes" in done.limits_hit:
        hit.append(f"the limit of {limits.pids} processes and threads was hit")
    if status.get("output_truncated"):
        hit.append(f"the notebook printed more than {limits.output_mb} MB; the rest of its output was dropped")
    if sandbox.workspace_is_capped(workspace):
        usage = os.statvfs(workspace)
        if usage.f_bavail < usage.f_blocks * 0.02 or usage.f_favail < usage.f_files * 0.02:
            hit.append(f"the disk limit of {limits.disk_mb} MB (or its file count) was hit")
    return hit


def _harvest_executed(workspace: Path, limits: Limits, status: dict) -> bytes | None:
    try:
        return harvest.read_file(workspace / "executed.ipynb", NOTEBOOK_CAP + limits.output_mb * 1024 * 1024 * 2)
    except FileNotFoundError:
        return None
    except (harvest.Refused, OSError) as exc:
        status["limits"].append(f"the executed notebook was not kept: {exc}")
        return None


def _grade_store(spec, workspace: Path, seen_as: Path, private: Path, limits: Limits, uid, status: dict,
                 loader: str | None, phases: Phases) -> GradingResult:
    """Grade a private copy of the workspace (the store, and artifacts wherever in it MLflow put
    them), confined to that copy."""
    copy = private / "workspace"
    cap = limits.disk_mb * 1024 * 1024
    with phases.timed("copying the store out"):
        copied = harvest.copy_tree(workspace, copy, cap, cap, leave_out=LEFT_IN_WORKSPACE)
    if copied.skipped:
        status["limits"].append("left out of the store: " + "; ".join(copied.skipped[:3]))
    if not (copy / "store").is_dir():
        return _nothing_earned(spec, "the notebook replaced its tracking store folder")
    database = copy / "store" / "mlflow.db"
    if not database.exists() or store_template.untouched(database):
        return _nothing_earned(spec, "the notebook logged nothing: it never opened its tracking store")
    # The database is the submission's: its schema check and queries run in a child with their own
    # memory and time, forked from a process that has imported MLflow already (grading.prewarmed).
    # Paths in it are the sandbox's; the child reads them from the private copy.
    args = [spec.target, paths.sqlite_uri(copy / "store"), str(copy), str(seen_as), "--memory-mb", str(limits.memory_mb),
            "--pids", str(limits.pids), "--disk-mb", str(limits.disk_mb), *(["--uid", str(uid)] if uid is not None else []),
            *(["--zygote", loader] if loader else [])]
    done = prewarmed.run("grading.autograde.grade_store:main", args, sandbox.Limits(
        timeout=GRADE_SECONDS, memory_mb=limits.memory_mb, pids=limits.pids, disk_mb=limits.disk_mb))
    lines = done.stdout.strip().splitlines()
    inner = _child_phases(lines)
    phases.add("grading child: start and limits", done.seconds - sum(inner.values()))
    for name, seconds in inner.items():
        phases.add(f"grading child: {name}", seconds)
    try:
        last = json.loads(lines[-1])
        if "refused" in last:
            return _nothing_earned(spec, "the notebook's tracking store is not a current MLflow database")
        return GradingResult.from_dict(last)
    except (IndexError, ValueError, KeyError, TypeError):
        why = (f"grading its tracking store took longer than {GRADE_SECONDS} s" if done.timed_out else
               f"grading its tracking store hit the memory limit of {limits.memory_mb} MB" if "memory" in done.limits_hit
               else "its tracking store could not be graded")
        status["limits"].append(why)
        return _nothing_earned(spec, why)


def _child_phases(lines: list[str]) -> dict[str, float]:
    """The grading child's own phases, from its line before the result (grade_store.main)."""
    try:
        found = json.loads(lines[-2])["phases"]
        return {str(k): float(v) for k, v in found.items()}
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def read_report(stdout: str) -> dict | None:
    """The execution sandbox's status line: how the notebook ended."""
    for record in sandbox.json_records(stdout):
        if isinstance(record.get("status"), dict):
            status = record["status"]
            if status.get("status") in ("completed", "error", "timeout"):
                return status
    return None


def _nothing_earned(spec, why: str) -> GradingResult:
    """Every check failed for one reason; each keeps its own hint, which says what the work is."""
    result = GradingResult(spec.target, spec.title, "")
    for check in spec.chosen():
        result.checks.append(CheckResult(check.id, check.description, check.points, 0.0, False,
                                         f"not graded: {why}", check.hint))
    return result


def _status_word(status: dict) -> str:
    return {"completed": "graded", "error": "error", "timeout": "timeout", "killed": "killed",
            "invalid": "invalid"}.get(status["status"], status["status"])


def _status_line(status: dict) -> str:
    if status["status"] == "completed":
        return ""
    where = f"cell [{status['cell']}] " if status.get("cell") else ""
    return render.printable(f"{where}{status['ename']}: {status['evalue']}".replace("\n", " "))[:300]


def _heading(status: dict) -> str:
    return {"timeout": "The notebook timed out", "killed": "The notebook was stopped",
            "invalid": "The file could not be read as a notebook"}.get(status["status"], "The notebook raised an error")


STILL_GRADED = "Runs logged before that point were still graded."
STOPPED_PART_WAY = ("error", "timeout", "killed")  # it ran, so it may have logged something


def execution_summary(status: dict) -> str:
    """How the notebook ended and which limits it hit, in one paragraph; empty when all went well."""
    limits = " ".join(f"{_capital(hit)}." for hit in status.get("limits") or [])
    if status["status"] == "completed":
        return limits
    still = f" {STILL_GRADED}" if status["status"] in STOPPED_PART_WAY else ""
    return f"{_heading(status)}: {_status_line(status)}.{still}" + (f" {limits}" if limits else "")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def feedback(result: GradingResult, status: dict) -> str:
    lines = [render.markdown(result).rstrip(), ""]
    if status.get("limits"):
        lines += ["## Limits", "", *[f"- {render.inert(_capital(hit))}." for hit in status["limits"]], ""]
    if status["status"] != "completed":
        lines += [f"## {_heading(status)}", "", render.inert(_status_line(status))]
        if status.get("source"):
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", status["source"])), default=0))
            lines += ["", "The failing cell:", "", f"{fence}python", render.printable(status["source"].rstrip()), fence]
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
        writer.writerow([row.student, _cell(row.submission), f"{row.score:g}", f"{row.max_score:g}", row.status,
                         _cell(row.message)])
    atomic.write_text(out / "gradebook.csv", buffer.getvalue())
    return rows


def _cell(text: str) -> str:
    """A spreadsheet runs a cell that starts with = + - or @: a submission's words never do."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

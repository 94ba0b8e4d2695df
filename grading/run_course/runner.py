"""Execute section notebooks with papermill into one tracking store."""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course import learner
from grading.run_course.sections import Section, parameter_defaults


@dataclass
class SectionRun:
    section: str
    status: str  # "passed" or "failed"
    runs: int
    seconds: float
    output: str
    error: str | None = None
    checks_passed: int | None = None  # None: the section has no expectations file
    checks_total: int | None = None
    failed_checks: list[str] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    failed_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "hand-out ok") and not self.failed_checks

    def as_dict(self) -> dict:
        return asdict(self)


def run_section(section: Section, tracking_uri: str, out_dir: Path, progress: bool = True,
                cell_timeout: int | None = None) -> SectionRun:
    from grading.execution import execute_notebook

    defaults = parameter_defaults(section)
    experiment = defaults.get("experiment_name")
    output = out_dir / f"{section.id}.ipynb"
    started_ms = int(time.time() * 1000)
    started = time.perf_counter()
    # Sections take the URI as a parameter; exercise sets and labs read MLFLOW_TRACKING_URI, as in JupyterLab.
    parameters = {**reference_parameters(section), **({"tracking_uri": tracking_uri} if "tracking_uri" in defaults else {})}
    with _tracking_uri_in_environment(tracking_uri):
        execution = execute_notebook(str(section.notebook), str(output), parameters=parameters,
                                     cwd=str(section.notebook.parent), cell_timeout=cell_timeout, progress=progress)
    error = execution.describe() or None
    seconds = time.perf_counter() - started
    store = logged_to(section, tracking_uri)
    result = SectionRun(
        section=section.id,
        status="failed" if error else "passed",
        runs=count_runs(store, learner.named(experiment) if experiment else None, started_ms),
        seconds=round(seconds, 1),
        output=str(output),
        error=error,
    )
    grade_section(result, store)
    return result


def logged_to(section: Section, tracking_uri: str) -> str:
    """Where the notebook's runs are: the given store, except for a set whose notebook starts a
    server of its own, which on a class server logs to the learner's own store."""
    if served_by(section) == "own-server":
        from course.tracking import own_server_store

        return own_server_store(tracking_uri)
    return tracking_uri


def run_hand_out(hand_out: Section, tracking_uri: str, out_dir: Path, progress: bool = True) -> SectionRun:
    """A learner's copy as handed out: sound when it stops at the first exercise's NotImplementedError
    and every check that fails is an exercise's ("Exercise N: ..."), so only the learner's work is missing."""
    from grading.engine import expectations

    run = run_section(hand_out, tracking_uri, out_dir, progress)
    stopped_at_exercise = bool(run.error) and "NotImplementedError" in run.error
    checks = expectations.load(hand_out.id).checks if hand_out.id in expectations.targets() else ()
    exercises = {c.id for c in checks if c.exercise}
    only_exercises = not exercises or set(run.failed_ids) <= exercises
    if stopped_at_exercise and only_exercises:
        run.status, run.error, run.failed_checks = "hand-out ok", None, []
    elif not stopped_at_exercise:
        run.status, run.error = "broken", run.error or "the hand-out ran to the end: it asks the learner for nothing"
    else:
        run.status = "broken"
        run.failed_checks = [line for line, check in zip(run.failed_checks, run.failed_ids) if check not in exercises]
    return run


def served_by(section: Section) -> str | None:
    """What the section's expectations ask to run against (e.g. "production-stack"), or None."""
    from grading.engine import expectations

    return expectations.load(section.id).served_by if section.id in expectations.targets() else None


def run_on_production_stack(section: Section, out_dir: Path, progress: bool = True) -> SectionRun:
    """Start PostgreSQL (when installed), S3 and mlflow server; run and grade the section there; stop them."""
    from course import stack

    print("starting a production stack for it: S3, PostgreSQL (SQLite when not installed), mlflow server", flush=True)
    started = time.perf_counter()
    try:
        with stack.production_stack(backend="auto", allowed_hosts="127.0.0.1:*,localhost:*,mlflow:5000") as running:
            print(f"stack ready in {time.perf_counter() - started:.0f} s: {running.tracking_uri} on "
                  f"{'PostgreSQL' if running.postgres else 'SQLite'} and an S3 bucket", flush=True)
            return run_section(section, running.tracking_uri, out_dir, progress)
    except stack.StackError as exc:
        return SectionRun(section.id, "failed", 0, round(time.perf_counter() - started, 1),
                          str(out_dir / f"{section.id}.ipynb"), error=f"the production stack did not start: {exc}")


def reference_parameters(section: Section) -> dict:
    """Parameters a whole-course run passes besides the URI, e.g. the quiz's reference answers:
    ``grading/expectations/reference-parameters/<section id>.yaml``, when it exists. They sit with
    the expectations, which learners' notebooks and the autograder's sandbox never see."""
    import yaml

    from grading.engine import expectations

    path = expectations.FOLDER / "reference-parameters" / f"{section.id}.yaml"
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def grade_section(run: SectionRun, tracking_uri: str) -> None:
    """Run the section's checks against the store it just logged into, in the names the notebook
    used (course.learner: the learner's username first on a class server)."""
    from course import learner
    from grading.engine import expectations, grader

    if run.section not in expectations.targets():
        return
    graded = grader.grade(expectations.load(run.section), tracking_uri, learner.prefix())
    run.checks_passed, run.checks_total = graded.counts
    run.score, run.max_score = graded.score, graded.max_score
    run.failed_checks = [f"{c.id}: {c.message} (hint: {c.hint})" for c in graded.checks if not c.passed]
    run.failed_ids = [c.id for c in graded.checks if not c.passed]


@contextlib.contextmanager
def _tracking_uri_in_environment(tracking_uri: str):
    """MLFLOW_TRACKING_URI for the kernel papermill starts (it inherits this process's environment)."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before


def count_runs(tracking_uri: str, experiment_name: str | None, since_ms: int) -> int:
    """Runs started in the experiment since since_ms; only that experiment is queried."""
    if not experiment_name:
        return 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return 0
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"attributes.start_time >= {since_ms}", max_results=10000
    )
    return len(runs)

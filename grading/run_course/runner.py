"""Execute section notebooks with papermill into one tracking store."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

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

    @property
    def ok(self) -> bool:
        return self.status == "passed" and not self.failed_checks

    def as_dict(self) -> dict:
        return asdict(self)


def run_section(section: Section, tracking_uri: str, out_dir: Path, progress: bool = True,
                cell_timeout: int | None = None) -> SectionRun:
    from grading.execution import execute_notebook

    experiment = parameter_defaults(section).get("experiment_name")
    output = out_dir / f"{section.id}.ipynb"
    started_ms = int(time.time() * 1000)
    started = time.perf_counter()
    execution = execute_notebook(str(section.notebook), str(output),
                                 parameters={**reference_parameters(section), "tracking_uri": tracking_uri},
                                 cwd=str(section.notebook.parent), cell_timeout=cell_timeout, progress=progress)
    error = execution.describe() or None
    seconds = time.perf_counter() - started
    result = SectionRun(
        section=section.id,
        status="failed" if error else "passed",
        runs=count_runs(tracking_uri, experiment, started_ms),
        seconds=round(seconds, 1),
        output=str(output),
        error=error,
    )
    grade_section(result, tracking_uri)
    return result


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
    """Run the section's checks against the store it just logged into."""
    from grading.engine import expectations, grader

    if run.section not in expectations.targets():
        return
    graded = grader.grade(expectations.load(run.section), tracking_uri)
    run.checks_passed, run.checks_total = graded.counts
    run.score, run.max_score = graded.score, graded.max_score
    run.failed_checks = [f"{c.id}: {c.message} (hint: {c.hint})" for c in graded.checks if not c.passed]


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

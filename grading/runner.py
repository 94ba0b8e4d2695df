"""Execute section notebooks with papermill into one tracking store."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grading.sections import Section, parameter_defaults


@dataclass
class SectionRun:
    section: str
    status: str  # "passed" or "failed"
    runs: int
    seconds: float
    output: str
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def run_section(section: Section, tracking_uri: str, out_dir: Path, progress: bool = True,
                cell_timeout: int | None = None) -> SectionRun:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    experiment = parameter_defaults(section).get("experiment_name")
    output = out_dir / f"{section.id}.ipynb"
    started_ms = int(time.time() * 1000)
    started = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(section.notebook),
            str(output),
            parameters={"tracking_uri": tracking_uri},
            cwd=str(section.notebook.parent),
            progress_bar=progress,
            execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as exc:
        first_line = (exc.source or "").strip().splitlines()[0] if (exc.source or "").strip() else ""
        error = f"cell [{exc.exec_count}] `{first_line[:60]}` raised {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a dead kernel or a timeout: still a section result, not a crash
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    seconds = time.perf_counter() - started
    return SectionRun(
        section=section.id,
        status="failed" if error else "passed",
        runs=count_runs(tracking_uri, experiment, started_ms),
        seconds=round(seconds, 1),
        output=str(output),
        error=error,
    )


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

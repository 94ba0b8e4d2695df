"""``check("<section or lab id>")`` in a notebook: grade what this notebook logged.

The grader runs in a separate process, never in the learner's kernel; the
kernel only displays the result (HTML in Jupyter, text elsewhere).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from grading.engine import render
from grading.engine.results import GradingResult


class SelfCheck:
    def __init__(self, result: GradingResult | None = None, error: str = ""):
        self.result = result
        self.error = error

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed

    def __repr__(self) -> str:
        if self.result is None:
            return f"Self-check could not run: {self.error}"
        return render.text(self.result)

    def _repr_html_(self) -> str:
        if self.result is None:
            import html

            return f"<p><strong>Self-check could not run:</strong> {html.escape(self.error)}</p>"
        return render.html_table(self.result)


def _current_tracking_uri() -> str:
    if "mlflow" in sys.modules:
        return sys.modules["mlflow"].get_tracking_uri()
    from course.tracking import resolve_uri

    return resolve_uri("")[0]


def check(target: str, tracking_uri: str | None = None, experiment_prefix: str = "", only: list[str] | None = None,
          timeout: float = 300) -> SelfCheck:
    """Grade `target` (or just the check ids in `only`) against this notebook's tracking store and show the table."""
    if os.environ.get("COURSE_AUTOGRADING"):
        return SelfCheck(error="self-checks are off while the autograder runs your notebook; it grades the runs afterwards")
    uri = tracking_uri or _current_tracking_uri()
    command = [sys.executable, "-m", "grading", "check", target, "--tracking-uri", uri, "--format", "json"]
    if experiment_prefix:
        command += ["--experiment-prefix", experiment_prefix]
    for check_id in only or []:
        command += ["--only", check_id]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return SelfCheck(error=f"the grader did not finish within {timeout:.0f} s")
    if done.returncode not in (0, 1):
        lines = done.stderr.strip().splitlines()
        return SelfCheck(error=lines[-1] if lines else f"the grader exited with code {done.returncode}")
    return SelfCheck(GradingResult.from_dict(json.loads(done.stdout)))

"""``check("<section or lab id>")`` in a notebook: grade what this notebook logged.

The grader runs in a separate process, never in the learner's kernel (grading.check_server,
started by the first check and reused by the next); the kernel only displays the result (HTML
in Jupyter, text elsewhere).
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading

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
    argv = ["check", target, "--tracking-uri", uri, "--format", "json"]
    if experiment_prefix:
        argv += ["--experiment-prefix", experiment_prefix]
    for check_id in only or []:
        argv += ["--only", check_id]
    try:
        code, stdout, stderr = _ask(argv, timeout)
    except TimeoutError:
        return SelfCheck(error=f"the grader did not finish within {timeout:.0f} s")
    if code not in (0, 1):
        lines = stderr.strip().splitlines()
        return SelfCheck(error=lines[-1] if lines else f"the grader exited with code {code}")
    return SelfCheck(GradingResult.from_dict(json.loads(stdout)))


_server: subprocess.Popen | None = None  # grading.check_server, started by the first check
_lock = threading.Lock()


def _ask(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m grading <argv>`, run by the check server."""
    global _server
    from grading.check_server import FORWARDED

    request = json.dumps({"argv": argv, "env": {k: v for k, v in os.environ.items() if k.startswith(FORWARDED)}})
    with _lock:
        for _ in range(2):  # a server that has died is replaced once
            if _server is None or _server.poll() is not None:
                # Its stdin is this kernel's pipe: when the kernel ends, the server reads EOF and ends too.
                _server = subprocess.Popen([sys.executable, "-m", "grading.check_server"], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                           start_new_session=True)
            try:
                _server.stdin.write(request + "\n")
                _server.stdin.flush()
            except OSError:
                _server = None
                continue
            ready, _, _ = select.select([_server.stdout], [], [], timeout)
            if not ready:
                _stop_server()
                raise TimeoutError
            line = _server.stdout.readline()
            if not line:
                _server = None
                continue
            reply = json.loads(line)
            return reply["code"], reply["stdout"], reply["stderr"]
    return 2, "", "error: the self-check process stopped; restart the kernel and run the check again"


def _stop_server() -> None:
    global _server
    if _server is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(_server.pid, signal.SIGKILL)
        _server.wait()
        _server = None

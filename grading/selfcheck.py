"""``check("<section or lab id>")`` in a notebook: grade what this notebook logged.

The grader runs in a separate process, never in the learner's kernel (grading.check_server,
started by the first check and reused by the next); the kernel only displays the result (HTML
in Jupyter, text elsewhere). On the class hub, a target whose expectations hold answers is not
in the learner's view: its check is asked of the hub's grader (grading.remote_check).
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
from grading.engine.expectations import FOLDER
from grading.engine.results import GradingResult

REMOTE = "COURSE_REMOTE_CHECKS"  # the class hub's grader (grading.remote_check), for targets not in this view


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
    remote = os.environ.get(REMOTE)
    if remote and not (FOLDER / f"{target}.yaml").exists():  # held outside this view (grading.remote_check)
        code, stdout, stderr = _ask_remote(remote, target, only or [], timeout)
        return _outcome(code, stdout, stderr)
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
    return _outcome(code, stdout, stderr)


def _outcome(code: int, stdout: str, stderr: str) -> SelfCheck:
    if code not in (0, 1):
        lines = stderr.strip().splitlines()
        return SelfCheck(error=lines[-1] if lines else f"the grader exited with code {code}")
    return SelfCheck(GradingResult.from_dict(json.loads(stdout)))


def _ask_remote(url: str, target: str, only: list[str], timeout: float) -> tuple[int, str, str]:
    """The same question, to the class hub's grader, with the learner's own MLflow login."""
    import base64
    import urllib.error
    import urllib.request

    from mlflow.utils.credentials import read_mlflow_creds

    login = read_mlflow_creds()
    pair = base64.b64encode(f"{login.username or ''}:{login.password or ''}".encode()).decode()
    request = urllib.request.Request(url.rstrip("/") + "/check", data=json.dumps({"target": target, "only": only}).encode(),
                                     headers={"Authorization": f"Basic {pair}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            reply = json.loads(exc.read())
        except ValueError:
            reply = {"code": 2, "stdout": "", "stderr": f"error: the hub's grader answered HTTP {exc.code}"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 2, "", f"error: the hub's grader does not answer ({getattr(exc, 'reason', exc)}); ask your instructor"
    return reply.get("code", 2), reply.get("stdout", ""), reply.get("stderr", "")


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

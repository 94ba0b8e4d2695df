"""The one way a notebook is executed: papermill, with an optional deadline and output budget,
returning one Execution status. run-course calls it for each section; the autograder's sandbox
(grading.autograde.execute_submission) calls it for each submission, Gradescope's included."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import Callable

from grading.errors import first_line


@dataclass
class Execution:
    status: str = "completed"  # or "error", "timeout"
    cell: int | None = None  # execution count of the failing cell
    ename: str = ""
    evalue: str = ""
    source: str = ""  # the failing cell's code, cut
    output_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def describe(self) -> str:
        """One line: where the notebook stopped and why; empty when it completed."""
        if self.ok:
            return ""
        if self.cell is None:
            return f"{self.ename}: {self.evalue}"
        return f"cell [{self.cell}] `{first_line(self.source, 60)}` raised {self.ename}: {self.evalue}"

    def as_dict(self) -> dict:
        return asdict(self)


def timed_out(seconds: float) -> Execution:
    return Execution("timeout", ename="Timeout", evalue=f"the notebook ran longer than {seconds:g} s")


class OutputCap:
    """Keep what cells print up to a byte budget; after it, drop outputs and say so once."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.truncated = False

    def install(self) -> None:
        from nbclient.client import NotebookClient
        from nbformat.v4 import new_output

        original = NotebookClient.output
        cap = self

        def output(client, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            if cap.used + size > cap.budget:
                if not cap.truncated:
                    cap.truncated = True
                    outs.append(new_output("stream", name="stderr", text=(
                        f"[output truncated: the notebook printed more than {cap.budget // (1024 * 1024)} MB; "
                        "the autograder dropped the rest]\n")))
                return None
            cap.used += size
            return original(client, outs, msg, display_id, cell_index)

        NotebookClient.output = output


def execute_notebook(source: str, output: str, *, parameters: dict | None = None, cwd: str | None = None,
                     cell_timeout: int | None = None, progress: bool = False, deadline: float | None = None,
                     on_deadline: Callable[[], None] | None = None, cap: OutputCap | None = None) -> Execution:
    """Run `source` into `output` (kept, partly executed, when a cell fails). At `deadline`
    seconds `on_deadline` runs, which must end the kernel (papermill then returns)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from course import kernel

    os.environ["JUPYTER_PATH"] = kernel.jupyter_path(os.environ.get("JUPYTER_PATH", ""))  # "python3" is course.kernel
    if cap:
        cap.install()
    expired = threading.Event()
    timer = None
    if deadline is not None:
        def expire() -> None:
            expired.set()
            if on_deadline:
                on_deadline()

        timer = threading.Timer(deadline, expire)
        timer.daemon = True
        timer.start()
    result = Execution()
    try:
        papermill.execute_notebook(source, output, parameters=parameters or {}, cwd=cwd, kernel_name="python3",
                                   progress_bar=progress, execution_timeout=cell_timeout,
                                   request_save_on_cell_execute=True)
    except PapermillExecutionError as exc:
        result = Execution("error", exc.exec_count, str(exc.ename)[:100], first_line(exc.evalue), (exc.source or "")[:500])
    except Exception as exc:  # a dead kernel, a cell timeout, a notebook papermill cannot read
        result = Execution("error", None, type(exc).__name__, first_line(exc))
    finally:
        if timer:
            timer.cancel()
    if expired.is_set():
        result = timed_out(deadline)
    elif result.ename == "CellTimeoutError":
        result.status = "timeout"
    result.output_truncated = bool(cap and cap.truncated)
    return result

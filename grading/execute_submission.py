"""Execute one submission inside the sandbox.

``python -I -m grading.execute_submission NOTEBOOK EXECUTED --cell-timeout S --deadline S
--output-mb MB [--pid-namespace]``

The executed notebook is saved cell by cell, so a crash keeps what ran, and what the cells
print is kept up to ``--output-mb``; the rest is dropped with a note in the notebook. One JSON
line goes to this process's own stdout: ``{"status": ...}``.

The learner's processes cannot forge that line: before the kernel starts, stdout moves to a
private, non-inherited descriptor (what the kernel prints goes to stderr), and this process
becomes non-dumpable, so a process of the same uid can neither trace it nor open its
descriptors. In the isolated sandbox the PID namespace's first process runs as root, so its
descriptors are out of reach too. No model is loaded here: that happens later, in a process
that never ran the notebook's code (grading.recompute).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading

from grading.errors import first_line

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to harden
        pass


def stop_everything_else(pid_namespace: bool) -> None:
    """Kill every process but this one: in a PID namespace, all of them (setsid or not);
    otherwise every descendant (orphans are ours too, as this process is their subreaper)."""
    if pid_namespace:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


def timeout_status(seconds: float) -> dict:
    return {"status": "timeout", "cell": None, "ename": "Timeout",
            "evalue": f"the notebook ran longer than {seconds:g} s", "source": ""}


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


def execute(source: str, output: str, cell_timeout: int, deadline: float, pid_namespace: bool, cap: OutputCap) -> dict:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    cap.install()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stop_everything_else(pid_namespace)  # the kernel dies; papermill returns

    timer = threading.Timer(deadline, expire)
    timer.daemon = True
    timer.start()
    status = {"status": "completed"}
    try:
        papermill.execute_notebook(source, output, kernel_name="python3", progress_bar=False,
                                   execution_timeout=cell_timeout, request_save_on_cell_execute=True)
    except PapermillExecutionError as exc:
        status = {"status": "error", "cell": exc.exec_count, "ename": str(exc.ename)[:100],
                  "evalue": first_line(exc.evalue), "source": (exc.source or "")[:500]}
    except Exception as exc:  # a dead kernel, a cell timeout, a notebook papermill cannot read
        status = {"status": "error", "cell": None, "ename": type(exc).__name__,
                  "evalue": first_line(exc), "source": ""}
    finally:
        timer.cancel()
    if expired.is_set():
        status = timeout_status(deadline)
    elif status.get("ename") == "CellTimeoutError":
        status["status"] = "timeout"
    status["output_truncated"] = cap.truncated
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grading.execute_submission")
    parser.add_argument("notebook")
    parser.add_argument("executed")
    parser.add_argument("--cell-timeout", type=int, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    parser.add_argument("--output-mb", type=int, default=5)
    parser.add_argument("--pid-namespace", action="store_true", help="this process runs in its own PID namespace")
    args = parser.parse_args(argv)

    report = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inherited by children
    os.dup2(2, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    status = execute(args.notebook, args.executed, args.cell_timeout, args.deadline, args.pid_namespace,
                     OutputCap(args.output_mb * 1024 * 1024))
    stop_everything_else(args.pid_namespace)
    report.write(json.dumps({"status": status}) + "\n")
    report.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Execute one submission inside the sandbox, then recompute its models' metrics there.

``python -P -m grading.execute_submission NOTEBOOK EXECUTED --cell-timeout S --deadline S
[--pid-namespace] [--recompute DATASET]...``

The executed notebook is saved cell by cell, so a crash keeps what ran. Reports go to this
process's own stdout as JSON lines: ``{"status": ...}`` first, then for each logged model
``{"loading": uri}`` and ``{"recomputed": uri, "dataset": ..., "result": ...}``.

The learner's processes cannot forge those lines: before the kernel starts, stdout moves to a
private, non-inherited descriptor (what the kernel prints goes to stderr), and this process
becomes non-dumpable, so a process of the same user can neither trace it nor open its
descriptors. Every other process is killed before any model is loaded. Loading a model runs its
code here, so a model can still change what is reported about its own submission's models.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading

from course import paths

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


def execute(source: str, output: str, cell_timeout: int, deadline: float, pid_namespace: bool) -> dict:
    import papermill
    from papermill.exceptions import PapermillExecutionError

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
        status = {"status": "error", "cell": exc.exec_count, "ename": exc.ename, "evalue": exc.evalue,
                  "source": (exc.source or "")[:500]}
    except Exception as exc:  # a dead kernel, a cell timeout, a notebook papermill cannot read
        status = {"status": "error", "cell": None, "ename": type(exc).__name__,
                  "evalue": (str(exc).strip().splitlines() or [""])[0][:300], "source": ""}
    finally:
        timer.cancel()
    if expired.is_set():
        status = timeout_status(deadline)
    elif status.get("ename") == "CellTimeoutError":
        status["status"] = "timeout"
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grading.execute_submission")
    parser.add_argument("notebook")
    parser.add_argument("executed")
    parser.add_argument("--cell-timeout", type=int, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    parser.add_argument("--pid-namespace", action="store_true", help="this process runs in its own PID namespace")
    parser.add_argument("--recompute", action="append", default=[], metavar="DATASET")
    args = parser.parse_args(argv)

    report = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inherited by children
    os.dup2(2, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)

    def say(record: dict) -> None:
        report.write(json.dumps(record) + "\n")

    from grading import recompute

    # Imports for the recompute overlap with the notebook, which mostly waits on its kernel.
    warm = threading.Thread(target=_quietly, args=(recompute.warm_up,), daemon=True)
    if args.recompute:
        warm.start()
    status = execute(args.notebook, args.executed, args.cell_timeout, args.deadline, args.pid_namespace)
    stop_everything_else(args.pid_namespace)
    say({"status": status})
    if not args.recompute:
        return 0
    database = paths.sqlite_file(os.environ["MLFLOW_TRACKING_URI"])
    if database is not None and not database.exists():
        # The notebook never opened its store: no model to score, and no reason to create a database.
        report.flush()
        os._exit(0)  # the warm-up thread may be mid-import; nothing of it is needed
    warm.join()
    from grading.canonical import DATASETS

    tracking_uri = os.environ["MLFLOW_TRACKING_URI"]
    try:
        uris = recompute.logged_model_uris(tracking_uri)
    except Exception:  # no store, or one the notebook broke: the grader reports what it finds
        return 0
    for dataset in args.recompute:
        data = DATASETS[dataset]()
        for uri in uris:
            say({"loading": uri, "dataset": dataset})
            say({"recomputed": uri, "dataset": dataset, "result": recompute.recompute_one(tracking_uri, data, uri)})
    return 0


def _quietly(function) -> None:
    try:
        function()
    except Exception:  # the recompute imports again and reports the error per model
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

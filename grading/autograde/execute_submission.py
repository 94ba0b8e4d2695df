"""Execute one submission inside the sandbox.

``python -I -m grading.autograde.execute_submission NOTEBOOK EXECUTED --cell-timeout S --deadline S
--output-mb MB [--pid-namespace]``

The executed notebook is saved cell by cell, so a crash keeps what ran, and what the cells
print is kept up to ``--output-mb``; the rest is dropped with a note in the notebook. One JSON
line goes to this process's own stdout: ``{"status": ...}``.

The learner's processes cannot forge that line: before the kernel starts, stdout moves to a
private, non-inherited descriptor (what the kernel prints goes to stderr), and this process
becomes non-dumpable, so a process of the same uid can neither trace it nor open its
descriptors. In the isolated sandbox the PID namespace's first process runs as root, so its
descriptors are out of reach too. No model is loaded here: that happens later, in a process
that never ran the notebook's code (grading.engine.recompute).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

# papermill imports its S3 and HDFS handlers when they are installed (MLflow brings boto3 and
# pyarrow): 0.3-0.5 CPU-s in every submission, for a notebook that is read from and written to
# local files only. Marked missing, papermill registers them as not installed.
REMOTE_STORAGE = ("boto3", "pyarrow")


def _without_remote_storage() -> None:
    for name in REMOTE_STORAGE:
        sys.modules.setdefault(name, None)


_without_remote_storage()

from grading.execution import OutputCap, execute_notebook  # noqa: E402
from grading.inside_sandbox import harden, stop_everything_else  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grading.autograde.execute_submission")
    parser.add_argument("notebook")
    parser.add_argument("executed")
    parser.add_argument("--cell-timeout", type=int, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    parser.add_argument("--output-mb", type=int, default=5)
    parser.add_argument("--pid-namespace", action="store_true", help="this process runs in its own PID namespace")
    args = parser.parse_args(argv)

    report = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inherited by children
    os.dup2(2, 1)
    harden()
    status = execute_notebook(args.notebook, args.executed, cell_timeout=args.cell_timeout, deadline=args.deadline,
                              on_deadline=lambda: stop_everything_else(args.pid_namespace),  # the kernel dies
                              cap=OutputCap(args.output_mb * 1024 * 1024))
    stop_everything_else(args.pid_namespace)
    report.write(json.dumps({"status": status.as_dict()}) + "\n")
    report.flush()
    return 0


if __name__ == "__main__":
    from course.quick_exit import run

    run(lambda: main(sys.argv[1:]))  # without the interpreter's teardown

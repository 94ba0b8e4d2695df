"""The kernel the course executes notebooks in: ipykernel, ending without its interpreter teardown.

``python -m course.kernel -f CONNECTION_FILE`` is the ``python3`` kernel of the spec in
course/kernelspec (KERNEL_SPECS), which grading.execution and the test suite put first on
JUPYTER_PATH. On shutdown it still waits for the notebook's threads and runs its atexit handlers
(MLflow ends a run the notebook left open), then skips freeing the modules (course.quick_exit):
for a kernel that imported MLflow, scikit-learn and pandas that is about 1.2 s of CPU, in every
notebook papermill, nbval or the autograder runs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

KERNEL_SPECS = Path(__file__).resolve().parent / "kernelspec"  # a JUPYTER_PATH entry


def jupyter_path(existing: str = "") -> str:
    """JUPYTER_PATH with the course's kernel spec first."""
    return os.pathsep.join([str(KERNEL_SPECS), *[p for p in existing.split(os.pathsep) if p and p != str(KERNEL_SPECS)]])


def main() -> None:
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    if sys.path and sys.path[0] == "":  # as ipykernel_launcher: the working folder is no package root
        del sys.path[0]
    from course.quick_exit import run

    run(main)

"""Execute one submission inside the sandbox: ``python -m grading.execute_submission IN OUT STATUS TIMEOUT``.

Writes the executed notebook to OUT (cell by cell, so a crash keeps what ran) and
a small JSON to STATUS saying how execution ended.
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    source, output, status_path, cell_timeout = argv
    import papermill
    from papermill.exceptions import PapermillExecutionError

    status = {"status": "completed"}
    try:
        papermill.execute_notebook(source, output, kernel_name="python3", progress_bar=False,
                                   execution_timeout=int(cell_timeout), request_save_on_cell_execute=True)
    except PapermillExecutionError as exc:
        status = {"status": "error", "cell": exc.exec_count, "ename": exc.ename, "evalue": exc.evalue,
                  "source": (exc.source or "")[:500]}
    except Exception as exc:  # a dead kernel, a cell timeout, a notebook papermill cannot read
        status = {"status": "error", "cell": None, "ename": type(exc).__name__,
                  "evalue": (str(exc).strip().splitlines() or [""])[0][:300], "source": ""}
    with open(status_path, "w") as handle:
        json.dump(status, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

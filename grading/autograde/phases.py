"""Where one submission's grading time went, phase by phase, in seconds.

The autograder keeps them in each student's grading.json; benchmarks/autograde.py adds them up
to show what grading costs beyond executing the notebook.
"""
from __future__ import annotations

import contextlib
import datetime
import time


class Phases:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + max(0.0, seconds)

    def merge(self, other: "Phases") -> None:
        for name, seconds in other.seconds.items():
            self.add(name, seconds)

    @contextlib.contextmanager
    def timed(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def split_execution(self, launched: float, ended: float, executed: bytes | None) -> None:
        """The sandbox's wall time (wall clock, launched to ended) in three: until the first cell
        started (sandbox, interpreter and kernel start), the cells, and after the last cell ended
        (kernel shutdown, saving, leaving the sandbox), from papermill's times in the notebook.
        The notebook's metadata is the submission's to change: at worst the split is wrong, and
        the total stays right."""
        first, last = cell_span(executed)
        if first is None or not launched <= first <= last <= ended:
            self.add("execution", ended - launched)
            return
        self.add("until the first cell", first - launched)
        self.add("cells", last - first)
        self.add("after the last cell", ended - last)


def cell_span(executed: bytes | None) -> tuple[float | None, float | None]:
    """(first cell's start, last cell's end) as Unix times, from papermill's cell metadata."""
    import json

    try:
        cells = json.loads(executed)["cells"]
        stamps = [(c["metadata"]["papermill"]["start_time"], c["metadata"]["papermill"]["end_time"]) for c in cells
                  if c.get("cell_type") == "code" and (c["metadata"].get("papermill") or {}).get("end_time")]
        return _unix(stamps[0][0]), _unix(stamps[-1][1])
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return None, None


def _unix(stamp: str) -> float:
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # papermill writes UTC without an offset
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()

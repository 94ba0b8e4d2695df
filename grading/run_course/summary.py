"""The run-course summary: a table for the terminal and a JSON file beside the notebooks."""
from __future__ import annotations

import json
from pathlib import Path

from grading import atomic
from grading.run_course.runner import SectionRun

COLUMNS = ("section", "status", "runs", "seconds", "checks", "points")


def _ratio(a, b) -> str:
    return "-" if b is None else f"{a:g}/{b:g}"


def table(results: list[SectionRun]) -> str:
    rows = [COLUMNS] + [(r.section, r.status, str(r.runs), f"{r.seconds:.1f}",
                         _ratio(r.checks_passed, r.checks_total), _ratio(r.score, r.max_score)) for r in results]
    total = sum(r.seconds for r in results)
    passed = sum(r.status in ("passed", "hand-out ok") for r in results)
    graded = [r for r in results if r.checks_total is not None]
    rows.append(("total", f"{passed}/{len(results)} passed", str(sum(r.runs for r in results)), f"{total:.1f}",
                 _ratio(sum(r.checks_passed for r in graded), sum(r.checks_total for r in graded)) if graded else "-",
                 _ratio(sum(r.score for r in graded), sum(r.max_score for r in graded)) if graded else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) if i > 1 else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    failures = [f"{r.section} failed: {r.error}\n  executed notebook kept at {r.output}" for r in results if r.error]
    failures += [f"{r.section} check {line}" for r in results for line in r.failed_checks]
    return "\n".join(lines + ([""] + failures if failures else []))


def write_json(results: list[SectionRun], tracking_uri: str, path: Path) -> None:
    payload = {"tracking_uri": tracking_uri, "sections": [r.as_dict() for r in results]}
    atomic.write_text(path, json.dumps(payload, indent=2))

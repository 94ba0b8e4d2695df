"""The artifacts kind: files a run logged, and that their content is what their name says."""
from __future__ import annotations

import fnmatch
import json

from grading.engine.kinds.common import Outcome, each_run
from grading.engine.store import Unreadable


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _content_problem(kind: str, data: bytes) -> str | None:
    if kind == "image":
        return None if data.startswith(PNG_MAGIC) else "is not a PNG image"
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "is not valid JSON"
    if kind == "table" and not (isinstance(parsed, dict) and {"columns", "data"} <= parsed.keys()):
        return "is not a table logged with log_table (no columns/data)"
    if kind == "json" and not parsed:
        return "is empty"
    return None


def artifacts(store, spec) -> Outcome:
    """Files by exact path or glob; `files: {path: image|json|table|any}` also checks their content."""
    def judge(run):
        listed = store.list_run_artifacts(run.info.run_id)
        problems = []
        for pattern, kind in (spec.get("files") or {}).items():
            matches = [p for p in listed if fnmatch.fnmatch(p, pattern)]
            if not matches:
                problems.append(f"no artifact {pattern} (run has {', '.join(listed) or 'none'})")
            elif kind and kind != "any":
                try:
                    problem = _content_problem(kind, store.read_run_artifact(run.info.run_id, matches[0]))
                except Unreadable as exc:
                    problem = f"was not read: {exc}"
                if problem:
                    problems.append(f"{matches[0]} {problem}")
        return problems

    spec = {**spec, "expected": spec.get("expected") or "artifacts " + ", ".join(
        f"{p} ({k})" for p, k in (spec.get("files") or {}).items())}
    return each_run(store, spec, judge)

"""What every kind uses: the Outcome it returns, the runs it reads and how it names them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Outcome:
    passed: bool
    expected: str
    found: str
    note: str = ""


def select_runs(store, spec):
    """The selected runs, or an Outcome explaining that there are none."""
    selected = store.select(spec["runs"])
    if not selected.runs:
        sel = store.expectations.runs[spec["runs"]]
        where = f" matching {sel.filter!r}" if sel.filter else ""
        return None, Outcome(False, f"a finished run{where}", f"none in {store.experiment_name(sel.experiment)!r}")
    return selected, None


def run_label(run) -> str:
    return run.data.tags.get("mlflow.runName") or run.info.run_id[:8]


def each_run(store, spec, judge) -> Outcome:
    """Apply judge(run) -> list of problems to every selected run; pass when none has a problem."""
    selected, missing = select_runs(store, spec)
    if missing:
        return missing
    problems = []
    for run in selected.runs:
        problems += [f"{run_label(run)}: {p}" for p in judge(run)]
    expected = spec.get("expected") or describe(spec)
    found = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
    return Outcome(not problems, expected, found or "as expected", selected.note)


def describe(spec) -> str:
    for key in ("params", "metrics", "tags"):
        if key in spec:
            return f"{key} " + ", ".join(f"{k}{constraint(v)}" for k, v in spec[key].items())
    return "see the description"


def constraint(rule) -> str:
    if not isinstance(rule, dict):
        return "" if rule is None else f"={rule}"
    parts = []
    if "type" in rule:
        parts.append(rule["type"])
    if "equals" in rule:
        parts.append(f"={rule['equals']}")
    if "min" in rule or "max" in rule:
        parts.append(f"in [{rule.get('min', '-inf')}, {rule.get('max', 'inf')}]")
    return f" ({', '.join(parts)})" if parts else ""

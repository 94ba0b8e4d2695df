"""Kinds about experiments and runs: existence, count, params, metrics, tags and dataset inputs."""
from __future__ import annotations

import hashlib
import math

from course import uris
from grading.engine.kinds.common import Outcome, each_run, run_label
from grading.engine.store import value_of


def experiment_exists(store, spec) -> Outcome:
    name = store.experiment_name(spec["experiment"])
    experiment = store.experiment(spec["experiment"])
    if experiment is None:
        return Outcome(False, f"an experiment named {name!r}", "no such experiment")
    if experiment.lifecycle_stage != "active":
        return Outcome(False, f"an active experiment named {name!r}", f"it is {experiment.lifecycle_stage}")
    scheme = spec.get("artifact_scheme")  # e.g. mlflow-artifacts: created through a server's artifact proxy
    if scheme:
        expected = f"an experiment named {name!r} whose artifacts go to {scheme}:"
        found = uris.scheme(experiment.artifact_location) or "a local path"
        if found != scheme:
            return Outcome(False, expected, f"its artifact location is {found}: {experiment.artifact_location[:80]}")
        return Outcome(True, expected, f"experiment id {experiment.experiment_id}")
    return Outcome(True, f"an experiment named {name!r}", f"experiment id {experiment.experiment_id}")


def run_count(store, spec) -> Outcome:
    """How many runs a selection holds; with `requires`, only once another selection holds some, so
    that "at most one" is not earned by a submission that did nothing."""
    selected = store.select(spec["runs"])
    count = len(selected.runs)
    low, high = spec.get("min", 1), spec.get("max", math.inf)
    expected = f"{low}" + ("" if high == low else f" to {high}" if high != math.inf else " or more")
    if spec.get("requires") and not store.select(spec["requires"]).runs:
        return Outcome(False, f"{expected} run(s), once there are runs in {spec['requires']!r}",
                       f"no run in {spec['requires']!r} yet")
    problems = []
    if not low <= count <= high:
        problems.append(f"{count} run(s)")
    if selected.extras:  # e.g. a parent run around the sweep: the lab asked for top-level runs
        names = ", ".join(run_label(r) for r in selected.extras[:3])
        problems.append(f"{len(selected.extras)} more run(s) without {', '.join(store.expectations.runs[spec['runs']].group_by)}"
                        f" ({names})")
    for key, values in (spec.get("each") or {}).items():
        present = {str(value_of(run, key)) for run in selected.runs}
        absent = [str(v) for v in values if str(v) not in present]
        if absent:
            problems.append(f"no run with {key} = {', '.join(absent)}")
        expected += f" with one for each {key} in {', '.join(map(str, values))}"
    expected += " run(s)"
    if spec.get("distinct"):  # e.g. runs on at least two data versions
        key, least = spec["distinct"], spec.get("min_distinct", 2)
        values = {value_of(run, key) for run in selected.runs} - {None}
        if len(values) < least:
            problems.append(f"{len(values)} distinct {key}")
        expected += f" with at least {least} distinct {key}"
    found = "; ".join(problems) if problems else f"{count} run(s)"
    return Outcome(not problems, expected, found, selected.note)


def params(store, spec) -> Outcome:
    casts = {"int": int, "float": float, "str": str}

    def judge(run):
        problems = []
        for name, rule in spec["params"].items():
            rule = rule if isinstance(rule, dict) else {"equals": rule}
            if name not in run.data.params:
                problems.append(f"param {name} missing")
                continue
            raw = run.data.params[name]
            try:
                value = casts[rule.get("type", "str")](raw)
            except ValueError:
                problems.append(f"param {name}={raw!r} is not {rule['type']}")
                continue
            if "equals" in rule and value != casts[rule.get("type", "str")](rule["equals"]):
                problems.append(f"param {name}={raw}, not {rule['equals']}")
            if "one_of" in rule and raw not in [str(v) for v in rule["one_of"]]:
                problems.append(f"param {name}={raw}, not one of {rule['one_of']}")
            if "sha256" in rule and hashlib.sha256(f"{rule.get('salt', '')}{raw}".encode()).hexdigest() != rule["sha256"]:
                problems.append(f"param {name}={raw} is not the expected value")  # the key stays hidden
        return problems

    return each_run(store, spec, judge)


def metrics(store, spec) -> Outcome:
    def judge(run):
        problems = []
        for name, rule in spec["metrics"].items():
            rule = rule or {}
            if name not in run.data.metrics:
                problems.append(f"metric {name} missing")
                continue
            value = run.data.metrics[name]
            if "min" in rule and value < rule["min"] or "max" in rule and value > rule["max"]:
                problems.append(f"metric {name}={value:.6g} outside [{rule.get('min')}, {rule.get('max')}]")
            if "equals" in rule and abs(value - rule["equals"]) > rule.get("tolerance", 1e-9):
                problems.append(f"metric {name}={value:.6g}, not {rule['equals']} (±{rule.get('tolerance', 1e-9)})")
            if "min_steps" in rule:  # a curve, not one value: distinct steps in the metric's history
                steps = {m.step for m in store.client.get_metric_history(run.info.run_id, name)}
                if len(steps) < rule["min_steps"]:
                    problems.append(f"metric {name} has {len(steps)} step(s), not at least {rule['min_steps']:g}")
        return problems

    return each_run(store, spec, judge)


def tags(store, spec) -> Outcome:
    def judge(run):
        problems = []
        for name, value in spec["tags"].items():
            if name not in run.data.tags:
                problems.append(f"tag {name} missing")
            elif value is not None and run.data.tags[name] != str(value):
                problems.append(f"tag {name}={run.data.tags[name]!r}, not {value!r}")
        return problems

    return each_run(store, spec, judge)


def dataset_input(store, spec) -> Outcome:
    def judge(run):
        inputs = run.inputs.dataset_inputs if run.inputs else []
        datasets = [d.dataset for d in inputs]
        if spec.get("name"):
            datasets = [d for d in datasets if d.name == spec["name"]]
        if not datasets:
            return [f"no dataset input{' named ' + repr(spec['name']) if spec.get('name') else ''}"]
        if spec.get("digest") and all(d.digest != str(spec["digest"]) for d in datasets):
            return [f"dataset digest {datasets[0].digest}, not {spec['digest']}"]
        if spec.get("digest_from_tag"):
            tag = run.data.tags.get(spec["digest_from_tag"])
            if all(d.digest != tag for d in datasets):
                return [f"dataset digest {datasets[0].digest} differs from tag {spec['digest_from_tag']}={tag}"]
        return []

    expected = "a dataset input" + (f" named {spec['name']!r}" if spec.get("name") else "") + (
        f" with digest {spec['digest']}" if spec.get("digest") else "")
    return each_run(store, {**spec, "expected": spec.get("expected") or expected}, judge)

"""The check kinds: small functions of a check's data and read-only tracking queries.

Each takes (store, spec) and returns an Outcome; grading.grader turns that into
a CheckResult with points, message and hint.
"""
from __future__ import annotations

import fnmatch
import importlib
import json
import math
from dataclasses import dataclass

from grading.errors import first_line
from grading.store import LOGGED_MODEL_ID, Unreadable, value_of


@dataclass
class Outcome:
    passed: bool
    expected: str
    found: str
    note: str = ""


def _runs(store, spec):
    """The selected runs, or an Outcome explaining that there are none."""
    selected = store.select(spec["runs"])
    if not selected.runs:
        sel = store.expectations.runs[spec["runs"]]
        where = f" matching {sel.filter!r}" if sel.filter else ""
        return None, Outcome(False, f"a finished run{where}", f"none in {store.experiment_name(sel.experiment)!r}")
    return selected, None


def _run_label(run) -> str:
    return run.data.tags.get("mlflow.runName") or run.info.run_id[:8]


def _each_run(store, spec, judge) -> Outcome:
    """Apply judge(run) -> list of problems to every selected run; pass when none has a problem."""
    selected, missing = _runs(store, spec)
    if missing:
        return missing
    problems = []
    for run in selected.runs:
        problems += [f"{_run_label(run)}: {p}" for p in judge(run)]
    expected = spec.get("expected") or _describe(spec)
    found = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
    return Outcome(not problems, expected, found or "as expected", selected.note)


def _describe(spec) -> str:
    for key in ("params", "metrics", "tags"):
        if key in spec:
            return f"{key} " + ", ".join(f"{k}{_constraint(v)}" for k, v in spec[key].items())
    return "see the description"


def _constraint(rule) -> str:
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


# Kinds -------------------------------------------------------------------------------

def experiment_exists(store, spec) -> Outcome:
    name = store.experiment_name(spec["experiment"])
    experiment = store.experiment(spec["experiment"])
    if experiment is None:
        return Outcome(False, f"an experiment named {name!r}", "no such experiment")
    if experiment.lifecycle_stage != "active":
        return Outcome(False, f"an active experiment named {name!r}", f"it is {experiment.lifecycle_stage}")
    return Outcome(True, f"an experiment named {name!r}", f"experiment id {experiment.experiment_id}")


def run_count(store, spec) -> Outcome:
    selected = store.select(spec["runs"])
    count = len(selected.runs)
    low, high = spec.get("min", 1), spec.get("max", math.inf)
    expected = f"{low}" + ("" if high == low else f" to {high}" if high != math.inf else " or more")
    problems = []
    if not low <= count <= high:
        problems.append(f"{count} run(s)")
    if selected.extras:  # e.g. a parent run around the sweep: the lab asked for top-level runs
        names = ", ".join(_run_label(r) for r in selected.extras[:3])
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
        return problems

    return _each_run(store, spec, judge)


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
        return problems

    return _each_run(store, spec, judge)


def tags(store, spec) -> Outcome:
    def judge(run):
        problems = []
        for name, value in spec["tags"].items():
            if name not in run.data.tags:
                problems.append(f"tag {name} missing")
            elif value is not None and run.data.tags[name] != str(value):
                problems.append(f"tag {name}={run.data.tags[name]!r}, not {value!r}")
        return problems

    return _each_run(store, spec, judge)


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
    return _each_run(store, spec, judge)


def logged_model(store, spec) -> Outcome:
    """A LoggedModel from each run, with its flavor and a signature of the given input width."""
    flavor, width, name = spec.get("flavor"), spec.get("signature_inputs"), spec.get("name")
    columns = list(spec.get("signature_columns") or [])

    def judge(run):
        models = store.logged_models(run.info.experiment_id, run.info.run_id)
        if name:
            models = [m for m in models if m.name == name]
        if not models:
            return [f"no logged model{f' named {name!r}' if name else ''}"]
        model = max(models, key=lambda m: m.creation_timestamp)
        try:
            meta = store.model_metadata(f"models:/{model.model_id}")
        except Unreadable as exc:
            return [f"its MLmodel file was not read: {exc}"]
        problems = []
        flavors = sorted((meta.get("flavors") or {}).keys())
        if flavor and flavor not in flavors:
            problems.append(f"model flavors {flavors}, no {flavor}")
        if width is not None or columns:
            signature = meta.get("signature")
            if not signature or not signature.get("inputs"):
                problems.append("model has no signature")
            else:
                inputs = json.loads(signature["inputs"])
                found = signature_width(inputs)
                if width is not None and found != width:
                    problems.append(f"signature has {found} inputs, not {width}")
                named = [i.get("name") for i in inputs if i.get("type") != "tensor" and i.get("name")]
                if columns and not named:
                    problems.append("signature takes an unnamed array, not named columns (log a DataFrame example)")
                elif missing := [c for c in columns if c not in named]:
                    problems.append(f"signature lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return problems

    details = ([f"{flavor} flavor"] if flavor else []) + ([f"a signature with {width} inputs"] if width is not None else []) \
        + ([f"a signature naming the columns {', '.join(columns)}"] if columns else [])
    expected = f"a logged model{f' named {name!r}' if name else ''}" + (f" ({', '.join(details)})" if details else "")
    return _each_run(store, {**spec, "expected": spec.get("expected") or expected}, judge)


def signature_width(inputs: list[dict]) -> int:
    """Input features in a signature: one per column, or the last dimension of a tensor (numpy input)."""
    width = 0
    for spec in inputs:
        shape = (spec.get("tensor-spec") or {}).get("shape") if spec.get("type") == "tensor" else None
        width += shape[-1] if shape else 1
    return width


def registered_model(store, spec) -> Outcome:
    """A registered model whose alias points at the version logged by the best selected run."""
    from mlflow.exceptions import MlflowException

    name, alias, metric = spec["name"], spec.get("alias", "champion"), spec["best_by"]
    expected = f"registered model {name!r} with alias {alias!r} on the version from the run with the best {metric}"
    try:
        version = store.client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        reason = "no such registered model" if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) else first_line(exc)
        try:
            store.client.get_registered_model(name)
            reason = f"no alias {alias!r}"
        except MlflowException:
            pass
        return Outcome(False, expected, reason)
    selected, missing = _runs(store, spec)
    if missing:
        return missing
    higher_is_better = spec.get("higher_is_better", True)
    scored = [r for r in selected.runs if metric in r.data.metrics]
    if not scored:
        return Outcome(False, expected, f"no selected run has metric {metric}")
    best = (max if higher_is_better else min)(scored, key=lambda r: r.data.metrics[metric])
    best_value = best.data.metrics[metric]
    version_run = next((r for r in scored if r.info.run_id == version.run_id), None)
    if version_run is None:
        return Outcome(False, expected, f"{alias!r} is version {version.version}, from a run outside the selection")
    if version_run.data.metrics[metric] != best_value:
        return Outcome(False, expected, f"{alias!r} is version {version.version} from {_run_label(version_run)} "
                       f"({metric}={version_run.data.metrics[metric]:.6g}); best is {_run_label(best)} ({best_value:.6g})")
    # The version must hold a model that run logged: its source and run id are only what the store says.
    model_id = version.source[len("models:/"):] if version.source.startswith("models:/") else ""
    if not LOGGED_MODEL_ID.fullmatch(model_id):
        return Outcome(False, expected, f"version {version.version} is registered from {version.source[:120]!r}, not from "
                       "a logged model (register models:/<model id>, or runs:/<run id>/model)")
    if store.client.get_logged_model(model_id).source_run_id != version.run_id:
        return Outcome(False, expected, f"version {version.version}'s model was not logged by the run it names")
    try:
        meta = store.model_metadata(version.source)
    except Unreadable as exc:
        return Outcome(False, expected, f"version {version.version}'s MLmodel file was not read: {exc}")
    if not meta or not meta.get("flavors"):
        return Outcome(False, expected, f"version {version.version} holds no MLflow model")
    if spec.get("signature", True) and not meta.get("signature"):
        return Outcome(False, expected, f"version {version.version} has no signature")
    return Outcome(True, expected, f"{alias!r} is version {version.version} from {_run_label(version_run)}")


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
    return _each_run(store, {**spec, "expected": spec.get("expected") or expected}, judge)


def recomputed_metric(store, spec) -> Outcome:
    """Truthfulness: the logged metric equals the logged model's metric on the lab data's test split.

    Models are never loaded here: grading.recompute copies each model's files out of the store,
    a sandbox predicts, and the score is computed here; the sandbox reports predictions only.
    """
    from grading import recompute

    metric, tolerance, name, dataset = spec["metric"], spec.get("tolerance", 1e-6), spec.get("name"), spec["dataset"]
    scored = spec.get("score", metric)  # what to compute; the logged metric's name may differ
    expected = f"logged {metric} equal to the model's {scored} recomputed on the lab data's test split (±{tolerance})"
    selected, missing = _runs(store, spec)
    if missing:
        return missing
    model_of = {}
    for run in selected.runs:
        models = [m for m in store.logged_models(run.info.experiment_id, run.info.run_id) if not name or m.name == name]
        if models:
            model_of[run.info.run_id] = f"models:/{max(models, key=lambda m: m.creation_timestamp).model_id}"  # checked in copy_model
    problems = [f"{_run_label(r)}: no logged model to recompute" for r in selected.runs if r.info.run_id not in model_of]
    if len(model_of) > recompute.MAX_MODELS:  # bounded work: the run-count check names the extra runs
        problems.append(f"{len(model_of)} models; the grader recomputes at most {recompute.MAX_MODELS}")
        model_of = dict(list(model_of.items())[:recompute.MAX_MODELS])
    pending = [uri for uri in model_of.values() if (dataset, scored, uri) not in store.recomputed]
    if pending:
        for uri, answer in recompute.recompute(store, dataset, pending, scored).items():
            store.recomputed[(dataset, scored, uri)] = answer
    for run in selected.runs:
        if run.info.run_id not in model_of:
            continue
        answer = store.recomputed.get((dataset, scored, model_of[run.info.run_id]), {"error": "no result"})
        logged = run.data.metrics.get(metric)
        if "error" in answer:
            problems.append(f"{_run_label(run)}: the model does not load or predict ({answer['error']})")
        elif logged is None:
            problems.append(f"{_run_label(run)}: no {metric} logged")
        elif abs(logged - answer[scored]) > tolerance:
            problems.append(f"{_run_label(run)}: logged {metric}={logged:.6g}, recomputed {answer[scored]:.6g}")
    return Outcome(not problems, expected, "; ".join(problems) or "equal", selected.note)


def python(store, spec) -> Outcome:
    """Escape hatch: `function: module:callable`, a trusted function of (store, spec) in this repository."""
    module, _, attr = spec["function"].partition(":")
    return getattr(importlib.import_module(module), attr)(store, spec)


# Reproducibility kinds live in their own module, which imports the helpers above.
from grading import reproducibility  # noqa: E402

# Kinds that act on the host from what the store names (run a project, read a git repository the
# store points at, or call course code): `grade` refuses labs that use them, as a submission writes its store.
HOST_EFFECTS = frozenset({"python", "project_reproduces", "lineage"})

KINDS = {
    "experiment_exists": experiment_exists,
    "run_count": run_count,
    "params": params,
    "metrics": metrics,
    "tags": tags,
    "artifacts": artifacts,
    "logged_model": logged_model,
    "registered_model": registered_model,
    "dataset_input": dataset_input,
    "recomputed_metric": recomputed_metric,
    "python": python,
    "reproducible": reproducibility.reproducible,
    "project_reproduces": reproducibility.project_reproduces,
    "lineage": reproducibility.lineage,
}

"""Truthfulness: a logged metric equals what its logged model scores, recomputed in a sandbox."""
from __future__ import annotations

from grading.engine.kinds.common import Outcome, run_label, select_runs

PART_NAMES = {"train": "training", "val": "validation", "test": "test"}


def recomputed_metric(store, spec) -> Outcome:
    """Truthfulness: the logged metric equals the logged model's metric on a part of the lab data
    (`split`: "test" unless the check says "val"). With `model: <name>@<alias>`, the model scored is
    the registered version the alias names, for runs that report on a model they did not log.

    Models are never loaded here: grading.engine.recompute copies each model's files out of the store,
    a sandbox predicts, and the score is computed here; the sandbox reports predictions only.
    """
    from grading.engine import recompute

    metric, tolerance, dataset = spec["metric"], spec.get("tolerance", 1e-6), spec["dataset"]
    scored = spec.get("score", metric)  # what to compute; the logged metric's name may differ
    part = spec.get("split", "test")
    whose = f"{spec['model']}'s" if spec.get("model") else "the model's"
    expected = f"logged {metric} equal to {whose} {scored} recomputed on the lab data's {PART_NAMES[part]} split (±{tolerance})"
    selected, missing = select_runs(store, spec)
    if missing:
        return missing
    model_of, problems = _models_to_score(store, spec, selected.runs)
    if model_of is None:
        return Outcome(False, expected, problems[0])
    recompute.predict_all(store, {(dataset, part, uri) for uri in model_of.values()})
    for run in selected.runs:
        if run.info.run_id not in model_of:
            continue
        answer = recompute.scored(store, dataset, part, model_of[run.info.run_id], scored)
        logged = run.data.metrics.get(metric)
        if "error" in answer:
            problems.append(f"{run_label(run)}: the model does not load or predict ({answer['error']})")
        elif logged is None:
            problems.append(f"{run_label(run)}: no {metric} logged")
        elif abs(logged - answer[scored]) > tolerance:
            problems.append(f"{run_label(run)}: logged {metric}={logged:.6g}, recomputed {answer[scored]:.6g}")
    return Outcome(not problems, expected, "; ".join(problems) or "equal", selected.note)


def wanted(store, spec) -> set[tuple[str, str, str]]:
    """The (dataset, part, model uri) this check will score, so that the grader can predict every
    check's models in one sandbox; empty when the store cannot say (the check itself then reports why)."""
    try:
        selected, missing = select_runs(store, spec)
        if missing:
            return set()
        model_of, _ = _models_to_score(store, spec, selected.runs)
    except Exception:  # noqa: BLE001 - a crafted store: the check reports it when it runs
        return set()
    return {(spec["dataset"], spec.get("split", "test"), uri) for uri in (model_of or {}).values()}


def _models_to_score(store, spec, runs) -> tuple[dict | None, list[str]]:
    """({run id: model uri}, problems), or (None, [why]) when the alias names no model."""
    from grading.engine import recompute

    name = spec.get("name")
    model_of = {}
    if spec.get("model"):
        registered, problem = _registered_source(store, spec["model"])
        if problem:
            return None, [problem]
        model_of = {run.info.run_id: registered for run in runs}
    else:
        for run in runs:
            models = [m for m in store.logged_models(run.info.experiment_id, run.info.run_id) if not name or m.name == name]
            if models:
                model_of[run.info.run_id] = f"models:/{max(models, key=lambda m: m.creation_timestamp).model_id}"  # checked in copy_model
    problems = [f"{run_label(r)}: no logged model to recompute" for r in runs if r.info.run_id not in model_of]
    if len(model_of) > recompute.MAX_MODELS:  # bounded work: the run-count check names the extra runs
        problems.append(f"{len(model_of)} models; the grader recomputes at most {recompute.MAX_MODELS}")
        model_of = dict(list(model_of.items())[:recompute.MAX_MODELS])
    return model_of, problems


def _registered_source(store, model: str) -> tuple[str, str]:
    """(the logged model's URI behind name@alias, "") or ("", what is missing)."""
    from mlflow.exceptions import MlflowException

    name, _, alias = model.partition("@")
    name = store.registered_name(name)
    try:
        version = store.client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return "", f"no registered model {name!r} with alias {alias!r}"
    return version.source, ""  # copy_model accepts only a logged model's models:/m-... URI

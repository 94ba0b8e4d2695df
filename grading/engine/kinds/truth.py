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

    metric, tolerance, name, dataset = spec["metric"], spec.get("tolerance", 1e-6), spec.get("name"), spec["dataset"]
    scored = spec.get("score", metric)  # what to compute; the logged metric's name may differ
    part = spec.get("split", "test")
    whose = f"{spec['model']}'s" if spec.get("model") else "the model's"
    expected = f"logged {metric} equal to {whose} {scored} recomputed on the lab data's {PART_NAMES[part]} split (±{tolerance})"
    selected, missing = select_runs(store, spec)
    if missing:
        return missing
    model_of = {}
    if spec.get("model"):
        registered, problem = _registered_source(store, spec["model"])
        if problem:
            return Outcome(False, expected, problem)
        model_of = {run.info.run_id: registered for run in selected.runs}
    else:
        for run in selected.runs:
            models = [m for m in store.logged_models(run.info.experiment_id, run.info.run_id) if not name or m.name == name]
            if models:
                model_of[run.info.run_id] = f"models:/{max(models, key=lambda m: m.creation_timestamp).model_id}"  # checked in copy_model
    problems = [f"{run_label(r)}: no logged model to recompute" for r in selected.runs if r.info.run_id not in model_of]
    if len(model_of) > recompute.MAX_MODELS:  # bounded work: the run-count check names the extra runs
        problems.append(f"{len(model_of)} models; the grader recomputes at most {recompute.MAX_MODELS}")
        model_of = dict(list(model_of.items())[:recompute.MAX_MODELS])
    pending = [uri for uri in model_of.values() if (dataset, part, scored, uri) not in store.recomputed]
    if pending:
        for uri, answer in recompute.recompute(store, dataset, pending, scored, part).items():
            store.recomputed[(dataset, part, scored, uri)] = answer
    for run in selected.runs:
        if run.info.run_id not in model_of:
            continue
        answer = store.recomputed.get((dataset, part, scored, model_of[run.info.run_id]), {"error": "no result"})
        logged = run.data.metrics.get(metric)
        if "error" in answer:
            problems.append(f"{run_label(run)}: the model does not load or predict ({answer['error']})")
        elif logged is None:
            problems.append(f"{run_label(run)}: no {metric} logged")
        elif abs(logged - answer[scored]) > tolerance:
            problems.append(f"{run_label(run)}: logged {metric}={logged:.6g}, recomputed {answer[scored]:.6g}")
    return Outcome(not problems, expected, "; ".join(problems) or "equal", selected.note)


def _registered_source(store, model: str) -> tuple[str, str]:
    """(the logged model's URI behind name@alias, "") or ("", what is missing)."""
    from mlflow.exceptions import MlflowException

    name, _, alias = model.partition("@")
    try:
        version = store.client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return "", f"no registered model {name!r} with alias {alias!r}"
    return version.source, ""  # copy_model accepts only a logged model's models:/m-... URI

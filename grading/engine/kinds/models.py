"""Kinds about models: logged models with flavor and signature, and the registry's alias."""
from __future__ import annotations

import json
import urllib.parse

from grading.engine.kinds.common import Outcome, each_run, run_label, select_runs
from grading.engine.store import LOGGED_MODEL_ID, Unreadable
from grading.errors import first_line


def logged_model(store, spec) -> Outcome:
    """A LoggedModel from each run, with its flavor, a signature of the given input width or columns,
    metrics logged on the model itself (log_metric(..., model_id=...)), and a run tag naming where
    its MLmodel lies in the bucket of the server's artifacts destination."""
    flavor, width, name = spec.get("flavor"), spec.get("signature_inputs"), spec.get("name")
    columns, model_metrics = list(spec.get("signature_columns") or []), list(spec.get("model_metrics") or [])
    key_tag, destination = spec.get("key_tag"), spec.get("destination")
    reads_file = bool(flavor or width is not None or columns)

    def judge(run):
        models = store.logged_models(run.info.experiment_id, run.info.run_id)
        if name:
            models = [m for m in models if m.name == name]
        if not models:
            return [f"no logged model{f' named {name!r}' if name else ''}"]
        model = max(models, key=lambda m: m.creation_timestamp)
        problems = _key_problems(run, model, key_tag, destination) if key_tag else []
        if not reads_file:
            meta = {}
        else:
            try:
                meta = store.model_metadata(f"models:/{model.model_id}")
            except Unreadable as exc:
                return problems + [f"its MLmodel file was not read: {exc}"]
        on_model = {m.key for m in model.metrics or []}
        if missing := [m for m in model_metrics if m not in on_model]:
            problems.append(f"the model carries no metric {', '.join(missing)} (log it in the run that logged "
                            "the model, or pass model_id= to log_metric)")
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
        + ([f"a signature naming the columns {', '.join(columns)}"] if columns else []) \
        + ([f"the model's own metric{'s' if len(model_metrics) > 1 else ''} {', '.join(model_metrics)}"] if model_metrics else []) \
        + ([f"the run's tag {key_tag} naming its MLmodel's key in {destination}"] if key_tag else [])
    expected = f"a logged model{f' named {name!r}' if name else ''}" + (f" ({', '.join(details)})" if details else "")
    return each_run(store, {**spec, "expected": spec.get("expected") or expected}, judge)


def object_key(location: str, destination: str) -> str | None:
    """The key of a model's MLmodel in the bucket of `destination` (a server's s3:// artifacts
    destination), from the model's artifact location; None when the files are not in that bucket.

    Through the proxy, mlflow-artifacts:/<path> is <destination's prefix>/<path> in the bucket;
    a client writing to S3 itself records s3://<bucket>/<key> as it is.
    """
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme == "mlflow-artifacts":
        key = "/".join(part for part in (prefix.strip("/"), parsed.path.strip("/")) if part)
    elif parsed.scheme == "s3" and parsed.netloc == bucket:
        key = parsed.path.strip("/")
    else:
        return None
    return f"{key}/MLmodel"


def _key_problems(run, model, key_tag: str, destination: str) -> list[str]:
    expected = object_key(model.artifact_location, destination)
    if expected is None:
        return [f"its files are at {model.artifact_location.split(':', 1)[0]}:, not in {destination}'s bucket"]
    given = run.data.tags.get(key_tag)
    if given is None:
        return [f"no tag {key_tag}"]
    bucket = destination.removeprefix("s3://").partition("/")[0]
    if given.strip().removeprefix(f"s3://{bucket}/").lstrip("/") != expected:
        return [f"tag {key_tag} is {given[:200]!r}; the model's MLmodel is at {expected!r}"]
    return []


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

    name, alias, metric = store.registered_name(spec["name"]), spec.get("alias", "champion"), spec["best_by"]
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
    selected, missing = select_runs(store, spec)
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
        return Outcome(False, expected, f"{alias!r} is version {version.version} from {run_label(version_run)} "
                       f"({metric}={version_run.data.metrics[metric]:.6g}); best is {run_label(best)} ({best_value:.6g})")
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
    return Outcome(True, expected, f"{alias!r} is version {version.version} from {run_label(version_run)}")

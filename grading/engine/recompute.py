"""Truthfulness, grader side: recompute a logged model's metric without loading it here.

The model's files are copied out of the store (regular files only, capped in size), one
sandbox loads them and predicts on the parts of the lab's data that the checks name
(grading.predict), and this process scores the predictions against the lab's labels; the
sandbox reports predictions only.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import tempfile
import time
from pathlib import Path

MODEL_CAP = 200 * 1024 * 1024  # bytes of one model's files
MAX_MODELS = 20  # recomputed per check; a lab names a handful of configurations
# Seconds this process spent copying models out of stores, and loading them to predict (a benchmark reads them).
SECONDS = {"copying the models": 0.0, "loading the models and predicting": 0.0}


def _classifier_score(name: str):
    def compute(labels, predictions, probabilities):
        from sklearn import metrics

        if name == "accuracy":
            return metrics.accuracy_score(labels, predictions)
        if name == "roc_auc":  # from probabilities when the model gives them, as a lab computes it
            return metrics.roc_auc_score(labels, probabilities if probabilities is not None else predictions)
        average = "binary" if len(set(labels) | set(predictions)) <= 2 else "macro"
        return getattr(metrics, f"{name}_score")(labels, predictions, average=average)
    return compute


def _regressor_score(name: str):
    def compute(labels, predictions, probabilities):
        from sklearn import metrics

        if name == "rmse":
            return metrics.mean_squared_error(labels, predictions) ** 0.5
        return {"mae": metrics.mean_absolute_error, "r2": metrics.r2_score}[name](labels, predictions)
    return compute


# Each metric a check may recompute, computed with scikit-learn's defaults (binary F1 and friends
# on two classes, macro on more), as the labs compute them.
SCORES = {**{n: _classifier_score(n) for n in ("accuracy", "f1", "precision", "recall", "roc_auc")},
          **{n: _regressor_score(n) for n in ("rmse", "mae", "r2")}}


def score(labels, answer: dict, name: str) -> dict:
    """{name: value} from a model's predictions (and probabilities), or {"error": ...}."""
    predictions, probabilities = answer.get("predictions"), answer.get("probabilities")
    if not isinstance(predictions, list) or len(predictions) != len(labels):
        return {"error": f"{len(predictions) if isinstance(predictions, list) else 'no'} predictions "
                         f"for {len(labels)} rows"}
    if probabilities is not None and (not isinstance(probabilities, list) or len(probabilities) != len(labels)):
        probabilities = None
    try:
        return {name: float(SCORES[name](list(labels), predictions, probabilities))}
    except (TypeError, ValueError) as exc:
        return {"error": f"the predictions cannot be scored as {name}: {str(exc)[:150]}"}


def predict_all(store, wanted: set[tuple[str, str, str]]) -> None:
    """Predict each (dataset, part, model uri) not predicted yet into store.predictions, all in one
    sandbox: it imports MLflow and scikit-learn once, and each model's files are copied out once."""
    from grading import harvest, predict, sandbox, zygote

    pending = sorted(w for w in wanted if w not in store.predictions)
    if not pending:
        return
    scratch = Path(tempfile.mkdtemp(prefix="recompute-"))
    try:
        scratch.chmod(0o755)
        folder_of: dict[str, str] = {}
        budget = store.context.sandbox_limits.disk_mb * 1024 * 1024  # for all the models together
        copying = time.perf_counter()
        for number, uri in enumerate(sorted({uri for _, _, uri in pending})):
            target = scratch / f"m{number}"
            problem = store.copy_model(uri, target, max(0, min(MODEL_CAP, budget)))
            budget -= _size(target)
            if problem:
                store.predictions.update({w: {"error": problem} for w in pending if w[2] == uri})
            else:
                harvest.make_readable(target)
                folder_of[uri] = str(target)
        SECONDS["copying the models"] += time.perf_counter() - copying
        requests = [(dataset, part, folder_of[uri]) for dataset, part, uri in pending if uri in folder_of]
        if not requests:
            return
        limits = dataclasses.replace(store.context.sandbox_limits, timeout=30 + predict.MODEL_SECONDS * len(requests))
        if store.context.zygote and store.context.sandbox_uid is not None:  # the batch's warm loader
            done = zygote.run(store.context.zygote, requests, store.context.sandbox_uid, limits, [scratch])
        else:
            box = sandbox.Sandbox(readable=[scratch], limits=limits, uid=store.context.sandbox_uid)
            namespace = ["--pid-namespace"] if sandbox.mode() != "process" else []
            done = box.run_module("grading.predict", [*namespace, json.dumps(requests)])
        SECONDS["loading the models and predicting"] += done.seconds
        answers = _read_report(done.stdout)
        uri_of = {folder: uri for uri, folder in folder_of.items()}
        for dataset, part, folder in requests:
            answer = answers.get((folder, dataset, part))
            if answer is None:
                answer = {"error": "the recompute ran out of time" if done.timed_out else
                          "the recompute hit the memory limit" if "memory" in done.limits_hit else
                          "loading the model ended the recompute"}
            elif "predictions" not in answer:
                answer = {"error": str(answer.get("error") or "no predictions")[:300]}
            store.predictions[(dataset, part, uri_of[folder])] = answer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scored(store, dataset: str, part: str, uri: str, name: str) -> dict:
    """{name: value} of the model's predictions on the lab data's part, or {"error": ...}."""
    answer = store.predictions.get((dataset, part, uri), {"error": "no result"})
    return answer if "error" in answer else score(_labels(dataset, part), answer, name)


def warm_up() -> None:
    """Import the scorers and compute every lab's labels, in a process whose children score."""
    import sklearn.metrics  # noqa: F401
    from course import labdata

    for dataset in labdata.names():
        for part in labdata.PARTS:
            _labels(dataset, part)


def warm() -> bool:
    """Whether warm_up has run in this process (its labels are cached)."""
    return _labels.cache_info().currsize > 0


@functools.lru_cache(maxsize=None)
def _labels(dataset: str, part: str):
    from course import labdata

    return labdata.load(dataset).part(part)[1]


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def _read_report(stdout: str) -> dict[tuple[str, str, str], dict]:
    from grading import sandbox

    answers = {}
    for record in sandbox.json_records(stdout):
        key = tuple(record.get(k) for k in ("model", "dataset", "part"))
        if all(isinstance(k, str) for k in key):
            answers.setdefault(key, record)  # the first line per request counts
    return answers

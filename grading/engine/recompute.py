"""Truthfulness, grader side: recompute a logged model's metric without loading it here.

The model's files are copied out of the store (regular files only, capped in size), the
sandbox loads them and predicts on one part of the lab's data (grading.predict), and this
process scores the predictions against the lab's labels; the sandbox reports predictions only.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

MODEL_CAP = 200 * 1024 * 1024  # bytes of one model's files
MAX_MODELS = 20  # recomputed per check; a lab names a handful of configurations


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


def recompute(store, dataset: str, uris: list[str], metric: str = "accuracy", part: str = "test") -> dict[str, dict]:
    """{model uri: {metric: ...} | {"error": ...}} for each uri, scored on the lab data's `part`."""
    from course import labdata

    from grading import harvest, predict, sandbox

    results: dict[str, dict] = {}
    scratch = Path(tempfile.mkdtemp(prefix="recompute-"))
    try:
        scratch.chmod(0o755)
        folders: dict[str, str] = {}
        budget = store.context.sandbox_limits.disk_mb * 1024 * 1024  # for all the models together
        for number, uri in enumerate(uris):
            target = scratch / f"m{number}"
            problem = store.copy_model(uri, target, max(0, min(MODEL_CAP, budget)))
            budget -= _size(target)
            if problem:
                results[uri] = {"error": problem}
            else:
                harvest.make_readable(target)
                folders[str(target)] = uri
        if folders:
            limits = dataclasses.replace(store.context.sandbox_limits, timeout=30 + predict.MODEL_SECONDS * len(folders))
            box = sandbox.Sandbox(readable=[scratch], limits=limits, uid=store.context.sandbox_uid)
            namespace = ["--pid-namespace"] if sandbox.mode() != "process" else []
            done = box.run_module("grading.predict", [*namespace, dataset, part, *folders])
            answers = _read_report(done.stdout)
            labels = labdata.load(dataset).part(part)[1]
            for folder, uri in folders.items():
                answer = answers.get(folder)
                if answer is None:
                    why = "the recompute ran out of time" if done.timed_out else (
                        "the recompute hit the memory limit" if "memory" in done.limits_hit else
                        "loading the model ended the recompute")
                    results[uri] = {"error": why}
                elif "predictions" in answer:
                    results[uri] = score(labels, answer, metric)
                else:
                    results[uri] = {"error": str(answer.get("error") or "no predictions")[:300]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def _read_report(stdout: str) -> dict[str, dict]:
    from grading import sandbox

    answers = {}
    for record in sandbox.json_records(stdout):
        if isinstance(record.get("model"), str):
            answers.setdefault(record["model"], record)  # the first line per model counts
    return answers

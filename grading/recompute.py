"""Truthfulness, grader side: recompute a logged model's metric without loading it here.

The model's files are copied out of the store (regular files only, capped in size), the
sandbox loads them and predicts on the lab's test features (grading.predict), and this
process scores the predictions against labels the sandbox never receives.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

MODEL_CAP = 200 * 1024 * 1024  # bytes of one model's files
MAX_MODELS = 20  # recomputed per check; a lab names a handful of configurations


def score(dataset: str, predictions: list) -> dict:
    from sklearn.metrics import accuracy_score

    from grading.canonical import DATASETS

    _, labels = DATASETS[dataset]()
    if len(predictions) != len(labels):
        return {"error": f"{len(predictions)} predictions for {len(labels)} test rows"}
    try:
        return {"accuracy": float(accuracy_score(labels, predictions))}
    except (TypeError, ValueError) as exc:
        return {"error": f"the predictions cannot be scored: {str(exc)[:150]}"}


def recompute(store, dataset: str, uris: list[str]) -> dict[str, dict]:
    """{model uri: {"accuracy": ...} | {"error": ...}} for each uri."""
    from grading import harvest, predict, sandbox

    results: dict[str, dict] = {}
    scratch = Path(tempfile.mkdtemp(prefix="recompute-"))
    try:
        scratch.chmod(0o755)
        folders: dict[str, str] = {}
        budget = store.sandbox_limits.disk_mb * 1024 * 1024  # for all the models together
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
            limits = dataclasses.replace(store.sandbox_limits, timeout=30 + predict.MODEL_SECONDS * len(folders))
            box = sandbox.Sandbox(readable=[scratch], limits=limits, uid=store.sandbox_uid)
            namespace = ["--pid-namespace"] if sandbox.mode() != "process" else []
            done = box.run_module("grading.predict", [*namespace, dataset, *folders])
            answers = _read_report(done.stdout)
            for folder, uri in folders.items():
                answer = answers.get(folder)
                if answer is None:
                    why = "the recompute ran out of time" if done.timed_out else (
                        "the recompute hit the memory limit" if "memory" in done.limits_hit else
                        "loading the model ended the recompute")
                    results[uri] = {"error": why}
                elif "predictions" in answer and isinstance(answer["predictions"], list):
                    results[uri] = score(dataset, answer["predictions"])
                else:
                    results[uri] = {"error": str(answer.get("error") or "no predictions")[:300]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def _read_report(stdout: str) -> dict[str, dict]:
    import json

    answers = {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("model"), str):
            answers.setdefault(record["model"], record)  # the first line per model counts
    return answers

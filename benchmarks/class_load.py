"""A class doing lab04 at once on one server: MLflow's default workers against the docs' choice.

Usage: python benchmarks/class_load.py [--learners 30] [--workers 2]

Both settings in this one invocation, each on a fresh production stack with basic auth
(PostgreSQL, S3, `mlflow server --app-name course-class`) and one account per learner. Each learner
is a process of its own, logged in as themselves, that makes the lab04 solution's MLflow calls
at the same moment as the others: three runs (params, tag, val_accuracy, the confusion matrix,
a logged model), the best model registered with the alias champion, test_accuracy on its run.
The models are fitted and the figure is drawn once, beforehand: what is measured is the server.
The learners share this machine's cores with the server, as on a class hub.

Prints, for each setting: the wall seconds for the whole class, learners served per minute per
core, p50 and p95 request latency, and what the admin could not find afterwards (must be 0).
Exits 1 if anything a learner logged is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import stack  # noqa: E402
from course.accounts import AuthServer, class_stack  # noqa: E402

ADMIN = ("admin", "admin-" + secrets.token_urlsafe(12))
C_VALUES = (0.001, 0.01, 1.0)


def learner(uri: str, name: str, password: str, models: dict, figure: Path, data, report: Path) -> None:
    """One learner's lab04, as MLflow calls; writes each request's latency and what it made."""
    os.environ.update({"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_USERNAME": name,
                       "MLFLOW_TRACKING_PASSWORD": password})
    import mlflow
    import requests
    import sklearn

    latencies = []
    plain = requests.Session.request

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return plain(self, *args, **kwargs)
        finally:
            latencies.append(time.perf_counter() - started)

    requests.Session.request = timed
    X_train, X_val, X_test, y_train, y_val, y_test = data
    mlflow.set_experiment(f"{name}-lab04")
    scored = []
    for C in C_VALUES:
        model = models[C]
        with mlflow.start_run(run_name=f"logreg-C{C}") as run:
            mlflow.log_params({"C": C, "random_state": 42})
            mlflow.set_tag("purpose", "sweep")
            accuracy = float(model.score(X_val, y_val))
            mlflow.log_metric("val_accuracy", accuracy)
            mlflow.log_artifact(str(figure))
            info = mlflow.sklearn.log_model(model, name="model", input_example=X_train[:5],
                                            pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
        scored.append((accuracy, C, run.info.run_id, info.model_uri))
    accuracy, C, run_id, model_uri = max(scored)
    version = mlflow.register_model(model_uri, f"{name}-lab04-classifier")
    mlflow.MlflowClient().set_registered_model_alias(f"{name}-lab04-classifier", "champion", version.version)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("test_accuracy", float(models[C].score(X_test, y_test)))
    report.write_text(json.dumps({"latencies": latencies, "best_run": run_id,
                                  "runs": sorted(r for _, _, r, _ in scored)}))


def missing(uri: str, name: str, made: dict) -> list[str]:
    """What the admin cannot find of one learner's work."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"{name}-lab04")
    if experiment is None:
        return [f"{name}: no experiment"]
    lost = []
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    if sorted(runs) != made["runs"]:
        lost.append(f"{name}: runs {sorted(set(made['runs']) - set(runs))} missing")
    for run_id, run in runs.items():
        if run.info.status != "FINISHED" or "val_accuracy" not in run.data.metrics or "C" not in run.data.params:
            lost.append(f"{name}: run {run_id} incomplete")
        elif "confusion_matrix.png" not in [a.path for a in client.list_artifacts(run_id)]:
            lost.append(f"{name}: run {run_id} has no confusion matrix")
    champion = client.get_model_version_by_alias(f"{name}-lab04-classifier", "champion")
    if champion.run_id != made["best_run"] or "test_accuracy" not in runs.get(made["best_run"]).data.metrics:
        lost.append(f"{name}: champion or test_accuracy wrong")
    return lost


def server_cpu(pid: int) -> float:
    import psutil

    total = 0.0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def measure(work: Path, learners: int, workers: int | None) -> dict:
    import multiprocessing

    import matplotlib
    from sklearn.linear_model import LogisticRegression

    from course.labdata import lab04

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = lab04.split()
    models = {C: LogisticRegression(C=C, max_iter=500, random_state=42).fit(data[0], data[3]) for C in C_VALUES}
    figure = work / "confusion_matrix.png"
    plt.figure(figsize=(3, 3)).savefig(figure)
    with class_stack(work / "stack", *ADMIN, workers=workers) as running:
        uri = running.tracking_uri
        admin = AuthServer(uri, *ADMIN)
        names = {f"learner{i:02d}": f"pw-{secrets.token_urlsafe(12)}" for i in range(learners)}
        for name, password in names.items():
            admin.create(name, password)
        reports = {name: work / f"{name}.json" for name in names}
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=learner, args=(uri, name, password, models, figure, data, reports[name]))
                     for name, password in names.items()]
        cpu_before, started = server_cpu(running.server.service.pid), time.perf_counter()
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        seconds = time.perf_counter() - started
        cpu = server_cpu(running.server.service.pid) - cpu_before
        os.environ.update({"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]})
        lost, latencies = [], []
        for name in names:
            if not reports[name].exists():
                lost.append(f"{name}: the learner's process failed")
                continue
            made = json.loads(reports[name].read_text())
            latencies += made["latencies"]
            lost += missing(uri, name, made)
    latencies.sort()
    return {"seconds": seconds, "server_cpu": cpu, "lost": lost, "requests": len(latencies),
            "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
            "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2, help="the docs' choice to compare with MLflow's default (4)")
    args = parser.parse_args()
    problem = stack.postgres_missing() or (None if stack.weed_binary() else "the S3 store's binary 'weed' is missing")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    os.environ.update({"MLFLOW_LOGGING_LEVEL": "WARNING", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"})
    cores = os.cpu_count() or 1
    settings = {"default (4)": None, f"docs ({args.workers})": args.workers}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-class-load-") as tmp:
        for label, workers in settings.items():
            print(f"{args.learners} learners, server workers {label}...", flush=True)
            folder = Path(tmp) / label.split()[0]
            folder.mkdir()
            results[label] = measure(folder, args.learners, workers)
    print(f"{'workers':<14}{'seconds':>9}{'learners/min/core':>19}{'server CPU s':>14}{'requests':>10}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'lost':>6}")
    for label, r in results.items():
        per_core = args.learners / (r["seconds"] / 60) / cores
        print(f"{label:<14}{r['seconds']:>9.1f}{per_core:>19.1f}{r['server_cpu']:>14.1f}{r['requests']:>10}"
              f"{r['p50']:>8.0f}{r['p95']:>8.0f}{len(r['lost']):>6}")
    default, chosen = results.values()
    print(f"ratio default/docs wall: {default['seconds'] / chosen['seconds']:.2f}, "
          f"p95: {default['p95'] / chosen['p95']:.2f}")
    lost = [item for r in results.values() for item in r["lost"]]
    for item in lost[:10]:
        print("lost:", item, file=sys.stderr)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())

"""Recompute logged models' metrics: ``python -m grading.recompute URI DATASET MODEL_URI...``.

Loading a model runs code from its files, so this module runs only inside the sandbox
(see grading.sandbox and grading.execute_submission), never in the grader's process.
The command prints one JSON object, ``{model_uri: {"accuracy": ...} | {"error": ...}}``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile


def warm_up() -> None:
    """Import what loading and scoring a model needs, so that a later recompute is quick."""
    import mlflow.pyfunc  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import skops.io  # noqa: F401  (the sklearn flavor's default format)
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401


def logged_model_uris(tracking_uri: str, limit: int = 50) -> list[str]:
    """``models:/<id>`` for the newest logged models in every experiment of the store."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL, max_results=1000)]
    if not ids:
        return []
    models = client.search_logged_models(experiment_ids=ids, order_by=[{"field_name": "creation_time", "ascending": False}],
                                         max_results=limit)
    return [f"models:/{m.model_id}" for m in models]


def recompute_one(tracking_uri: str, data, uri: str) -> dict:
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # only in a sandboxed process
    import mlflow
    from sklearn.metrics import accuracy_score

    X_test, y_test = data
    mlflow.set_tracking_uri(tracking_uri)  # a models:/ URI is resolved through the default tracking URI
    try:
        # Loading from a local store writes beside the model; load a private copy instead,
        # so the store can stay read-only to this process.
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(), tracking_uri=tracking_uri)
        # suppress_warnings: skips comparing the model's requirements with this environment (1-2 s)
        model = mlflow.pyfunc.load_model(local, suppress_warnings=True)
        return {"accuracy": float(accuracy_score(y_test, model.predict(X_test)))}
    except Exception as exc:  # a learner's model may be anything; report, do not crash
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}


def main(argv: list[str]) -> int:
    tracking_uri, dataset, *model_uris = argv
    from grading.canonical import DATASETS

    data = DATASETS[dataset]()
    print(json.dumps({uri: recompute_one(tracking_uri, data, uri) for uri in model_uris}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Recompute logged models' metrics: ``python -m grading.recompute URI DATASET MODEL_URI...``.

Loading a model runs code from its files, so this module runs only in a separate,
isolated process (see grading.sandbox); it prints one JSON object and nothing else.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile


def main(argv: list[str]) -> int:
    tracking_uri, dataset, *model_uris = argv
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # only here, inside the isolated process
    import mlflow
    from sklearn.metrics import accuracy_score

    from grading.canonical import DATASETS

    mlflow.set_tracking_uri(tracking_uri)
    X_test, y_test = DATASETS[dataset]()
    results = {}
    for uri in model_uris:
        try:
            # Loading from a local store writes beside the model; load a private copy instead,
            # so the store can stay read-only to this process.
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp())
            model = mlflow.pyfunc.load_model(local)
            results[uri] = {"accuracy": float(accuracy_score(y_test, model.predict(X_test)))}
        except Exception as exc:  # a learner's model may be anything; report, do not crash
            results[uri] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

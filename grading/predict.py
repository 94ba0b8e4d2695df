"""Load learners' models and predict, inside the sandbox: ``python -I -m grading.predict [--pid-namespace] REQUESTS``,
where REQUESTS is a JSON list of [dataset, part, model folder].

``--pid-namespace``: this process runs in a PID namespace of its own, so after each model it
kills every other process in it. Loading a model runs code from its files, so this runs only
in a sandbox (grading.engine.recompute starts it). This process imports MLflow and scikit-learn before any learner's code exists,
then forks one child per request. Each child loads one model and sends its predictions back on a
pipe of its own; this process writes the one report line per request. So a model's code can
change only its own predictions, never the report, another model's result or the score, which
the grader computes outside from the predictions alone.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time

from grading.errors import first_line

PREDICTIONS_CAP = 16 * 1024 * 1024  # bytes of one model's predictions
MODEL_SECONDS = 60  # to load one model and predict


def warm_up() -> None:
    """Import what loading and scoring a model needs, so each child starts with it. Call it
    before anything imports MLflow: skops (the sklearn flavor's default format) finds the module
    of each of ~800 ufuncs by scanning every module loaded so far; after MLflow's (well over a
    thousand more) that scan costs 2-3 s of CPU more than before them."""
    import skops.io  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import mlflow.sklearn  # noqa: F401


def predict_in_child(folder: str, features, write_fd: int) -> None:
    """The child: load the model from a private copy (loading may write beside it), predict, send."""
    import numpy as np

    try:
        import mlflow.pyfunc

        local = shutil.copytree(folder, tempfile.mkdtemp() + "/model", symlinks=True)
        # suppress_warnings: skips comparing the model's requirements with this environment (1-2 s)
        model = mlflow.pyfunc.load_model(local, suppress_warnings=True)
        features = as_signature_declares(model, features)
        answer = {"predictions": np.asarray(model.predict(features)).ravel().tolist()}
        probabilities = positive_class_probabilities(model, features)
        if probabilities is not None:
            answer["probabilities"] = probabilities
    except BaseException as exc:  # a learner's model may be anything; report, do not crash
        answer = {"error": f"{type(exc).__name__}: {first_line(exc)}"}
    try:
        payload = json.dumps(answer, default=str).encode()
    except (TypeError, ValueError):
        payload = json.dumps({"error": "the predictions are not numbers or labels"}).encode()
    with os.fdopen(write_fd, "wb") as pipe:
        pipe.write(b"\n" + payload + b"\n")


def as_signature_declares(model, features):
    """The test features in the form the model's signature declares: a DataFrame of its named
    columns when it names columns (MLflow refuses a bare array then), an array for a tensor
    signature, and the lab's own form when there is no signature."""
    import numpy as np
    import pandas as pd

    schema = model.metadata.get_input_schema()
    if schema is None:
        return features
    if schema.is_tensor_spec() or not schema.has_input_names():
        return np.asarray(features)
    names = schema.input_names()
    if isinstance(features, pd.DataFrame):
        # by name, in the signature's order; a missing column is MLflow's to report
        return features[names] if set(names) <= set(features.columns) else features
    array = np.asarray(features)
    if array.ndim != 2 or array.shape[1] != len(names):
        return features  # let MLflow say what does not fit
    return pd.DataFrame(array, columns=names)


def positive_class_probabilities(model, features) -> list | None:
    """P(class 1) from a scikit-learn classifier with predict_proba, for ROC AUC; None otherwise."""
    try:
        raw = model.get_raw_model()
    except Exception:  # not every flavor has a raw model
        return None
    if not hasattr(raw, "predict_proba"):
        return None
    try:
        import numpy as np

        probabilities = np.asarray(raw.predict_proba(features))
        return probabilities[:, 1].tolist() if probabilities.ndim == 2 and probabilities.shape[1] == 2 else None
    except Exception:  # a score that needs them then says so
        return None


def run_one(folder: str, features, private_fd: int) -> dict:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        os.close(private_fd)  # the report is this process's alone
        try:
            predict_in_child(folder, features, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    received, deadline, over = bytearray(), time.monotonic() + MODEL_SECONDS, False
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                break
            chunk = pipe.read(65536)
            if not chunk:
                break
            received += chunk[:max(0, PREDICTIONS_CAP - len(received))]
            over = over or len(received) >= PREDICTIONS_CAP
    finished = time.monotonic() < deadline
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    if not finished:
        return {"error": f"loading the model and predicting took longer than {MODEL_SECONDS} s"}
    if over:
        return {"error": f"the predictions were larger than {PREDICTIONS_CAP // (1024 * 1024)} MB"}
    # The answer is the child's last line: what the model's own code wrote before it does not count.
    lines = bytes(received).strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if answer is None:
        return {"error": "loading the model ended the process"}
    return answer if isinstance(answer, dict) else {"error": "no predictions"}


def main(argv: list[str]) -> int:
    pid_namespace = argv[:1] == ["--pid-namespace"]
    (requests,) = argv[1:] if pid_namespace else argv
    report = os.fdopen(os.dup(1), "w", buffering=1)  # private: children never hold it
    os.dup2(2, 1)
    serve(json.loads(requests), report, pid_namespace)
    return 0


def serve(requests: list, report, pid_namespace: bool) -> None:
    """Predict for each [dataset, part, folder], one report line each. `report` is this
    process's own: the children that load models close it."""
    from grading.inside_sandbox import harden, reap, stop_everything_else

    harden()  # a child running a model's code cannot trace this process, and its children stay ours
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # only here, in the sandbox
    warm_up()
    from course import labdata

    features = {}
    for dataset, part, folder in requests:
        if (dataset, part) not in features:
            features[dataset, part] = labdata.load(dataset).part(part)[0]
        answer = run_one(folder, features[dataset, part], report.fileno())
        answer = {k: answer[k] for k in ("predictions", "probabilities", "error") if k in answer}  # nothing else
        report.write(json.dumps({**answer, "model": folder, "dataset": dataset, "part": part}) + "\n")
        stop_everything_else(pid_namespace)  # what one model's code left running cannot touch the next
        reap()
    report.flush()


if __name__ == "__main__":
    from course.quick_exit import run

    run(lambda: main(sys.argv[1:]))  # without the interpreter's teardown

# %% [markdown]
# # 09 · Signatures, tags, seeds and the model registry
#
# Five habits separate a run you can deploy from one you can only admire. Each has a classic
# failure, and this notebook makes each failure happen in front of you before fixing it:
#
# 1. **Log every parameter**, or runs cannot be compared or repeated.
# 2. **Set and log seeds**, or the same code gives different numbers.
# 3. **Give the model a signature**, or a wrongly shaped request reaches the model unchecked.
# 4. **Tag runs**, or you cannot find them again.
# 5. **Promote through the registry**, with an alias that serving code follows, choosing the
#    model on validation data and reporting its test score once.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "iris-registry"  # experiment that receives the runs
registered_model_name: str = "iris-registry-classifier"  # name in the model registry
seed: int = 42  # seeds the split and the models; logged as random_state
test_size: float = 0.2  # fraction held out to evaluate the champion, once
val_size: float = 0.25  # fraction of the rest held out to choose between candidates

# %%
import logging
import random
import warnings

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from course.learner import named
from course.tracking import use_experiment

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
registered_model_name = named(registered_model_name)
random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name, tracking_uri)
client = mlflow.MlflowClient()
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
# Every model below names its one requirement: inferring it would start a second Python per model.
requirements = [f"scikit-learn=={sklearn.__version__}"]

X, y = load_iris(return_X_y=True, as_frame=True)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=val_size, random_state=seed, stratify=y_rest)
print(f"{len(X_train)} training, {len(X_val)} validation and {len(X_test)} test flowers")

# %% [markdown]
# ## Seeds
#
# A random forest draws bootstrap samples and feature subsets. Without `random_state` it draws
# differently on every fit; numpy's global seed does not reach it reliably, because other code
# may draw from the global generator in between. Pass the seed to every estimator and split,
# and log it.

# %%
def forest_probabilities(random_state):
    model = RandomForestClassifier(n_estimators=20, max_features=1, random_state=random_state)
    return model.fit(X_train, y_train).predict_proba(X_test)


print("same seed, same model:          ", np.array_equal(forest_probabilities(seed), forest_probabilities(seed)))
print("another seed, another model:     ", not np.array_equal(forest_probabilities(seed), forest_probabilities(seed + 1)))

# %% [markdown]
# ## Signatures, and what they catch
#
# `infer_signature(inputs, outputs)` reads column names and types from real data. Logged with
# the model, the signature is enforced whenever the model is loaded with `mlflow.pyfunc`:
# requests with missing columns, or values that cannot be converted to the declared type, are
# rejected before they reach the model.

# The syllabus calls it as `mlflow.infer_signature(...)`. MLflow 3.17.2 has no such top-level
# name, so that line raises AttributeError; the function lives in `mlflow.models`, imported at
# the top of this notebook:

# %%
try:
    mlflow.infer_signature
except AttributeError as exc:
    print("AttributeError:", exc)
print("mlflow.models.infer_signature is", infer_signature.__module__ + "." + infer_signature.__name__)

# %%
model = LogisticRegression(C=1.0, max_iter=500, random_state=seed).fit(X_train, y_train)
signature = infer_signature(X_train, model.predict(X_train))
print(signature)

with mlflow.start_run(run_name="signature-demo") as run:
    mlflow.log_params({"C": 1.0, "random_state": seed})
    mlflow.set_tags({"purpose": "signature-demo", "team": "course"})
    demo = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=X_train.head(3),
                                    pip_requirements=requirements)

served = mlflow.pyfunc.load_model(demo.model_uri)
print("a well-formed request:", served.predict(X_test.head(3)).tolist())

# %%
wrong_type = X_test.head(3).astype({"sepal length (cm)": str})
wrong_type["sepal length (cm)"] = ["long", "short", "medium"]
requests = {
    "text in a numeric column": wrong_type,
    "whole numbers in a double column": X_test.head(3).round().astype({"sepal length (cm)": "int64"}),
    "a column missing": X_test.head(3).drop(columns="petal width (cm)"),
}
for label, request in requests.items():
    try:
        served.predict(request)
        print(f"{label}: accepted")
    except MlflowException as exc:
        # The message quotes the whole request and schema first; the reason comes last.
        print(f"{label}: rejected. {str(exc).rsplit('Error: ', 1)[-1]}")

# %% [markdown]
# Even whole numbers in a `double` column are refused: MLflow converts only where no value can
# change, and it does not count int64 to float64 as safe. Send floats, or declare the column as
# the type your callers really send. Without a signature the same requests reach scikit-learn
# itself. It refuses a DataFrame whose columns are in another order than in training, but an
# array has no column names, so columns in the wrong order are scored without an error (only a
# warning that the array has no feature names), and the predictions are wrong. The next cell
# shows both. `log_model` records a signature only when you give `signature=` or
# `input_example=`; with neither, it records none and says nothing.

# %%
reordered = X_test[X_test.columns[::-1]]
try:
    model.predict(reordered)
except ValueError as exc:
    print("scikit-learn, reordered DataFrame:", str(exc).splitlines()[0])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "X does not have valid feature names"
    wrong = model.predict(reordered.to_numpy())
print(f"scikit-learn, reordered array: no error, {(wrong != model.predict(X_test)).mean():.0%} of predictions change")

# %%
with mlflow.start_run(run_name="no-signature-demo"):
    mlflow.set_tags({"purpose": "signature-demo", "team": "course"})
    bare = mlflow.sklearn.log_model(model, name="model", pip_requirements=requirements)
print("signature when neither is given:", mlflow.models.get_model_info(bare.model_uri).signature)

# %% [markdown]
# ## Candidates for the registry, scored on validation data
#
# Two logistic regressions, one heavily regularised, are trained, logged with their parameters,
# seed, tags and a signature. Tags make them easy to find later.
#
# Each is scored on the **validation** rows, which exist to choose between models. The test
# rows are kept for the one model that wins, later. In MLflow 3 a metric can belong to a model
# as well as to its run: `log_metric(..., model_id=info.model_id, dataset=...)` records the
# value on the logged model, together with the dataset it was measured on.

# %%
validation = mlflow.data.from_pandas(X_val.assign(species=y_val), targets="species", name="iris-validation")
candidates = {}
for C in [0.01, 1.0]:
    candidate = LogisticRegression(C=C, max_iter=500, random_state=seed).fit(X_train, y_train)
    val_accuracy = accuracy_score(y_val, candidate.predict(X_val))
    with mlflow.start_run(run_name=f"logreg-C{C}") as run:
        mlflow.log_params({"C": C, "random_state": seed, "test_size": test_size, "val_size": val_size})
        mlflow.set_tags({"purpose": "registry-candidate", "team": "course"})
        info = mlflow.sklearn.log_model(candidate, name="model", input_example=X_train.head(3),
                                        pip_requirements=requirements)
        mlflow.log_metric("val_accuracy", val_accuracy, model_id=info.model_id, dataset=validation)
    candidates[C] = (run.info.run_id, info.model_uri, val_accuracy)
    print(f"C={C:<5} val_accuracy={val_accuracy:.4f}")

# %% [markdown]
# `mlflow.search_logged_models` searches the models themselves, and can order them by such a
# metric. A run of this notebook on a store that already holds earlier runs finds their models
# too, so the list is narrowed to the two just logged.

# %%
ranked = mlflow.search_logged_models(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.val_accuracy > 0",
    order_by=[{"field_name": "metrics.val_accuracy", "ascending": False}],
    output_format="list",
)
this_time = {run_id for run_id, _, _ in candidates.values()}
ranked = [m for m in ranked if m.source_run_id in this_time]
for logged in ranked:
    metric = next(m for m in logged.metrics if m.key == "val_accuracy")
    print(f"{mlflow.get_run(logged.source_run_id).info.run_name:<12} val_accuracy={metric.value:.4f} "
          f"on dataset {metric.dataset_name!r}")

# %% [markdown]
# ## The registry: versions and an alias
#
# Registering a logged model creates a numbered **version** under a name. An **alias** such as
# `champion` is a movable pointer to one version; serving code loads `models:/<name>@champion`
# and follows the alias when you move it. (Stages such as "Production" are deprecated in
# MLflow 3; aliases replace them.)
#
# The weaker model is registered first and made champion; then the better one is registered and
# the alias moves to the top of the ranking above.

# %%
weak, strong = candidates[0.01], candidates[1.0]
v1 = mlflow.register_model(weak[1], registered_model_name)
client.set_registered_model_alias(registered_model_name, "champion", v1.version)
v2 = mlflow.register_model(strong[1], registered_model_name)
best_version = next(v for v in (v1, v2) if v.source == f"models:/{ranked[0].model_id}")
client.set_registered_model_alias(registered_model_name, "champion", best_version.version)

print("versions:", [(v.version, v.run_id == weak[0] and "C=0.01" or "C=1.0")
                    for v in sorted(client.search_model_versions(f"name = '{registered_model_name}'"),
                                    key=lambda v: int(v.version))])
print("aliases: ", client.get_registered_model(registered_model_name).aliases)

# %% [markdown]
# `search_model_versions` returns versions with an empty `aliases` list in MLflow 3.17; ask
# `get_registered_model(name).aliases` or `get_model_version_by_alias(name, alias)` instead.
# Now load the champion the way a service would:

# %%
champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
version = client.get_model_version_by_alias(registered_model_name, "champion")
print("champion is version", version.version, "with val_accuracy",
      round(mlflow.get_run(version.run_id).data.metrics["val_accuracy"], 4))
print("it predicts:", champion.predict(X_test.head(5)).tolist())
print("its signature's inputs:", champion.metadata.get_input_schema().input_names())

# %% [markdown]
# ## Evaluate the champion, once, on the test rows
#
# `mlflow.models.evaluate` scores a model on a labelled dataset and logs what it finds into the
# active run: for a classifier, accuracy, precision, recall, F1, log loss and ROC AUC, plus a
# confusion matrix, ROC and precision-recall curves and a calibration plot as artifacts. It is
# run here once, for the champion only, in a run of its own. Given the logged model's own URI
# (`models:/m-...`, which is the version's `source`), it also records the metrics on the logged
# model, next to its `val_accuracy`, each with the dataset it was measured on. (It would also
# explain the model's predictions with SHAP plots if the `shap` package were installed; the
# course does not install it.)

# %%
# The evaluator guesses the task from the label values and warns that integer classes do not
# look like a classifier's; model_type says what they are, so its warning is noise here, as is
# the one that shap is missing.
for evaluator in ("classifier", "shap"):
    logging.getLogger(f"mlflow.models.evaluation.evaluators.{evaluator}").setLevel(logging.ERROR)
test_set = mlflow.data.from_pandas(X_test.assign(species=y_test), targets="species", name="iris-test")
with mlflow.start_run(run_name="champion-evaluation") as evaluation_run:
    mlflow.set_tags({"purpose": "evaluation", "team": "course"})
    evaluation = mlflow.models.evaluate(version.source, data=test_set, model_type="classifier")
print({name: round(value, 4) for name, value in evaluation.metrics.items()})
print("artifacts:", sorted(a.path for a in client.list_artifacts(evaluation_run.info.run_id)))
on_model = {}
for metric in mlflow.get_logged_model(version.source.removeprefix("models:/")).metrics:
    on_model.setdefault(metric.dataset_name, set()).add(metric.key)
print("metrics on the champion's logged model, by dataset:", {name: sorted(keys) for name, keys in on_model.items()})
plt.close("all")  # the evaluator leaves an empty figure open

# %% [markdown]
# ## Serve the champion over REST
#
# `mlflow models serve -m models:/<name>@champion --env-manager local` starts a scoring server
# for the model in the environment already active (the other managers first build one from the
# model's requirements). It answers `POST /invocations` with predictions, and it enforces the
# signature there too: this is where a type mismatch meets you at serving time. Below, the
# first request is accepted, and the second, with text where the signature declares a double,
# is refused with HTTP 400 before the model sees it. The server runs on a free port and is
# stopped by its process id; both statuses are logged, so the grader can confirm them.

# %%
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    serve_port = probe.getsockname()[1]
scoring = subprocess.Popen(
    [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{registered_model_name}@champion",
     "--env-manager", "local", "--host", "127.0.0.1", "--port", str(serve_port)],
    # It starts `uvicorn` by name: the environment's bin folder must be on PATH, as it is once the
    # environment is activated; a kernel started without activating it may lack it.
    env={**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
         "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
)
serve_url = f"http://127.0.0.1:{serve_port}"


def invoke(payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{serve_url}/invocations", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


try:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and scoring.poll() is None:
        try:
            with urllib.request.urlopen(f"{serve_url}/ping", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    if scoring.poll() is not None:
        raise RuntimeError(f"mlflow models serve exited with code {scoring.returncode}:\n{scoring.stderr.read()[-3000:]}")
    accepted = invoke({"dataframe_split": X_test.head(3).to_dict(orient="split")})
    wrong_type = X_test.head(1).astype(object)
    wrong_type.iloc[0, 0] = "wide"
    refused = invoke({"dataframe_split": wrong_type.to_dict(orient="split")})
finally:
    os.killpg(scoring.pid, signal.SIGTERM)
    scoring.wait(timeout=30)
print("accepted:", accepted[0], accepted[1])
print("refused: ", refused[0], refused[1]["error_code"], "|", refused[1]["message"].split(". ")[1])
print(f"scoring server PID {scoring.pid} stopped")

with mlflow.start_run(run_name="serving-check"):
    mlflow.log_metrics({"accepted_status": accepted[0], "refused_status": refused[0]})

# %% [markdown]
# ## Check yourself
#
# - Which two arguments of `log_model` give a model a signature, and what happens with neither?
# - What did the signature reject, and at which moment: logging, loading or predicting?
# - Why is a seed passed to each estimator rather than only to numpy?
# - Why are the candidates compared on validation rows, and the test rows used only once?
# - How does serving code pick up a new champion without being redeployed?
# - Where, exactly, is a request with the wrong type refused when the model is served over REST?
#
# Then let the grader confirm what this notebook logged.

# %%
from grading import check

check("09-signatures-registry")

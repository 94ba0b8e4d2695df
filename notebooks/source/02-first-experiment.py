# %% [markdown]
# # 02 · Your first experiment: iris and a random forest
#
# An **experiment** groups related **runs**; a run is one execution with its own parameters,
# metrics, artifacts and models. Here you train a random forest on the iris data set and record
# everything someone would need to trust, compare or repeat the result:
#
# - the **parameters**, including the seed (`random_state`), because a result you cannot
#   regenerate is an anecdote;
# - the **metrics**: accuracy, and macro-averaged precision and recall;
# - the **model**, with a **signature** (the input and output schema) and an **input example**,
#   and the Python packages it needs.
#
# You will also see where MLflow 3 keeps a logged model, which is not where MLflow 2 kept it.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "iris-classifier"  # experiment that receives the run
seed: int = 42  # seeds numpy, random, the split and the forest; logged as random_state
n_estimators: int = 100  # number of trees in the forest
max_depth: int = 5  # maximum depth of each tree
test_size: float = 0.2  # fraction of the data held out for evaluation

# %%
import random
import time
import warnings

import mlflow
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.model_selection import train_test_split

from course.learner import named
from course.tracking import use_experiment

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name, tracking_uri)

# %% [markdown]
# ## Train and evaluate
#
# `as_frame=True` keeps the feature names, which then become the column names of the model's
# signature. The split and the forest both take the seed explicitly: setting numpy's global seed
# alone does not reach scikit-learn estimators that are given no `random_state`.

# %%
X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed)

clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
clf.fit(X_train, y_train)
y_pred = clf.predict(X_test)

metrics = {
    "accuracy": accuracy_score(y_test, y_pred),
    "precision": precision_score(y_test, y_pred, average="macro"),
    "recall": recall_score(y_test, y_pred, average="macro"),
}
for name, value in metrics.items():
    print(f"{name:>9}: {value:.4f}")

# %% [markdown]
# ## Log the run
#
# Three things here differ from code written for MLflow 2:
#
# 1. **`name="model"`**, not a second positional argument. The positional form is the old
#    `artifact_path` and only earns a deprecation warning now.
# 2. **`input_example=`** makes MLflow infer and store the signature. Without an input example
#    or an explicit `signature=`, the model is logged with **no signature and no message**:
#    the syllabus's quiz is wrong to say a signature is recorded by default.
# 3. **`skops_trusted_types=`**. The scikit-learn flavor saves models with
#    [skops](https://skops.readthedocs.io/), a format that refuses to load types it has not
#    been told to trust, instead of pickle, which runs whatever code the file contains. Tree
#    ensembles contain `sklearn.tree._tree.Tree` objects, so logging a random forest fails with
#    "untrusted types" until you name that type. (A `LogisticRegression` needs nothing extra.)
#
# Iris predictions are integer class labels, and MLflow warns that integer columns cannot hold
# missing values. That is true and harmless here, so the cell silences only that hint.

# %%
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

with mlflow.start_run(run_name="rf-baseline") as run:
    mlflow.log_params({
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "random_state": seed,
        "test_size": test_size,
    })
    mlflow.log_metrics(metrics)
    mlflow.set_tag("purpose", "baseline")

    started = time.perf_counter()
    model_info = mlflow.sklearn.log_model(
        clf,
        name="model",
        input_example=X_train.head(5),
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    log_model_seconds = time.perf_counter() - started

print("Logged run:", run.info.run_name)
print("Signature inputs: ", model_info.signature.inputs.input_names())
print("Signature outputs:", model_info.signature.outputs.to_dict())

# %% [markdown]
# ## What the dependencies cost
#
# Because no `pip_requirements=` was given, `log_model` **inferred** the model's requirements:
# it started a separate Python process that loads the model and records which packages get
# imported. That takes several seconds each time (often 4–10 s on a small machine), against a
# fraction of a second when you pass the list yourself. One model does not care; a sweep of
# dozens does. Section 04 infers once and reuses the result.
#
# The time below depends on the machine, so the course's tests do not compare it.

# %%
# NBVAL_IGNORE_OUTPUT
# (wall-clock time varies from machine to machine)
print(f"log_model with requirement inference took {log_model_seconds:.1f} s")

# %% [markdown]
# The inferred requirements are stored with the model, ready for whoever deploys it. Read them
# before you trust them: inference records every package imported while the model loads, so
# tools that merely happened to be installed can end up in the list too.

# %%
requirements = mlflow.artifacts.load_text(f"{model_info.artifact_path}/requirements.txt")
print(requirements)

# %% [markdown]
# ## Where the model lives in MLflow 3
#
# In MLflow 2 a model was a folder among the run's artifacts. MLflow 3 makes each logged model
# a first-class **LoggedModel** with its own id (`m-...`) and URI (`models:/m-...`). Its files
# sit under the experiment's `models/` folder, so the run's own artifact list is empty. The run
# records the link in `run.outputs.model_outputs`, and `mlflow.search_logged_models` finds
# models by the run that produced them. The old `runs:/<run_id>/model` URI still resolves.

# %%
client = mlflow.MlflowClient()
finished = client.get_run(run.info.run_id)

print("Model URI:             ", model_info.model_uri)
print("Run artifacts:         ", client.list_artifacts(run.info.run_id))
print("Run's model outputs:   ", [o.model_id for o in finished.outputs.model_outputs])

found = mlflow.search_logged_models(
    experiment_ids=[experiment.experiment_id],
    filter_string=f"source_run_id = '{run.info.run_id}'",
    output_format="list",
)
print("search_logged_models:  ", [(m.model_id, m.name) for m in found])
print("Model files:           ", sorted(f.path for f in mlflow.artifacts.list_artifacts(model_info.model_uri)))

# %% [markdown]
# ## Load it back, knowing what that means
#
# Loading a model runs code from its files: a pickle can run anything, and skops reads the list
# of types it may rebuild from the model's own files, so whoever wrote the model chose it.
#
# MLflow 3.17 loads models with nothing set: the environment variable
# `MLFLOW_ALLOW_PICKLE_DESERIALIZATION` defaults to `true`. It is a switch for **refusing**: a
# process that may be handed a model it does not trust (a grader, a shared scoring service) sets
# it to `false`, and MLflow then raises instead of deserializing any scikit-learn model, skops
# included. The cell loads the model, then shows the refusal.

# %%
import os

print("MLFLOW_ALLOW_PICKLE_DESERIALIZATION:", os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "not set"))
loaded = mlflow.pyfunc.load_model(model_info.model_uri)
reloaded_pred = loaded.predict(X_test)
print("Reloaded model agrees with the trained one:", bool((reloaded_pred == y_pred).all()))

os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
try:
    mlflow.pyfunc.load_model(model_info.model_uri)
except mlflow.exceptions.MlflowException as refused:
    print("With the switch at false:", str(refused).split(" Loading a model")[0])
finally:
    del os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"]

# %% [markdown]
# ## Autologging: what MLflow records by itself
#
# `mlflow.sklearn.autolog()` makes every `fit` inside a run log the estimator's parameters (all
# of them, defaults included), metrics computed **on the training data**, and the fitted model
# with a signature. The cell trains the same forest with autologging on, in an experiment of its
# own (`iris-classifier-autolog`) so that the baseline's table stays as it was, and compares.
# Notice:
#
# - the training metrics say how well the forest fits the rows it learned from, not how well it
#   predicts new ones: the test accuracy is still yours to compute and log, inside the run;
# - autolog saves the model with cloudpickle, not skops (see `serialization_format`), so
#   loading it can run any code the file holds;
# - autologging stays on for every later `fit` until you switch it off.

# %%
# Autolog's training log loss passes an argument under the name scikit-learn 1.9 deprecated.
warnings.filterwarnings("ignore", message="`y_pred` was renamed to `y_proba`")
autolog_experiment = use_experiment(f"{experiment_name}-autolog", tracking_uri)
mlflow.sklearn.autolog(log_input_examples=True, silent=True)
with mlflow.start_run(run_name="rf-autolog") as auto_run:
    auto_clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
    auto_clf.fit(X_train, y_train)
    mlflow.log_metric("test_accuracy", accuracy_score(y_test, auto_clf.predict(X_test)))
mlflow.sklearn.autolog(disable=True)
mlflow.set_experiment(experiment_id=experiment.experiment_id)  # back to iris-classifier

auto = mlflow.get_run(auto_run.info.run_id)
print(f"params: {len(mlflow.get_run(run.info.run_id).data.params)} logged by hand, {len(auto.data.params)} by autolog")
print("autolog's metrics:", {k: round(v, 4) for k, v in sorted(auto.data.metrics.items())})
auto_model = mlflow.search_logged_models(experiment_ids=[autolog_experiment.experiment_id], output_format="list",
                                         filter_string=f"source_run_id = '{auto_run.info.run_id}'")[0]
auto_info = mlflow.models.get_model_info(f"models:/{auto_model.model_id}")
print("its model's signature inputs:", auto_info.signature.inputs.input_names())
print("saved as:", auto_info.flavors["sklearn"]["serialization_format"])

# %% [markdown]
# ## See it in the UI
#
# Serve this store with `make ui` and open the experiment `iris-classifier`. MLflow 3.17's UI
# opens an experiment on its GenAI overview, which lists no runs: click **Model training** at
# the top, or open the runs table directly with the link below (the link `use_experiment` prints
# when you log to a server has the same form).
#
# The runs table shows only the run's name, time, duration, source and model at first: open
# **Columns** and tick **Metrics** and **Parameters** to see `accuracy`, `n_estimators`,
# `random_state` and the rest. Click the run's name for its details, and the model's name for its
# files and signature.

# %%
from course.tracking import UI_LINK

print("The runs table:", UI_LINK.format(base="<the address make ui prints>", experiment_id=experiment.experiment_id))

# %% [markdown]
# ## Check yourself
#
# - Which parameter makes this run repeatable, and where did you log it?
# - What happens to the signature if you drop `input_example=`?
# - Why does a random forest need `skops_trusted_types`, and a logistic regression not?
# - Where are the model's files: in the run's artifacts, or somewhere else? What does
#   `run.outputs.model_outputs` tell you?
# - Loading a model runs code from its files: when should a process refuse to, and how?
# - What does autologging record that you did not, and what must you still log yourself?
#
# Then let the grader confirm what this notebook logged. It reads the tracking store, in a
# separate process, and lists each check with its points and, for a failure, what to do.

# %%
from grading import check

check("02-first-experiment")

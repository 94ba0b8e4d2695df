# %% [markdown]
# # Lab 04 · Track, compare and register a classifier
#
# You will train a logistic regression for three values of the regularisation strength `C`,
# track each run properly, and register the best model so that others can load it by a stable
# name. This is the module's mini-lab with its common mistakes fixed: every run logs its seed,
# a tag, a plot and a model **with a signature**, and the winner goes to the model registry.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line),
# run it, then run the self-check below it. The self-checks ask the grader what the tracking
# server holds, so they pass only when the runs really are there.
#
# The tracking URI comes from the `MLFLOW_TRACKING_URI` environment variable (`make lab` sets
# it); the notebook never hard-codes a server address.

# %% tags=["parameters"]
experiment_name: str = "lab04"  # experiment that receives the runs
C_values: list = [0.1, 1.0, 10.0]  # inverse regularisation strengths to try, one run each
random_state: int = 42  # seed for the model and numpy; logged (the data and split are fixed in course/labdata)
registered_model_name: str = "lab04-classifier"  # registry name for the best model

# %%
import random
import warnings

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score

from course.labdata import lab04 as lab_data
from course.tracking import use_experiment
from grading import check

random.seed(random_state)
np.random.seed(random_state)
experiment = use_experiment(experiment_name)
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

# The data is defined once, in course/labdata/lab04.py; the grader recomputes your accuracy on
# the same test split. Its seed is fixed there, so every learner gets the same rows.
X_train, X_test, y_train, y_test = lab_data.split()
print(f"{X_train.shape[0]} training rows, {X_test.shape[0]} test rows, {X_train.shape[1]} features")

# %% [markdown]
# ## Part 1: one run per `C`
#
# For each value in `C_values`, start a **top-level** run (not nested) and inside it:
#
# 1. train `LogisticRegression(C=C, random_state=random_state)` on the training split;
# 2. log the parameters `C` and `random_state`;
# 3. log the metric `accuracy`, the accuracy on the **test** split;
# 4. set the tag `purpose` (for example `"lab04-sweep"`);
# 5. log a confusion matrix of the test predictions as `confusion_matrix.png` with `mlflow.log_figure`;
# 6. log the model with `mlflow.sklearn.log_model(model, name="model", input_example=...)`, so
#    that it carries a signature. Pass `pip_requirements=[f"scikit-learn=={sklearn.__version__}"]`:
#    it skips the slow requirement inference and pins the version the model was trained with,
#    so whoever loads it can recreate the environment.
#
# About `random_state`: the default solver (`lbfgs`) is deterministic and does not use it, but
# `saga` and `liblinear` do. Pass and log it anyway, so a change of solver stays reproducible.
#
# Keep what part 2 needs in `results`, a list of `(run_id, accuracy, model_uri)` triples, where
# `model_uri` is the `model_uri` of the `ModelInfo` that `log_model` returns (`models:/m-...`).

# %%
results = []
### BEGIN SOLUTION
for C in C_values:
    with mlflow.start_run(run_name=f"logreg-C{C}") as run:
        model = LogisticRegression(C=C, random_state=random_state).fit(X_train, y_train)
        predictions = model.predict(X_test)
        accuracy = accuracy_score(y_test, predictions)
        mlflow.log_params({"C": C, "random_state": random_state})
        mlflow.log_metric("accuracy", accuracy)
        mlflow.set_tag("purpose", "lab04-sweep")
        fig, ax = plt.subplots(figsize=(4, 4))
        ConfusionMatrixDisplay.from_predictions(y_test, predictions, ax=ax, colorbar=False)
        mlflow.log_figure(fig, "confusion_matrix.png")
        plt.close(fig)
        info = mlflow.sklearn.log_model(model, name="model", input_example=X_train[:5],
                                        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    results.append((run.info.run_id, accuracy, info.model_uri))
### END SOLUTION
for run_id, accuracy, _ in results:
    print(f"{mlflow.get_run(run_id).data.params['C']:>5}  accuracy={accuracy:.4f}")

# %%
check("lab04", only=["experiment", "runs", "params", "metric", "tag", "artifact", "model", "signature"])

# %% [markdown]
# ## Part 2: register the best model
#
# Pick the entry of `results` with the highest accuracy. Register its model by its
# `models:/m-...` URI as `registered_model_name` with `mlflow.register_model`, then point the
# alias `champion` at the new version with `mlflow.MlflowClient().set_registered_model_alias(...)`.
# Store the new version in `version`.
#
# (In MLflow 3 a logged model is not a folder among the run's artifacts, so the old
# `runs:/<run_id>/model` form only works through a fallback that prints a warning.)

# %%
### BEGIN SOLUTION
best_run_id, best_accuracy, best_model_uri = max(results, key=lambda entry: entry[1])
version = mlflow.register_model(best_model_uri, registered_model_name)
mlflow.MlflowClient().set_registered_model_alias(registered_model_name, "champion", version.version)
### END SOLUTION
print(f"{registered_model_name} version {version.version} is now 'champion'")

# %%
check("lab04", only=["registry"])

# %% [markdown]
# ## Part 3: load the champion by name
#
# Anyone can now load the model as `models:/lab04-classifier@champion` without knowing which run
# produced it. (Loading runs code from the model's files; MLflow allows it unless
# `MLFLOW_ALLOW_PICKLE_DESERIALIZATION` is `false`, which is how a process refuses models it does
# not trust. Section 02 shows both.)

# %%
champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
print("champion accuracy:", round(accuracy_score(y_test, champion.predict(X_test)), 4))

# %% [markdown]
# ## Check everything
#
# The full self-check also recomputes each logged model's accuracy on the test split (in a
# separate process, since loading a model runs its code) and compares it with the metric you
# logged.

# %%
check("lab04")

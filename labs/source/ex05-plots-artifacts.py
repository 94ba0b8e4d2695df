# %% [markdown]
# # Exercises 05 · Files and curves in a run
#
# Section 05 logged figures, dicts, tables, files and a metric's history. Here you give one
# run a full report: a plot and the settings it was trained with, its predictions as a table and
# a CSV summary your own code writes, and a learning curve.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it).

# %% tags=["parameters"]
experiment_name: str = "ex05-plots-artifacts"  # experiment that receives the run
seed: int = 42  # seeds the split and the forest; logged as random_state

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from course.learner import named
from course.tracking import use_experiment
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name)

# %% [markdown]
# ## The run to report on
#
# A random forest on the wine data, in a run tagged `exercise=artifacts`. Run this cell as it
# is. In every exercise below, reopen the same run with `with mlflow.start_run(run_id=run_id):`
# and log inside that block. (If a cell raises inside the block, MLflow marks the run FAILED and
# the self-check no longer counts it; running the fixed cell marks it FINISHED again.)

# %%
X, y = load_wine(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
settings = {"n_estimators": 100, "max_depth": 4, "random_state": seed}
forest = RandomForestClassifier(**settings).fit(X_train, y_train)
with mlflow.start_run(run_name="wine-report", tags={"exercise": "artifacts"}) as run:
    mlflow.log_params(settings)
run_id = run.info.run_id
print("run", run_id)

# %% [markdown]
# ## Exercise 1: a plot and the settings
#
# In the run, log:
#
# 1. a bar chart of `forest.feature_importances_` against `X.columns` as `importances.png`,
#    with `mlflow.log_figure`;
# 2. the dict `settings` as `settings.json`, with `mlflow.log_dict`.

# %%
### BEGIN SOLUTION
with mlflow.start_run(run_id=run_id):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh(X.columns, forest.feature_importances_)
    ax.set_xlabel("importance")
    fig.tight_layout()
    mlflow.log_figure(fig, "importances.png")
    plt.close(fig)
    mlflow.log_dict(settings, "settings.json")
### END SOLUTION

# %%
check("ex05-plots-artifacts", only=["plot-and-settings"])

# %% [markdown]
# ## Exercise 2: a table and a file of your own
#
# 1. Log the test predictions as a table `predictions.json` with `mlflow.log_table`: one row
#    per test wine, with the columns `true` and `predicted`.
# 2. Write a CSV of the per-class counts of `predicted` to a file in a temporary folder, and
#    log that file into the run's folder `reports` with `mlflow.log_artifact(path,
#    artifact_path="reports")`. Name it `summary.csv`.

# %%
### BEGIN SOLUTION
with mlflow.start_run(run_id=run_id):
    predictions = pd.DataFrame({"true": y_test.to_numpy(), "predicted": forest.predict(X_test)})
    mlflow.log_table(predictions, artifact_file="predictions.json")
    with tempfile.TemporaryDirectory() as folder:
        summary = Path(folder) / "summary.csv"
        predictions["predicted"].value_counts().sort_index().rename("count").to_csv(summary)
        mlflow.log_artifact(str(summary), artifact_path="reports")
### END SOLUTION

# %%
check("ex05-plots-artifacts", only=["table-and-file"])

# %% [markdown]
# ## Exercise 3: a learning curve
#
# Grow a second forest one stage at a time: with `warm_start=True`, setting `n_estimators` and
# calling `fit` again adds trees to the ones already grown. For 10, 20, ..., 100 trees, log the
# test `log_loss` (from `predict_proba`) as the metric `test_log_loss` with `step=` the number
# of trees, so the run's history holds the whole curve.

# %%
grower = RandomForestClassifier(warm_start=True, max_depth=4, random_state=seed)
### BEGIN SOLUTION
with mlflow.start_run(run_id=run_id):
    for trees in range(10, 101, 10):
        grower.set_params(n_estimators=trees).fit(X_train, y_train)
        mlflow.log_metric("test_log_loss", log_loss(y_test, grower.predict_proba(X_test)), step=trees)
### END SOLUTION
history = mlflow.MlflowClient().get_metric_history(run_id, "test_log_loss")
print([(m.step, round(m.value, 3)) for m in history])

# %%
check("ex05-plots-artifacts", only=["curve"])

# %% [markdown]
# ## Check everything

# %%
check("ex05-plots-artifacts")

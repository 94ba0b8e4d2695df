# %% [markdown]
# # Exercises 04 · A sweep as one parent and its children
#
# Section 04 ran a grid of forests as child runs under one parent, scored each configuration by
# cross-validation on the training rows, tagged the best child and tested only the winner. Here
# you do the same for a small grid of decision trees on the breast cancer data.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it).

# %% tags=["parameters"]
experiment_name: str = "ex04-sweep-compare"  # experiment that receives the parent run and its children
seed: int = 42  # seeds the split, the folds and every tree; logged as random_state

# %%
import itertools

import mlflow
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.tree import DecisionTreeClassifier

from course.learner import named
from course.tracking import use_experiment
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name)

# %% [markdown]
# ## The data and the grid
#
# 569 tumours, 30 measurements each, labelled malignant or benign. A quarter of the rows is held
# out as the test set; the rest is cut into five folds, the same five for every configuration.
# The grid has two settings of `DecisionTreeClassifier`: `max_depth` (how deep the tree may grow)
# and `min_samples_leaf` (how many training rows each leaf must hold). Run this cell as it is.

# %%
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
grid = list(itertools.product([4, 12], [1, 8]))  # (max_depth, min_samples_leaf) pairs
print(f"{len(X_train)} training rows in 5 folds, {len(X_test)} test rows; grid: {grid}")

# %% [markdown]
# ## Exercise 1: the grid as child runs
#
# Start one parent run named `grid`. Inside it, for each `(max_depth, min_samples_leaf)` in
# `grid`, start a child run with `mlflow.start_run(nested=True)` (name it as you like) and in it:
#
# 1. build `DecisionTreeClassifier(max_depth=..., min_samples_leaf=..., random_state=seed)`;
# 2. score it with `cross_val_score(tree, X_train, y_train, cv=folds)` and take the mean;
# 3. log the params `max_depth`, `min_samples_leaf` and `random_state`, and the mean as the
#    metric `cv_accuracy`.
#
# Do not touch `X_test` here. Keep the parent's run id in `parent_id`, and append one dict per
# child to `results`: `{"run_id": ..., "max_depth": ..., "min_samples_leaf": ..., "cv_accuracy": ...}`.

# %%
results = []
### BEGIN SOLUTION
with mlflow.start_run(run_name="grid") as parent:
    for max_depth, min_samples_leaf in grid:
        with mlflow.start_run(run_name=f"tree-d{max_depth}-l{min_samples_leaf}", nested=True) as child:
            tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=seed)
            cv_accuracy = cross_val_score(tree, X_train, y_train, cv=folds).mean()
            mlflow.log_params({"max_depth": max_depth, "min_samples_leaf": min_samples_leaf, "random_state": seed})
            mlflow.log_metric("cv_accuracy", cv_accuracy)
        results.append({"run_id": child.info.run_id, "max_depth": max_depth,
                        "min_samples_leaf": min_samples_leaf, "cv_accuracy": cv_accuracy})
parent_id = parent.info.run_id
### END SOLUTION
results = pd.DataFrame(results)
print(results.drop(columns="run_id").round(4).to_string(index=False))

# %%
check("ex04-sweep-compare", only=["nested", "child-params", "child-metrics"])

# %% [markdown]
# ## Exercise 2: tag the winner, then test it once
#
# Choose the winner by this rule: the highest `cv_accuracy`; among equal scores, the smaller
# `max_depth`; if still tied, the larger `min_samples_leaf` (a smaller tree is cheaper and less
# likely to overfit). Two configurations do tie at the top here, so the tie-break matters.
# Compare the settings as numbers: if you read them back from MLflow, cast them first, since
# params are stored as strings and `"12" < "4"`.
#
# Then:
#
# 1. tag the winning child `best_in_sweep=true`, with
#    `mlflow.MlflowClient().set_tag(run_id, "best_in_sweep", "true")`, and the other children
#    `best_in_sweep=false`, so that running the cell again after a fix leaves one winner;
# 2. fit a fresh `DecisionTreeClassifier` with the winner's settings and `random_state=seed`
#    on all of `X_train`, score it on `X_test` and `y_test`, and log that accuracy as the metric
#    `test_accuracy` on the parent run (reopen it with `mlflow.start_run(run_id=parent_id)`).
#
# That is the only time the test rows are used, so no child run logs `test_accuracy`.

# %%
### BEGIN SOLUTION
ranked = results.sort_values(["cv_accuracy", "max_depth", "min_samples_leaf"], ascending=[False, True, False])
best = ranked.iloc[0]
client = mlflow.MlflowClient()
for run_id in results["run_id"]:
    client.set_tag(run_id, "best_in_sweep", "true" if run_id == best["run_id"] else "false")
winner = DecisionTreeClassifier(max_depth=int(best["max_depth"]), min_samples_leaf=int(best["min_samples_leaf"]),
                                random_state=seed).fit(X_train, y_train)
test_accuracy = accuracy_score(y_test, winner.predict(X_test))
with mlflow.start_run(run_id=parent_id):
    mlflow.log_metric("test_accuracy", test_accuracy)
### END SOLUTION
print(f"winner: max_depth={best['max_depth']}, min_samples_leaf={best['min_samples_leaf']}, "
      f"cv_accuracy={best['cv_accuracy']:.4f}; test_accuracy={test_accuracy:.4f}")

# %%
check("ex04-sweep-compare", only=["best-tag", "test-score", "test-once"])

# %% [markdown]
# ## Check everything

# %%
check("ex04-sweep-compare")

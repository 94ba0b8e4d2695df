# %% [markdown]
# # Exercises 03 · Find runs with a search
#
# Section 03 showed `mlflow.search_runs` with a filter, an ordering and a limit. Here you answer
# two questions about a set of runs by searching, and you record each answer in MLflow as a tag,
# so the grader can see which runs your search found.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it).

# %% tags=["parameters"]
experiment_name: str = "ex03-query-runs"  # experiment that receives the runs to search
seed: int = 42  # seeds the split and the trees; logged as random_state

# %%
import mlflow
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from course.learner import named
from course.tracking import use_experiment
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name)

# %% [markdown]
# ## The runs to search
#
# Ten models of two families, decision trees and k-nearest neighbours, each in a run with its
# family as the parameter `model_type`. Run this cell as it is.

# %%
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
models = [("tree", {"max_depth": d}, DecisionTreeClassifier(max_depth=d, random_state=seed)) for d in (1, 2, 3, 4, 6)]
models += [("knn", {"n_neighbors": k}, KNeighborsClassifier(n_neighbors=k)) for k in (1, 3, 5, 15, 45)]
for family, params, model in models:
    with mlflow.start_run(run_name=f"{family}-" + "-".join(f"{k}{v}" for k, v in params.items())):
        predictions = model.fit(X_train, y_train).predict(X_test)
        mlflow.log_params({"model_type": family, "random_state": seed, **params})
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, predictions), "f1": f1_score(y_test, predictions)})
print(f"{len(models)} runs logged in {experiment_name}")

# %% [markdown]
# ## Exercise 1: the best k-NN run
#
# Find the k-NN run (`model_type` is `knn`) with the highest `accuracy`. Several share it; among
# those, take the one with the **most** neighbours, since a larger `n_neighbors` gives a
# smoother model. Tag that run `answer=best-knn` with `mlflow.MlflowClient().set_tag(run_id,
# "answer", "best-knn")`, and store its run id in `best_knn`.
#
# Hint: sort `n_neighbors` as a number. MLflow stores every parameter as a string, and between
# strings `"5"` comes after `"15"`.

# %%
### BEGIN SOLUTION
knn = mlflow.search_runs(experiment_names=[experiment_name], filter_string="params.model_type = 'knn'")
top = knn[knn["metrics.accuracy"] == knn["metrics.accuracy"].max()]
best_knn = top.loc[top["params.n_neighbors"].astype(int).idxmax(), "run_id"]
mlflow.MlflowClient().set_tag(best_knn, "answer", "best-knn")
### END SOLUTION
print("best k-NN run:", mlflow.get_run(best_knn).info.run_name)

# %%
check("ex03-query-runs", only=["best-knn"])

# %% [markdown]
# ## Exercise 2: the runs to review
#
# Every run, of either family, whose `f1` is below 0.935 needs a second look. Find all of them
# with one `filter_string`, and tag each `review=needed`. Keep their run names in `to_review`.

# %%
### BEGIN SOLUTION
below = mlflow.search_runs(experiment_names=[experiment_name], filter_string="metrics.f1 < 0.935")
for run_id in below["run_id"]:
    mlflow.MlflowClient().set_tag(run_id, "review", "needed")
to_review = sorted(below["tags.mlflow.runName"])
### END SOLUTION
print("to review:", to_review)

# %%
check("ex03-query-runs", only=["review-all", "review-only"])

# %% [markdown]
# ## Check everything

# %%
check("ex03-query-runs")

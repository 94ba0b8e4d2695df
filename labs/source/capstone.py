# %% [markdown]
# # Capstone · Integrate MLflow into the churn predictor
#
# The churn predictor so far is a script that trains a model and prints a number. In this lab
# you make it a tracked, reproducible project, using everything from the module:
#
# 1. the churn table is versioned with DVC and git (section 08), and each run records **which
#    data and which commit** it trained on;
# 2. each candidate model is a scikit-learn **pipeline**, tracked with its parameters, its seed,
#    its F1 score and its ROC AUC on a validation split (sections 02-05);
# 3. each model is logged with a **signature that names the table's columns** (section 09);
# 4. the best one on validation is registered as `churn-predictor` and gets the alias
#    `champion`, so the service that scores customers loads it by name (section 09); only the
#    champion is scored on the test split, once.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line),
# run it, then run the self-check below it. The grader also loads each model you log, in a
# sandbox, and recomputes its ROC AUC: the metrics you log must be the truth.
#
# The tracking URI comes from `MLFLOW_TRACKING_URI` (`make lab` sets it).

# %% tags=["parameters"]
experiment_name: str = "capstone-churn"  # experiment that receives the runs
registered_model_name: str = "churn-predictor"  # registry name for the champion
seed: int = 42  # seeds the models; logged as random_state (the split's seed is fixed in course/labdata)

# %%
import os
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from course import churn
from course.labdata import capstone as lab_data
from course.learner import named
from course.tracking import use_experiment, workspace_dir
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
registered_model_name = named(registered_model_name)
random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name)
warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

# %% [markdown]
# ## The project: data under DVC and git
#
# This cell is given. It makes the project's workspace beside the tracking store, puts the
# seeded churn table under DVC, and commits the pointer file, as in section 08. Commits get a
# fixed author and date, so the commit id is the same on every machine.

# %%
workspace = workspace_dir("capstone-churn", mlflow.get_tracking_uri())
shutil.rmtree(workspace, ignore_errors=True)
workspace.mkdir(parents=True)
tool_env = {
    **os.environ, "DVC_NO_ANALYTICS": "1",
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "GIT_AUTHOR_NAME": "Course Learner", "GIT_AUTHOR_EMAIL": "learner@example.org",
    "GIT_COMMITTER_NAME": "Course Learner", "GIT_COMMITTER_EMAIL": "learner@example.org",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}


def sh(*command: str) -> str:
    """Run git or dvc in the workspace; stop with its message if it fails."""
    done = subprocess.run(command, cwd=workspace, env=tool_env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


sh("git", "init", "-q", "-b", "main")
sh("dvc", "init", "-q")
data_file = churn.write_churn(workspace / "data" / "churn.csv", n_rows=lab_data.ROWS, seed=lab_data.DATA_SEED)
sh("dvc", "add", "data/churn.csv")
sh("git", "add", ".")
sh("git", "commit", "-q", "-m", "Churn table, version 1, under DVC")
print(sh("git", "log", "--oneline"))
print((workspace / "data" / "churn.csv.dvc").read_text())

# %% [markdown]
# ## Part 1: the lineage of a run
#
# Write `lineage()`, returning a dict with two entries:
#
# - `data_version`: the `md5` of the first entry of `outs` in `data/churn.csv.dvc` (read the
#   YAML with `yaml.safe_load`);
# - `git_commit`: the workspace's current commit, from `sh("git", "rev-parse", "HEAD")`.
#
# Every run will carry both as tags, so anyone can find the exact data and code it used.

# %%
def lineage() -> dict:
    ### BEGIN SOLUTION
    pointer = yaml.safe_load((workspace / "data" / "churn.csv.dvc").read_text())
    return {"data_version": pointer["outs"][0]["md5"], "git_commit": sh("git", "rev-parse", "HEAD")}
    ### END SOLUTION


print(lineage())

# %% [markdown]
# ## Part 2: one tracked run per candidate
#
# The data comes from the DVC-tracked file; `lab_data.split(frame)` splits it exactly as the
# grader does. The two candidates are pipelines (the scaler is part of the model, so whoever
# loads it does not need to know about it).
#
# For each entry of `candidates`, start a **top-level** run named after it and inside it:
#
# 1. fit the pipeline on the training split;
# 2. log the params `model` (the candidate's name) and `random_state` (`seed`);
# 3. set the tags `data_version` and `git_commit` from `lineage()`;
# 4. log the table as a dataset input named `churn` whose digest is the data version:
#    `mlflow.log_input(mlflow.data.from_pandas(frame, source=str(data_file), name="churn",
#    digest=..., targets="churn"), context="training")`;
# 5. log the metrics `val_f1` (from `predict`) and `val_roc_auc` (from the positive class's
#    column of `predict_proba`) on the **validation** split: these choose the champion, so the
#    test rows stay unseen until part 3;
# 6. log the pipeline with `mlflow.sklearn.log_model(pipeline, name="model",
#    input_example=X_train.head(5), pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
#    skops_trusted_types=trusted_types[name])`. The pinned requirement records the version the
#    model was trained with. A DataFrame example gives a signature that names the columns: MLflow
#    puts a caller's columns back in the trained order, and refuses a table that lacks one.
#
# About `skops_trusted_types`: MLflow saves scikit-learn models in the skops format, and right
# after saving it loads the file back, allowing only the types skops trusts by default. A
# forest's trees (`sklearn.tree._tree.Tree`) are not among them, so `log_model` refuses the
# forest unless you name that type. The list is stored with the model and used when it loads.
#
# Keep what part 3 needs in `results`, a list of `(run_id, val_roc_auc, model_uri)` triples.

# %%
frame = pd.read_csv(data_file)
X_train, X_val, X_test, y_train, y_val, y_test = lab_data.split(frame)
candidates = {
    "logreg": Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(random_state=seed))]),
    "forest": Pipeline([("classify", RandomForestClassifier(n_estimators=100, max_depth=6, random_state=seed))]),
}
trusted_types = {"logreg": None, "forest": ["sklearn.tree._tree.Tree"]}
print(f"{len(X_train)} training, {len(X_val)} validation and {len(X_test)} test rows; "
      f"churn rate {y_train.mean():.3f} in training")

results = []
### BEGIN SOLUTION
for name, pipeline in candidates.items():
    with mlflow.start_run(run_name=name) as run:
        pipeline.fit(X_train, y_train)
        tags = lineage()
        mlflow.log_params({"model": name, "random_state": seed})
        mlflow.set_tags(tags)
        dataset = mlflow.data.from_pandas(frame, source=str(data_file), name="churn",
                                          digest=tags["data_version"], targets="churn")
        mlflow.log_input(dataset, context="training")
        val_roc_auc = roc_auc_score(y_val, pipeline.predict_proba(X_val)[:, 1])
        mlflow.log_metrics({"val_f1": f1_score(y_val, pipeline.predict(X_val)), "val_roc_auc": val_roc_auc})
        info = mlflow.sklearn.log_model(pipeline, name="model", input_example=X_train.head(5),
                                        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                                        skops_trusted_types=trusted_types[name])
    results.append((run.info.run_id, val_roc_auc, info.model_uri))
### END SOLUTION
for run_id, val_roc_auc, _ in results:
    print(f"{mlflow.get_run(run_id).data.params['model']:>7}  val_roc_auc={val_roc_auc:.4f}")

# %%
check("capstone", only=["runs", "params", "lineage", "dataset", "metrics", "model", "signature"])

# %% [markdown]
# ## Part 3: the champion
#
# Register the model of the run with the highest validation ROC AUC as `registered_model_name`,
# using its `models:/m-...` URI, and point the alias `champion` at the new version. Store the
# version in `version`.
#
# Then, once, score the champion on the test split: log `test_f1` and `test_roc_auc` on the
# champion's run with `mlflow.log_metrics({...}, run_id=...)`. These are the figures you would
# report; the other candidate gets none, so nobody can be tempted to choose by them.

# %%
### BEGIN SOLUTION
best_run_id, best_val_roc_auc, best_model_uri = max(results, key=lambda entry: entry[1])
version = mlflow.register_model(best_model_uri, registered_model_name)
mlflow.MlflowClient().set_registered_model_alias(registered_model_name, "champion", version.version)
chosen = mlflow.sklearn.load_model(best_model_uri)
test_scores = {"test_f1": f1_score(y_test, chosen.predict(X_test)),
               "test_roc_auc": roc_auc_score(y_test, chosen.predict_proba(X_test)[:, 1])}
mlflow.log_metrics(test_scores, run_id=best_run_id)
### END SOLUTION
print(f"{registered_model_name} version {version.version} is now 'champion'")
print(f"validation ROC AUC {best_val_roc_auc:.4f}, test ROC AUC {test_scores['test_roc_auc']:.4f}")

# %%
check("capstone", only=["registry", "test-once", "test-truthful"])

# %% [markdown]
# ## Part 4: score customers the way the service will
#
# The service knows only the name and the alias. It sends a table with the columns in its own
# order; the signature lets MLflow put them in the order the model was trained on.

# %%
champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
customers = X_test.head(3)[["monthly_charges", "age", "tenure"]]
print(customers.assign(churn_predicted=champion.predict(customers)))
print("signature inputs:", champion.metadata.get_input_schema().input_names())

# %% [markdown]
# ## Check everything
#
# The full self-check also loads each logged model in a separate process, recomputes its ROC
# AUC on the validation split (and the champion's on the test split) and compares them with
# what you logged.

# %%
check("capstone")

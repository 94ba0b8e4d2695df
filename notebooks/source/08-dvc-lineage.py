# %% [markdown]
# # 08 · Data lineage with DVC and git
#
# A run's parameters and code are not enough to repeat it: you also need the exact data. Here
# git versions the code and a small pointer file per data set, DVC stores the data itself by
# content hash, and every MLflow run records which data version and which commit it used.
#
# You will, in a scratch workspace of your own:
#
# 1. make a churn table with the course's seeded generator, and put it under DVC and git;
# 2. train on it, logging the data version (DVC's md5), the git commit, and an MLflow dataset
#    input whose digest is that md5;
# 3. change the data, train again, and find each version's runs with a search filter;
# 4. go back to the first data version and reproduce a run exactly.
#
# A correction to examples you may find elsewhere: `dvc status FILE --show-json` is not a DVC
# command, and no `dvc status` variant prints a hash. The data version is the `md5` recorded in
# the `.dvc` file (it equals `md5sum` of the file); `dvc status` only says what changed.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "churn-lineage"  # experiment that receives the runs
seed: int = 42  # seeds the split and the models; logged as random_state
data_seed: int = 7  # seed of the churn generator for the first data version
n_rows: int = 2000  # rows in the first data version

# %%
import hashlib
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
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from course import churn
from course.tracking import use_experiment, workspace_dir

random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name, tracking_uri)
# MLflow warns that a local path could be two kinds of dataset source, and that integer columns
# cannot hold missing values. Both are true and harmless here.
warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

# %% [markdown]
# ## A workspace with git and DVC
#
# The workspace sits beside the tracking store, so the grader can later open the repository a
# run names and confirm its lineage. Commits get a fixed author and date, which makes their ids
# the same on every machine (useful for a course; in real work, let git record the truth).

# %%
workspace = workspace_dir("churn-lineage", mlflow.get_tracking_uri())
shutil.rmtree(workspace, ignore_errors=True)
workspace.mkdir(parents=True)

fixed_identity = {
    "GIT_AUTHOR_NAME": "Course Learner", "GIT_AUTHOR_EMAIL": "learner@example.org",
    "GIT_COMMITTER_NAME": "Course Learner", "GIT_COMMITTER_EMAIL": "learner@example.org",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}
tool_env = {**os.environ, **fixed_identity, "DVC_NO_ANALYTICS": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def sh(*command: str) -> str:
    """Run git or dvc in the workspace; stop with its message if it fails."""
    done = subprocess.run(command, cwd=workspace, env=tool_env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


sh("git", "init", "-q", "-b", "main")
sh("dvc", "init", "-q")
sh("git", "commit", "-q", "-m", "Initialize DVC")
print(sh("git", "log", "--oneline"))

# %% [markdown]
# ## Version 1 of the data
#
# `dvc add` moves the file's content into DVC's cache and writes `data/churn.csv.dvc`, a small
# YAML pointer with the file's md5. git tracks the pointer; DVC's `.gitignore` keeps the CSV
# itself out of git.

# %%
data_file = churn.write_churn(workspace / "data" / "churn.csv", n_rows=n_rows, seed=data_seed)
sh("dvc", "add", "data/churn.csv")
sh("git", "add", "data/churn.csv.dvc", "data/.gitignore")
sh("git", "commit", "-q", "-m", "Data version 1")
print((workspace / "data" / "churn.csv.dvc").read_text())


def data_version() -> str:
    """The md5 DVC recorded for the data file: the data version runs will carry."""
    return yaml.safe_load((workspace / "data" / "churn.csv.dvc").read_text())["outs"][0]["md5"]


v1 = data_version()
print("data version (md5 in the .dvc file):", v1)
print("md5 of the file itself:             ", hashlib.md5(data_file.read_bytes()).hexdigest())

# %% [markdown]
# ## Train, recording the lineage
#
# `mlflow.source.git.commit` is filled in automatically only when a script file inside a git
# repository runs. A notebook kernel is not such a script, so the function below records the
# lineage itself, as tags:
#
# | tag | value |
# |---|---|
# | `data_version` | the md5 from the `.dvc` file |
# | `git_commit` | the workspace's current commit |
# | `lineage.repo` | the workspace folder, so the commit can be looked up |
#
# It also logs an MLflow **dataset input** whose digest is the same md5, so the UI's dataset
# column and `run.inputs` show the data version too. It refuses to train in a workspace with
# uncommitted changes: the commit it records would not describe what it trained on.

# %%
models = {
    "logreg": lambda: LogisticRegression(max_iter=1000, random_state=seed),
    "forest": lambda: RandomForestClassifier(n_estimators=100, max_depth=6, random_state=seed),
}


def train(model_name: str) -> mlflow.entities.Run:
    if sh("git", "status", "--porcelain"):
        raise RuntimeError("the workspace has uncommitted changes: commit them, or the recorded lineage would lie")
    frame = pd.read_csv(workspace / "data" / "churn.csv")
    X, y = frame.drop(columns="churn"), frame["churn"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    model = models[model_name]().fit(X_train, y_train)
    version, commit = data_version(), sh("git", "rev-parse", "HEAD")
    dataset = mlflow.data.from_pandas(frame, source=str(workspace / "data" / "churn.csv"), name="churn",
                                      digest=version, targets="churn")
    with mlflow.start_run(run_name=f"{model_name}-{version[:8]}") as run:
        mlflow.log_params({"model": model_name, "random_state": seed, "test_size": 0.25, "rows": len(frame)})
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags({"data_version": version, "git_commit": commit, "lineage.repo": str(workspace)})
        mlflow.log_metrics({
            "accuracy": accuracy_score(y_test, model.predict(X_test)),
            "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]),
        })
    return mlflow.get_run(run.info.run_id)


for name in models:
    run = train(name)
    print(f"{run.info.run_name:18} accuracy={run.data.metrics['accuracy']:.4f}  roc_auc={run.data.metrics['roc_auc']:.4f}")

# %% [markdown]
# ## Version 2: the data changes
#
# New customers arrive: 500 rows are appended to the table, and the 2,000 rows of version 1
# stay as they were. `dvc add` records a new md5, and a new commit records the new pointer. The
# old content stays in DVC's cache, reachable through the old commit.

# %%
version_1_rows = pd.read_csv(data_file)
churn.append_churn(data_file, n_rows=500, seed=data_seed + 1)
grown = pd.read_csv(data_file)
print(f"rows: {len(version_1_rows)} -> {len(grown)}; the first {len(version_1_rows)} unchanged:",
      grown.head(len(version_1_rows)).equals(version_1_rows))
print("dvc status before adding:", sh("dvc", "status", "data/churn.csv.dvc") or "(up to date)")
sh("dvc", "add", "data/churn.csv")
sh("git", "add", "data/churn.csv.dvc")
sh("git", "commit", "-q", "-m", "Data version 2: 500 more customers")
v2 = data_version()
print("data version 2:", v2, "  differs from version 1:", v2 != v1)

for name in models:
    run = train(name)
    print(f"{run.info.run_name:18} accuracy={run.data.metrics['accuracy']:.4f}  roc_auc={run.data.metrics['roc_auc']:.4f}")

# %% [markdown]
# ## Which runs used which data?
#
# The data version is a tag, so one search filter finds every run trained on it.

# %%
for label, version in [("version 1", v1), ("version 2", v2)]:
    found = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"tags.data_version = '{version}'",
        order_by=["attributes.run_name ASC"],
    )
    print(f"{label} ({version[:8]}): {sorted(found['tags.mlflow.runName'])}")

# %% [markdown]
# And from a run back to its data: the run names a commit, and the commit holds the `.dvc`
# pointer with the md5 that the run's `data_version` must equal. `git show` reads the pointer
# as it was at that commit, whatever the workspace holds now.

# %%
oldest = mlflow.search_runs(experiment_ids=[experiment.experiment_id], filter_string=f"tags.data_version = '{v1}'",
                            order_by=["attributes.start_time ASC"], max_results=1, output_format="list")[0]
recorded = yaml.safe_load(sh("git", "show", f"{oldest.data.tags['git_commit']}:data/churn.csv.dvc"))
print("run:", oldest.info.run_name)
print("md5 in the .dvc file at the run's commit:", recorded["outs"][0]["md5"])
print("matches the run's data_version tag:      ", recorded["outs"][0]["md5"] == oldest.data.tags["data_version"])
print("matches its dataset input's digest:      ", oldest.inputs.dataset_inputs[0].dataset.digest == recorded["outs"][0]["md5"])

# %% [markdown]
# ## Go back to version 1 and reproduce
#
# Check out the commit the run records, code and `.dvc` pointer together, then `dvc checkout`
# restores the matching data from DVC's cache. The workspace is then exactly what the first run
# saw, so training the forest again must give exactly its metrics: same code, same data version,
# same seed. (Checking out only the `.dvc` file would leave `HEAD` at the newer commit, and the
# run would record a commit whose data it did not use.)

# %%
sh("git", "checkout", "-q", oldest.data.tags["git_commit"])
sh("dvc", "checkout", "-q")
print("data version now:", data_version(), "  is version 1:", data_version() == v1)

again = train("forest")
before = mlflow.search_runs(experiment_ids=[experiment.experiment_id], output_format="list",
                            filter_string=f"tags.data_version = '{v1}' and params.model = 'forest'",
                            order_by=["attributes.start_time ASC"])[0]
print("first forest on version 1:", {k: round(v, 6) for k, v in sorted(before.data.metrics.items())})
print("reproduced:               ", {k: round(v, 6) for k, v in sorted(again.data.metrics.items())})
print("identical:", before.data.metrics == again.data.metrics)

# Leave the workspace at its latest version.
sh("git", "checkout", "-q", "main")
_ = sh("dvc", "checkout", "-q")

# %% [markdown]
# ## Check yourself
#
# - Where does the data version come from, and why is `dvc status` the wrong place to look?
# - Why does a notebook have to record the git commit itself?
# - Which filter finds every run trained on one data version?
# - Someone deleted DVC's cache. Which step of the reproduction fails, and what would a DVC
#   remote (for example an S3 bucket) have changed?
#
# Then let the grader confirm the lineage: it opens the repository each run names, reads the
# `.dvc` file at the run's commit and compares.

# %%
from grading import check

check("08-dvc-lineage")

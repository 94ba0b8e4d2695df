# %% [markdown]
# # Exercises 08 · Runs that know their code and data
#
# Section 08 tagged each run with the git commit it was trained from and the DVC version of its
# data, then reproduced a run from its commit. Here you do it in a small workspace of your own:
# give a run its lineage, train on a second version of the data, then go back and reproduce the
# first run exactly.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it). To start over, run the notebook from the top: the workspace is rebuilt.

# %% tags=["parameters"]
experiment_name: str = "ex08-dvc-lineage"  # experiment that receives the runs
seed: int = 42  # passed to train.py, which seeds the split and the model with it; logged as random_state

# %%
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import yaml

from course import churn
from course.learner import named
from course.tracking import use_experiment, workspace_dir
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name)
warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

# %% [markdown]
# ## The workspace
#
# This cell is given. It makes a git repository with DVC beside the tracking store, writes
# version 1 of a small churn table (400 customers), puts it under DVC and commits its pointer
# `data/churn.csv.dvc` together with `train.py`, the training script. Commits get a fixed author
# and date, so their ids are the same on every machine.
#
# - `sh("git", ...)` or `sh("dvc", ...)` runs a command in the workspace and returns what it
#   prints (it raises if the command fails);
# - `train()` runs the workspace's `train.py`, as it is checked out now, on the data file as it
#   is now, and returns the test metrics the script prints.

# %%
TRAIN_PY = '''\
"""Train a churn classifier on data/churn.csv and print its test metrics as one JSON line."""
import argparse
import json
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, required=True)
seed = parser.parse_args().seed
frame = pd.read_csv(Path(__file__).resolve().parent / "data" / "churn.csv")
X, y = frame.drop(columns="churn"), frame["churn"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
model = make_pipeline(StandardScaler(), LogisticRegression(random_state=seed)).fit(X_train, y_train)
print(json.dumps({"accuracy": accuracy_score(y_test, model.predict(X_test)),
                  "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])}))
'''

workspace = workspace_dir("ex08-dvc-lineage", mlflow.get_tracking_uri())
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


def train() -> dict:
    """Run the workspace's train.py as checked out now; return the metrics it prints."""
    done = subprocess.run([sys.executable, "train.py", "--seed", str(seed)], cwd=workspace, env=tool_env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"train.py failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(done.stdout.splitlines()[-1])


sh("git", "init", "-q", "-b", "main")
sh("dvc", "init", "-q")
(workspace / "train.py").write_text(TRAIN_PY, encoding="utf-8")
data_file = churn.write_churn(workspace / "data" / "churn.csv", n_rows=400, seed=7)
sh("dvc", "add", "data/churn.csv")
sh("git", "add", ".")
sh("git", "commit", "-q", "-m", "train.py and data version 1")
print(sh("git", "log", "--oneline"))
print(sh("git", "ls-files"))
print()
print((workspace / "data" / "churn.csv.dvc").read_text())

# %% [markdown]
# ## Exercise 1: a run with its lineage
#
# Complete `log_training(run_name)`. It trains with `train()` and logs one run named `run_name`
# that holds:
#
# 1. the param `random_state` (`seed`) and the metrics that `train()` returns;
# 2. the tags `data_version`, the `md5` of the first entry of `outs` in `data/churn.csv.dvc` (a
#    YAML file: read it with `yaml.safe_load`), `git_commit`, from `sh("git", "rev-parse",
#    "HEAD")`, and `lineage.repo`, `str(workspace)`;
# 3. a dataset input named `churn` whose digest is the data version:
#    `mlflow.log_input(mlflow.data.from_pandas(frame, source=str(data_file), name="churn",
#    digest=..., targets="churn"), context="training")`, with `frame = pd.read_csv(data_file)`.
#
# It returns the run's id. The data version is the md5 that the pointer records, not the md5 of
# the pointer file itself. The cell then logs the run `v1`.

# %%
def log_training(run_name: str) -> str:
    """Train on the workspace as checked out now and log a run with its lineage; return its id."""
    ### BEGIN SOLUTION
    pointer = yaml.safe_load((workspace / "data" / "churn.csv.dvc").read_text())
    lineage = {"data_version": pointer["outs"][0]["md5"], "git_commit": sh("git", "rev-parse", "HEAD"),
               "lineage.repo": str(workspace)}
    metrics = train()
    dataset = mlflow.data.from_pandas(pd.read_csv(data_file), source=str(data_file), name="churn",
                                      digest=lineage["data_version"], targets="churn")
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_param("random_state", seed)
        mlflow.set_tags(lineage)
        mlflow.log_input(dataset, context="training")
        mlflow.log_metrics(metrics)
    return run.info.run_id
    ### END SOLUTION


first_run_id = log_training("v1")
first = mlflow.get_run(first_run_id)
print("data_version:", first.data.tags["data_version"], "  git_commit:", first.data.tags["git_commit"][:7])
print({name: round(value, 4) for name, value in sorted(first.data.metrics.items())})

# %%
check("ex08-dvc-lineage", only=["lineage-tags", "dataset", "metrics"])

# %% [markdown]
# ## Exercise 2: version 2 of the data
#
# 200 new customers arrive. Append them with `churn.append_churn(data_file, n_rows=200,
# seed=8)`, then record the new version: `dvc add data/churn.csv` updates the pointer (and keeps
# version 1 in DVC's cache), and a git commit of `data/churn.csv.dvc` puts the new pointer in the
# history. Then log a run named `v2` with `log_training`, and keep its id in `second_run_id`.
#
# Log it after the commit: its `git_commit` must name a commit that holds version 2's pointer.

# %%
### BEGIN SOLUTION
churn.append_churn(data_file, n_rows=200, seed=8)
sh("dvc", "add", "data/churn.csv")
sh("git", "add", "data/churn.csv.dvc")
sh("git", "commit", "-q", "-m", "Data version 2: 200 more customers")
second_run_id = log_training("v2")
### END SOLUTION
print(sh("git", "log", "--oneline"))
second = mlflow.get_run(second_run_id)
print("data_version:", second.data.tags["data_version"], "  git_commit:", second.data.tags["git_commit"][:7])
print({name: round(value, 4) for name, value in sorted(second.data.metrics.items())})

# %%
check("ex08-dvc-lineage", only=["versions", "commits"])

# %% [markdown]
# ## Exercise 3: reproduce the first run
#
# The workspace holds version 2 now. Reproduce `v1` from what that run recorded: read its
# `git_commit` tag, check out that commit with git, run `dvc checkout`, then log a run named
# `v1-again` with `log_training`. Keep its id in `again_run_id`.
#
# git brings back the commit's `train.py` and pointer, but not the data: the CSV is ignored by
# git (DVC listed it in `data/.gitignore`). `dvc checkout` replaces it with the version the
# pointer names, from DVC's cache. The cell then compares the two runs and returns the workspace
# to `main`.

# %%
### BEGIN SOLUTION
commit = mlflow.get_run(first_run_id).data.tags["git_commit"]
sh("git", "checkout", "-q", commit)
sh("dvc", "checkout", "-q")
again_run_id = log_training("v1-again")
### END SOLUTION
again = mlflow.get_run(again_run_id)
for tag in ("git_commit", "data_version"):
    print(f"same {tag}:", again.data.tags[tag] == first.data.tags[tag])
print("v1:      ", {name: round(value, 4) for name, value in sorted(first.data.metrics.items())})
print("v1-again:", {name: round(value, 4) for name, value in sorted(again.data.metrics.items())})
print("identical metrics:", again.data.metrics == first.data.metrics)

sh("git", "checkout", "-q", "main")  # back to the latest version, code and data
_ = sh("dvc", "checkout", "-q")

# %%
check("ex08-dvc-lineage", only=["reproduction", "reproducible"])

# %% [markdown]
# ## Check everything

# %%
check("ex08-dvc-lineage")

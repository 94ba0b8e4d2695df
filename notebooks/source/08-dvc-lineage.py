# %% [markdown]
# # 08 · Data lineage with DVC and git
#
# A run's parameters are not enough to repeat it: you also need the exact code and the exact
# data. Here git versions the training script and a small pointer file per data set, DVC stores
# the data itself by content hash, and every MLflow run records the commit it was trained from
# and the data version it used.
#
# You will, in a scratch workspace of your own:
#
# 1. write the training script and a seeded churn table, put the table under DVC, and commit
#    the script and the table's pointer together;
# 2. train by running the committed script, which logs the data version (DVC's md5), the git
#    commit, and an MLflow dataset input whose digest is that md5;
# 3. change the data and the code, train again, and find each version's runs with a search filter;
# 4. check out the first commit and reproduce a run exactly, with the code and the data of that
#    commit.
#
# A correction to examples you may find elsewhere: `dvc status FILE --show-json` is not a DVC
# command, and no `dvc status` variant prints a hash. The data version is the `md5` recorded in
# the `.dvc` file (it equals `md5sum` of the file); `dvc status` only says what changed.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "churn-lineage"  # experiment that receives the runs
seed: int = 42  # passed to train.py, which seeds the split and the models with it and logs it as random_state
data_seed: int = 7  # seed of the churn generator for the first data version
n_rows: int = 2000  # rows in the first data version

# %%
import hashlib
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import yaml

from course import churn
from course.learner import named
from course.tracking import use_experiment, workspace_dir

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name, tracking_uri)

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
# ## The training code is a file in the repository
#
# A commit can only pin code that is in it. So the training code is not a notebook cell but a
# script, `train.py`, in the workspace, committed like any other source file. It trains one model
# and records the lineage as tags:
#
# | tag | value |
# |---|---|
# | `data_version` | the md5 from `data/churn.csv.dvc` |
# | `git_commit` | the commit checked out when it ran |
# | `lineage.repo` | the workspace folder, so the commit can be looked up |
#
# It also logs an MLflow **dataset input** whose digest is the same md5, so the UI's dataset
# column and `run.inputs` show the data version too.
#
# Before training, it refuses to run if git reports uncommitted changes, or if the data file no
# longer matches its `.dvc` pointer: in either case the commit it would record does not describe
# what it trains on. The second test is needed because git never sees the data file itself
# (DVC lists it in `.gitignore`), so `git status` stays clean when only the data changes.

# %%
TRAIN_PY = '''\
"""Train one churn model on data/churn.csv and log it to MLflow, with its code and data lineage.

Usage: python train.py --model forest --seed 42   (MLFLOW_TRACKING_URI chooses the store)
"""
import argparse
import hashlib
import random
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

REPO = Path(__file__).resolve().parent
DATA = REPO / "data" / "churn.csv"
POINTER = REPO / "data" / "churn.csv.dvc"
TEST_SIZE = 0.25


def git(*args):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def lineage():
    """The commit and data version to record; stop if they would not describe this training."""
    if git("status", "--porcelain"):
        sys.exit("refused: the repository has uncommitted changes; commit them first")
    version = yaml.safe_load(POINTER.read_text())["outs"][0]["md5"]
    if hashlib.md5(DATA.read_bytes()).hexdigest() != version:
        sys.exit("refused: data/churn.csv does not match data/churn.csv.dvc; "
                 "dvc add and commit it, or dvc checkout")
    return git("rev-parse", "HEAD"), version


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["logreg", "forest"], required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    commit, version = lineage()
    random.seed(args.seed)
    np.random.seed(args.seed)
    models = {
        "logreg": LogisticRegression(max_iter=1000, random_state=args.seed),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=6, random_state=args.seed),
    }
    frame = pd.read_csv(DATA)
    X, y = frame.drop(columns="churn"), frame["churn"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=args.seed, stratify=y)
    model = models[args.model].fit(X_train, y_train)
    dataset = mlflow.data.from_pandas(frame, source=str(DATA), name="churn", digest=version, targets="churn")
    with mlflow.start_run(run_name=f"{args.model}-{version[:8]}") as run:
        mlflow.log_params({"model": args.model, "random_state": args.seed, "test_size": TEST_SIZE,
                           "rows": len(frame)})
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags({"data_version": version, "git_commit": commit, "lineage.repo": str(REPO)})
        mlflow.log_metrics({
            "accuracy": accuracy_score(y_test, model.predict(X_test)),
            "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]),
        })
    print(run.info.run_id)


if __name__ == "__main__":
    main()
'''
script = workspace / "train.py"
script.write_text(TRAIN_PY, encoding="utf-8")
print(sh("git", "status", "--short"))

# %% [markdown]
# ## Version 1 of the data, committed with the code
#
# `dvc add` moves the file's content into DVC's cache and writes `data/churn.csv.dvc`, a small
# YAML pointer with the file's md5. git tracks the pointer; DVC's `.gitignore` keeps the CSV
# itself out of git. One commit then holds the script and the pointer: the code and the data
# version that belong together.

# %%
data_file = churn.write_churn(workspace / "data" / "churn.csv", n_rows=n_rows, seed=data_seed)
sh("dvc", "add", "data/churn.csv")
sh("git", "add", "train.py", "data/churn.csv.dvc", "data/.gitignore")
sh("git", "commit", "-q", "-m", "Training script and data version 1")
print(sh("git", "show", "--name-only", "--format=%h %s", "HEAD"))
print()
print((workspace / "data" / "churn.csv.dvc").read_text())


def data_version() -> str:
    """The md5 DVC recorded for the data file: the data version runs will carry."""
    return yaml.safe_load((workspace / "data" / "churn.csv.dvc").read_text())["outs"][0]["md5"]


v1 = data_version()
print("data version (md5 in the .dvc file):", v1)
print("md5 of the file itself:             ", hashlib.md5(data_file.read_bytes()).hexdigest())

# %% [markdown]
# ## Train by running the committed script
#
# `train()` runs `train.py` in a separate Python process (the notebook's own interpreter,
# `sys.executable`), inside the workspace, with the notebook's tracking URI and experiment in its
# environment. The script prints the id of the run it logged, and `train()` returns that run.

# %%
script_env = {**tool_env, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
              "MLFLOW_EXPERIMENT_ID": experiment.experiment_id}
script_env.pop("MLFLOW_EXPERIMENT_NAME", None)


def train(model_name: str) -> mlflow.entities.Run:
    """Run the workspace's train.py, as it is checked out now, and return the run it logged."""
    done = subprocess.run([sys.executable, "train.py", "--model", model_name, "--seed", str(seed)],
                          cwd=workspace, env=script_env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"train.py --model {model_name}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return mlflow.get_run(done.stdout.split()[-1])


for name in ["logreg", "forest"]:
    run = train(name)
    print(f"{run.info.run_name:18} accuracy={run.data.metrics['accuracy']:.4f}  roc_auc={run.data.metrics['roc_auc']:.4f}")

# %% [markdown]
# Because `train.py` is a script run inside a git repository, MLflow also fills in its own tag
# `mlflow.source.git.commit`, and it agrees with `git_commit`. MLflow does not look at
# uncommitted changes, though: it records `HEAD` even when `train.py` has been edited since. The
# script's own check is what makes the recorded commit trustworthy.

# %%
print("git_commit:              ", run.data.tags["git_commit"][:12])
print("mlflow.source.git.commit:", run.data.tags["mlflow.source.git.commit"][:12])
print("mlflow.source.name:      ", run.data.tags["mlflow.source.name"])

# %% [markdown]
# ## Version 2: the data and the code change
#
# New customers arrive: 500 rows are appended to the table, and the 2,000 rows of version 1
# stay as they were. Before `dvc add`, the script refuses to train: `git status` is clean, but
# the data no longer matches its pointer. After `dvc add` a new commit records the new pointer.
# The old content stays in DVC's cache, reachable through the old commit.
#
# The code changes too, in a commit of its own: the forest gets 200 trees instead of 100.

# %%
version_1_rows = pd.read_csv(data_file)
churn.append_churn(data_file, n_rows=500, seed=data_seed + 1)
grown = pd.read_csv(data_file)
print(f"rows: {len(version_1_rows)} -> {len(grown)}; the first {len(version_1_rows)} unchanged:",
      grown.head(len(version_1_rows)).equals(version_1_rows))
print("git status:", sh("git", "status", "--porcelain") or "(clean)")
print("dvc status:", sh("dvc", "status", "data/churn.csv.dvc") or "(up to date)")
try:
    train("forest")
except RuntimeError as refused:
    print(refused)

sh("dvc", "add", "data/churn.csv")
sh("git", "add", "data/churn.csv.dvc")
sh("git", "commit", "-q", "-m", "Data version 2: 500 more customers")
v2 = data_version()
print("data version 2:", v2, "  differs from version 1:", v2 != v1)

script.write_text(script.read_text().replace("n_estimators=100", "n_estimators=200"))
sh("git", "commit", "-q", "-am", "Forest: 200 trees")
print(sh("git", "log", "--oneline"))

for name in ["logreg", "forest"]:
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
# And from a run back to its code and data: the run names a commit, and the commit holds both
# `train.py` and the `.dvc` pointer whose md5 the run's `data_version` must equal. `git show`
# reads a file as it was at that commit, whatever the workspace holds now.

# %%
first_forest = mlflow.search_runs(
    experiment_ids=[experiment.experiment_id], output_format="list", max_results=1,
    filter_string=f"tags.data_version = '{v1}' and params.model = 'forest'", order_by=["attributes.start_time ASC"],
)[0]
commit = first_forest.data.tags["git_commit"]
recorded = yaml.safe_load(sh("git", "show", f"{commit}:data/churn.csv.dvc"))
print("run:", first_forest.info.run_name, "  commit:", commit[:7])
print("files at that commit:", sh("git", "ls-tree", "--name-only", "-r", commit, "--", "train.py", "data").split())
print("md5 in the .dvc file at the run's commit:", recorded["outs"][0]["md5"])
print("matches the run's data_version tag:      ", recorded["outs"][0]["md5"] == first_forest.data.tags["data_version"])
print("matches its dataset input's digest:      ",
      first_forest.inputs.dataset_inputs[0].dataset.digest == recorded["outs"][0]["md5"])

# %% [markdown]
# ## Go back to the run's commit and reproduce
#
# Check out the commit the run records: that brings back `train.py` and the `.dvc` pointer as
# they were. `dvc checkout` then restores the matching data from DVC's cache. Running the
# checked-out script again, with the same seed, must give exactly the run's metrics. Today's
# `train.py` would not do: it grows 200 trees, so it trains a different forest. (Checking out
# only the `.dvc` file would not do either: `HEAD` would stay at the newer commit, and the new
# run would record code it did not run.)

# %%
sh("git", "checkout", "-q", commit)
sh("dvc", "checkout", "-q")
print("HEAD is the run's commit:", sh("git", "rev-parse", "HEAD") == commit)
print("data version now:", data_version(), "  is version 1:", data_version() == v1)
print("train.py now:      ", next(line.strip() for line in script.read_text().splitlines() if "n_estimators" in line))
print("train.py on main:  ", next(line.strip() for line in sh("git", "show", "main:train.py").splitlines()
                                   if "n_estimators" in line))

again = train("forest")
print()
print("recorded:  ", {k: round(v, 6) for k, v in sorted(first_forest.data.metrics.items())})
print("reproduced:", {k: round(v, 6) for k, v in sorted(again.data.metrics.items())})
print("identical:", first_forest.data.metrics == again.data.metrics,
      "  same commit recorded:", again.data.tags["git_commit"] == commit)

# Leave the workspace at its latest version.
sh("git", "checkout", "-q", "main")
_ = sh("dvc", "checkout", "-q")

# %% [markdown]
# ## Check yourself
#
# - Where does the data version come from, and why is `dvc status` the wrong place to look?
# - MLflow fills in `mlflow.source.git.commit` by itself when `train.py` runs. Why does the
#   script still check for uncommitted changes, and why does it also compare the data file
#   with its `.dvc` pointer?
# - Why does the reproduction run the `train.py` of the run's commit rather than today's?
# - Which filter finds every run trained on one data version?
# - Someone deleted DVC's cache. Which step of the reproduction fails, and what would a DVC
#   remote (for example an S3 bucket) have changed?
#
# Then let the grader confirm the lineage: it opens the repository each run names, reads the
# `.dvc` file at the run's commit and compares.

# %%
from grading import check

check("08-dvc-lineage")

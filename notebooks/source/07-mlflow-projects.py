# %% [markdown]
# # 07 · MLflow Projects: a run anyone can repeat with one command
#
# A tracked run tells you what happened. A **project** tells someone else how to make it happen
# again: it packages the code, its entry points with typed parameters, and a description of the
# environment, so that `mlflow run <folder> -P name=value` reproduces the run.
#
# This section uses the project in `projects/forest-classifier/` of the course repository. You will:
#
# - read its `MLproject` file and its `python_env.yaml`;
# - run its `main` entry point from the command line with new parameters;
# - run it a second time and confirm that the metrics are identical;
# - score the logged model with the `evaluate` entry point;
# - run it straight from a git repository, pinned to one commit with `--version`;
# - learn which environment manager to choose, and what each one needs.
#
# Two mistakes to avoid, both common in project examples you will find: an entry point whose
# command passes parameters to a script that never reads them (every "experiment" then trains
# the same model), and a `python_env.yaml` written with conda's single `=` (`scikit-learn=1.9`),
# which pip rejects.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "forest-project"  # experiment that receives the project's runs
seed: int = 42  # passed to the project, which seeds its split and its forest with it
n_estimators: int = 150  # trees in the forest, passed with -P
max_depth: int = 7  # depth limit of each tree, passed with -P

# %%
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow

from course import paths
from course.learner import named
from course.tracking import use_experiment, workspace_dir

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name, tracking_uri)
project = paths.ROOT / "projects" / "forest-classifier"

# %% [markdown]
# ## The project's files
#
# `MLproject` names the project, points at its environment file and declares the entry points.
# Each parameter has a type and, optionally, a default. `mlflow run` fills in the defaults,
# refuses to start when a parameter without one is missing, resolves `path` and `uri` values,
# and substitutes everything into the command. It does **not** check that an `int` is an int:
# that is the script's job (the cell after the next shows where a bad value really fails).

# %%
print((project / "MLproject").read_text())

# %% [markdown]
# The command passes `--n-estimators {n_estimators}` and the rest to `train.py`, and the script
# **parses** them with `argparse` and uses them. Check that in any project you adopt: a script
# that ignores its arguments runs happily with whatever `-P` you give it.

# %%
train_source = (project / "train.py").read_text()
print(train_source[train_source.index("def parse"):train_source.index("def main")])

# %% [markdown]
# `python_env.yaml` is the environment description that the `virtualenv` and `uv` managers
# install before running. Its dependencies are **pip requirement specifiers**, so a pin is
# written `==`.

# %%
print((project / "python_env.yaml").read_text())

# %% [markdown]
# ## Environment managers
#
# `--env-manager` decides where the entry point's command runs:
#
# | manager | what it does | what it needs |
# |---|---|---|
# | `local` | runs in the environment you are in now; installs nothing | the packages already installed (works offline) |
# | `virtualenv` | the default for a `python_env.yaml` project: builds a virtualenv with the Python version and packages listed | `pyenv` to provide that Python, and network access to download it and the packages |
# | `uv` | builds the environment with uv | the `uv` binary, and network access |
# | `conda` | builds a conda environment from `conda.yaml` | conda, and network access |
#
# The course machines install nothing at run time, so this notebook uses `local`. The project
# still ships `python_env.yaml`: it is the record of what the run needs, and it lets a
# colleague with network access rebuild the environment exactly.
#
# With `local`, the command's `python` is whatever `python` is first on `PATH`. The helper
# below puts this kernel's interpreter first, so the project runs with the same packages as the
# notebook. It also drops `MLFLOW_EXPERIMENT_ID`, which `mlflow.set_experiment` leaves in the
# environment: `mlflow run` reads it as `--experiment-id` and refuses to get both that and
# `--experiment-name`.

# %%
project_env = {
    **{k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")},
    "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
    "MLFLOW_LOGGING_LEVEL": "INFO",  # `mlflow run` reports the run id at INFO level
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
}


def mlflow_run_raw(*args: str, uri: str = str(project)) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlflow", "run", uri, "--env-manager", "local",
         "--experiment-name", experiment_name, *args],
        env=project_env, capture_output=True, text=True, timeout=600,
    )


def mlflow_run(*args: str, uri: str = str(project)) -> str:
    """`mlflow run` of the project at uri (the course's folder unless told) against this notebook's
    store; returns the id of the run it made."""
    done = mlflow_run_raw(*args, uri=uri)
    if done.returncode != 0:
        raise RuntimeError(f"mlflow run failed:\n{done.stderr[-2000:]}")
    return re.findall(r"=== Run \(ID '([0-9a-f]+)'\) succeeded ===", done.stderr)[-1]


# %% [markdown]
# ## What `mlflow run` checks, and what it does not
#
# Two mistakes, and where each is caught: `evaluate` without its required `model_uri` is refused
# by `mlflow run` before any run exists; `n_estimators=many` is passed straight through, so the
# run starts and `train.py`'s argparse rejects the value, which leaves a FAILED run behind.

# %%
missing = mlflow_run_raw("-e", "evaluate")
print("exit code", missing.returncode, "|", [l.split("mlflow.cli: ")[-1] for l in missing.stderr.splitlines() if "ERROR" in l])
bad_type = mlflow_run_raw("-P", "n_estimators=many")
print("exit code", bad_type.returncode, "|", [l for l in bad_type.stderr.splitlines() if "train.py: error" in l])
failed = mlflow.search_runs([experiment.experiment_id], filter_string="attributes.status = 'FAILED'", output_format="list")
print("runs left FAILED:", len(failed))

# %% [markdown]
# ## Run the `main` entry point
#
# The command line a colleague would type is:
#
# ```bash
# mlflow run projects/forest-classifier -P n_estimators=150 -P max_depth=7 \
#     --env-manager local --experiment-name forest-project
# ```
#
# `mlflow run` starts the run itself and hands its id to the script through the environment,
# so `mlflow.start_run()` inside `train.py` continues that run instead of opening a new one.

# %%
first_id = mlflow_run("-P", f"n_estimators={n_estimators}", "-P", f"max_depth={max_depth}", "-P", f"seed={seed}")
first = mlflow.get_run(first_id)
print("params: ", dict(sorted(first.data.params.items())))
print("metrics:", {k: round(v, 6) for k, v in sorted(first.data.metrics.items())})

# %% [markdown]
# MLflow tags a project run with where it came from: the source type, the entry point and the
# backend. Inside a git repository it also records the commit (`mlflow.source.git.commit`), so
# the code version travels with the run. `mlflow run` also logs every `-P` value as a
# parameter itself, which is why `seed` appears beside the `random_state` the script logs.

# %%
for key in ["mlflow.source.type", "mlflow.project.entryPoint", "mlflow.project.backend"]:
    print(f"{key:28} {first.data.tags.get(key)}")
print(f"{'dataset (training)':28}", [(d.dataset.name, d.dataset.digest) for d in first.inputs.dataset_inputs])

# %% [markdown]
# ## Run it again: reproduction
#
# Same code, same parameters, same data, same seed: the second run must report the same
# metrics, to the last digit. The data's **digest** (computed by MLflow from the rows) shows
# that both runs saw the same data.

# %%
second_id = mlflow_run("-P", f"n_estimators={n_estimators}", "-P", f"max_depth={max_depth}", "-P", f"seed={seed}")
second = mlflow.get_run(second_id)
same_params = first.data.params == second.data.params
same_data = [d.dataset.digest for d in first.inputs.dataset_inputs] == [d.dataset.digest for d in second.inputs.dataset_inputs]
same_metrics = first.data.metrics == second.data.metrics
print(f"same params: {same_params}   same data digest: {same_data}   identical metrics: {same_metrics}")
assert same_params and same_data and same_metrics

# %% [markdown]
# If the metrics had differed, something was not pinned: a missing seed, a thread count that
# changes results, a package version that moved. The grader's `reproducible` check looks for
# exactly this: runs with equal parameters and an equal data digest must agree.

# %% [markdown]
# ## The `evaluate` entry point
#
# A project can have several entry points. `evaluate` loads a model by URI and scores it on the
# same split, in a run of its own. Loading a model runs code from its files, which is acceptable
# here because this project logged the model itself.

# %%
model_id = first.outputs.model_outputs[0].model_id
eval_id = mlflow_run("-e", "evaluate", "-P", f"model_uri=models:/{model_id}", "-P", f"seed={seed}")
evaluation = mlflow.get_run(eval_id)
print("eval_accuracy:", round(evaluation.data.metrics["eval_accuracy"], 6))
print("equals the training run's accuracy:", evaluation.data.metrics["eval_accuracy"] == first.data.metrics["accuracy"])

# %% [markdown]
# ## Run it from a git repository
#
# A shared project usually lives in a git repository, and `mlflow run` takes the repository's URL
# directly: `mlflow run https://github.com/<owner>/<repo>#<folder>`. The part after `#` is the
# folder inside the repository that holds `MLproject` (MLflow refuses a `.` in it), and
# `--version` names a commit or a branch. This course works offline, so the repository here is
# on this machine and its URL starts with `file://`.
#
# The repository gets two commits: the project as it is, then a colleague's later change that
# holds out 20% of the data for testing instead of 25%. The commits get a fixed author and date,
# which makes their ids the same on every machine.

# %%
shared = workspace_dir("forest-repo", mlflow.get_tracking_uri())
shutil.rmtree(shared, ignore_errors=True)
shutil.copytree(project, shared / "forest-classifier", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

fixed_identity = {
    "GIT_AUTHOR_NAME": "Course Learner", "GIT_AUTHOR_EMAIL": "learner@example.org",
    "GIT_COMMITTER_NAME": "Course Learner", "GIT_COMMITTER_EMAIL": "learner@example.org",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}


def git(*args: str) -> str:
    """Run git in the shared repository; stop with its message if it fails."""
    done = subprocess.run(["git", "-C", str(shared), *args], env={**os.environ, **fixed_identity},
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


git("init", "-q", "-b", "main")
git("add", "forest-classifier")
git("commit", "-q", "-m", "forest-classifier, as in the course")
original = git("rev-parse", "HEAD")

mlproject = shared / "forest-classifier" / "MLproject"
changed, edits = re.subn(r"(test_size: \{type: float, default: )0\.25\}", r"\g<1>0.2}", mlproject.read_text())
assert edits == 2, "both entry points declare test_size with default 0.25"
mlproject.write_text(changed)
git("commit", "-q", "-am", "Hold out 20% of the data for testing")
print(git("log", "--format=%H %s"))

repo_uri = f"{shared.as_uri()}#forest-classifier"
print("project URI:", repo_uri)

# %% [markdown]
# Without `--version`, `mlflow run` runs what the repository holds now, commit 2. The `-P`
# values are the ones used above, yet the metrics differ: the code changed the test split.

# %%
latest_id = mlflow_run("-P", f"n_estimators={n_estimators}", "-P", f"max_depth={max_depth}", "-P", f"seed={seed}",
                       uri=repo_uri)
latest = mlflow.get_run(latest_id)
print("test_size:", latest.data.params["test_size"], "  accuracy:", round(latest.data.metrics["accuracy"], 6),
      "  same metrics as the first run:", latest.data.metrics == first.data.metrics)

# %% [markdown]
# `--version` takes a full commit id or a branch name. Pinned to the first commit, the same
# command runs the code as it was, and the metrics equal the first run's to the last digit.

# %%
pinned_id = mlflow_run("--version", original, "-P", f"n_estimators={n_estimators}", "-P", f"max_depth={max_depth}",
                       "-P", f"seed={seed}", uri=repo_uri)
pinned = mlflow.get_run(pinned_id)
print("test_size:", pinned.data.params["test_size"], "  accuracy:", round(pinned.data.metrics["accuracy"], 6),
      "  same metrics as the first run:", pinned.data.metrics == first.data.metrics)
assert pinned.data.metrics == first.data.metrics

# %% [markdown]
# What each run records about its source, as MLflow wrote it:

# %%
for label, run in [("without --version", latest), ("--version <first commit>", pinned)]:
    print(label)
    for key in sorted(k for k in run.data.tags if k.startswith(("mlflow.source.", "mlflow.project."))):
        print(f"  {key:28} {run.data.tags[key]}")
print("without --version ran main's newest commit:", latest.data.tags["mlflow.source.git.commit"] == git("rev-parse", "main"),
      "  --version ran the first commit:", pinned.data.tags["mlflow.source.git.commit"] == original)
print("old tag mlflow.gitRepoURL written:", any("mlflow.gitRepoURL" in r.data.tags for r in (latest, pinned)))

# %% [markdown]
# How to read them:
#
# - `mlflow.source.git.commit` is the commit whose code ran: commit 2 for the first run, the
#   pinned commit 1 for the second.
# - `mlflow.source.git.repoURL` is the URL of the repository's remote `origin`. The first run has
#   none because this repository has no remote; for `--version`, MLflow added one (next cell).
#   `mlflow.gitRepoURL` is the name older MLflow versions used; 3.17.2 no longer writes it.
# - `mlflow.source.name` should be the URL as typed, but for a `file://` URL MLflow 3.17.2 takes
#   it for a relative path and puts the current folder in front. Read the repository from
#   `mlflow.source.git.repoURL` instead. A branch given to `--version` (e.g. `main`) is recorded
#   as `mlflow.source.git.branch`; a commit id is not a branch, so there is none here.
#
# A `file://` URL names a folder on this machine, and MLflow runs the project **in that folder**
# rather than in a copy. With `--version` it fetches the commit from the repository into itself and
# checks it out there, leaving the repository on a detached HEAD with a new remote `origin` that
# points at itself. Keep such a repository apart from the one you edit:

# %%
print("branch checked out:", git("branch", "--show-current") or "none (detached HEAD)",
      "  HEAD is the first commit:", git("rev-parse", "HEAD") == original)
print(git("remote", "-v"))

# %% [markdown]
# With network access, `mlflow run https://github.com/<owner>/<repo>#<folder> --version <commit>`
# works the same way, except that the repository is not on your disk: MLflow creates a temporary
# folder, fetches that commit (or the default branch, without `--version`) into it, runs the
# project there, and records the same tags, with the https URL as `mlflow.source.git.repoURL`.
#
# Why the URL **and** the commit: the URL says where the code is, and a branch name only says
# where it was last. Commit 2 above already moved `main` away from the code the first run used.
# A commit id never moves, it names the exact files, so anyone who can reach the URL can fetch that
# commit and run it with the run's logged parameters, and get the same metrics.

# %% [markdown]
# The same runs are available from Python with `mlflow.projects.run(uri, entry_point="main",
# parameters={...}, env_manager="local", experiment_name=...)`, which returns a submitted run
# whose `run_id` you can query.
#
# ## Check yourself
#
# - What happens if the entry point's command passes `--max-depth` but the script never parses it?
# - Why is `scikit-learn=1.9.1` wrong in `python_env.yaml`, and what is right?
# - Which environment manager works without network access, and what does it assume?
# - Two runs with the same parameters gave different metrics. Name three places to look.
# - A run records `mlflow.source.git.repoURL` and `mlflow.source.git.branch: main`. Why is that not
#   enough to repeat it next month, and which tag is?
#
# Then let the grader confirm what this notebook logged. `python -m grading check
# 07-mlflow-projects --reproduce` goes one step further: it runs the project again, in a scratch
# store, and compares the metrics with the ones logged here.

# %%
from grading import check

check("07-mlflow-projects")

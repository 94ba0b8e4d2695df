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
import subprocess
import sys
from pathlib import Path

import mlflow

from course import paths
from course.tracking import use_experiment

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


def mlflow_run_raw(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(project), "--env-manager", "local",
         "--experiment-name", experiment_name, *args],
        env=project_env, capture_output=True, text=True, timeout=600,
    )


def mlflow_run(*args: str) -> str:
    """`mlflow run` against this notebook's store; returns the id of the run it made."""
    done = mlflow_run_raw(*args)
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
#
# Then let the grader confirm what this notebook logged. `python -m grading check
# 07-mlflow-projects --reproduce` goes one step further: it runs the project again, in a scratch
# store, and compares the metrics with the ones logged here.

# %%
from grading import check

check("07-mlflow-projects")

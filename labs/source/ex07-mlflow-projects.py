# %% [markdown]
# # Exercises 07 · Entry points and runs anyone can repeat
#
# Section 07 ran the project `projects/forest-classifier` with `mlflow run`, saw the same metrics
# twice, and read the tags MLflow writes on a project run. Here you change a copy of that project:
# you give it a second entry point with typed parameters, run it through `mlflow run`, and then
# show that a run repeated with the same parameters gives the same metrics.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it). Every run here uses `--env-manager local`: it installs nothing, so it works
# without network access, which the autograder does not give your notebook.

# %% tags=["parameters"]
experiment_name: str = "ex07-mlflow-projects"  # experiment that receives the project's runs
seed: int = 42  # passed to the project with -P seed=, which seeds its split and its forest

# %%
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow

from course.learner import named
from course.tracking import use_experiment, workspace_dir
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name)

# %% [markdown]
# ## The project to edit
#
# This cell writes the course's project into a folder of its own beside your tracking store,
# where you may change it: `MLproject` with its `main` entry point, `python_env.yaml`, `data.py`
# and `train.py`, as they are in `projects/forest-classifier`. The files are written out here,
# not copied, because the autograder runs your notebook without the course's folder. Run this
# cell as it is.

# %%
PROJECT_FILES = {
    "MLproject": '''name: forest-classifier

# The course's project with its main entry point (projects/forest-classifier also has `evaluate`).
python_env: python_env.yaml

entry_points:
  main:
    parameters:
      n_estimators: {type: int, default: 100}
      max_depth: {type: int, default: 5}
      seed: {type: int, default: 42}
      test_size: {type: float, default: 0.25}
    command: >-
      python train.py --n-estimators {n_estimators} --max-depth {max_depth}
      --seed {seed} --test-size {test_size}
''',
    "python_env.yaml": '''# pip specifiers: `==` pins a version (conda's single `=` is not valid here).
python: "3.11"
build_dependencies:
  - pip==25.3
dependencies:
  - mlflow==3.17.2
  - scikit-learn==1.9.1
  - pandas==3.1.1
''',
    "data.py": '''"""The project's data: the breast-cancer data set and one seeded split, shared by both entry points."""
from __future__ import annotations

import mlflow.data
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def split(seed: int, test_size: float):
    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    # MLflow computes the digest from the rows themselves, so equal data gives an equal digest.
    dataset = mlflow.data.from_pandas(frame, source="sklearn.datasets.load_breast_cancer", name="breast-cancer", targets="target")
    return X_train, X_test, y_train, y_test, dataset
''',
    "train.py": '''"""Entry point `main`: train a seeded random forest on the breast-cancer data and log everything needed to repeat it."""
from __future__ import annotations

import argparse

import mlflow
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

from data import split


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse(argv)
    X_train, X_test, y_train, y_test, dataset = split(args.seed, args.test_size)
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed)
    model.fit(X_train, y_train)
    predicted = model.predict(X_test)
    # `mlflow run` has already started the run; start_run() attaches to it.
    with mlflow.start_run():
        mlflow.log_params({"n_estimators": args.n_estimators, "max_depth": args.max_depth,
                           "random_state": args.seed, "test_size": args.test_size})
        mlflow.log_input(dataset, context="training")
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, predicted),
                            "f1_macro": f1_score(y_test, predicted, average="macro")})
        mlflow.set_tag("purpose", "project")
        # No model here: this set is about entry points, parameters and repeating a run; section
        # 07's project logs its model too.
    print(f"accuracy={accuracy_score(y_test, predicted):.6f}")


if __name__ == "__main__":
    main()
''',
}
project = workspace_dir("ex07-forest-classifier", mlflow.get_tracking_uri())
shutil.rmtree(project, ignore_errors=True)
project.mkdir(parents=True)
for name, text in PROJECT_FILES.items():
    (project / name).write_text(text)
print("project copy:", project)
print((project / "MLproject").read_text())

# %% [markdown]
# `mlflow run` is a command, so the cells below start it with `subprocess.run`. `project_env`
# is the environment to give it: this store's URI, this experiment's name, the kernel's Python
# first on `PATH` (with `--env-manager local`, the entry point's `python` is the first one on
# `PATH`), and without `MLFLOW_EXPERIMENT_ID`, which `use_experiment` leaves behind and which
# `mlflow run` would take as a second experiment option. `run_id_of` reads the id of the run that
# `mlflow run` made from what it printed, or stops with its error.

# %%
project_env = {
    **{k: v for k, v in os.environ.items() if k != "MLFLOW_EXPERIMENT_ID"},
    "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
    "MLFLOW_EXPERIMENT_NAME": experiment_name,
    "MLFLOW_LOGGING_LEVEL": "INFO",  # `mlflow run` reports the run id at INFO level
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
}


def run_id_of(done: subprocess.CompletedProcess) -> str:
    """The id of the run a finished `mlflow run` made; its error if it failed."""
    if done.returncode != 0:
        raise RuntimeError(f"mlflow run failed:\n{done.stderr[-2000:]}")
    return re.findall(r"=== Run \(ID '([0-9a-f]+)'\) succeeded ===", done.stderr)[-1]


# %% [markdown]
# ## Exercise 1: a second entry point
#
# Give the copy a second entry point, `shallow`, that trains a forest of shallow trees with the
# same `train.py`. Its parameters are typed and have defaults:
#
# - `max_depth`, an `int`, default `2`;
# - `n_estimators`, an `int`, default `100`;
# - `seed`, an `int`, default `42`.
#
# Its command passes all three to `train.py` (`--max-depth`, `--n-estimators`, `--seed`). Write
# the whole `MLproject` again to `project / "MLproject"`: `main` as it is, then `shallow`.
#
# Then run it: `mlflow run <project> -e shallow --env-manager local -P seed=<seed>`, as
# `subprocess.run([sys.executable, "-m", "mlflow", "run", ...], env=project_env,
# capture_output=True, text=True)`. Leave `max_depth` out of the `-P` values, so that its default
# is what runs. Keep the run's id in `shallow_id`.
#
# `mlflow run` fills in the defaults, substitutes the values into the command and logs each one as
# a parameter of the run; it does not check that an `int` is a whole number (`train.py`'s
# argparse does). Since `train.py` logs its settings again, a command that forgot `--max-depth`
# would fail: the script would log its own default, 5, over the 2 that `mlflow run` logged, and
# MLflow refuses to change a logged parameter.

# %%
### BEGIN SOLUTION
(project / "MLproject").write_text("""name: forest-classifier

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      n_estimators: {type: int, default: 100}
      max_depth: {type: int, default: 5}
      seed: {type: int, default: 42}
      test_size: {type: float, default: 0.25}
    command: >-
      python train.py --n-estimators {n_estimators} --max-depth {max_depth}
      --seed {seed} --test-size {test_size}
  shallow:
    parameters:
      max_depth: {type: int, default: 2}
      n_estimators: {type: int, default: 100}
      seed: {type: int, default: 42}
    command: "python train.py --max-depth {max_depth} --n-estimators {n_estimators} --seed {seed}"
""")
done = subprocess.run([sys.executable, "-m", "mlflow", "run", str(project), "-e", "shallow", "--env-manager", "local",
                       "-P", f"seed={seed}"], env=project_env, capture_output=True, text=True, timeout=600)
shallow_id = run_id_of(done)
### END SOLUTION
shallow = mlflow.get_run(shallow_id)
print("entry point:", shallow.data.tags.get("mlflow.project.entryPoint"))
print("params: ", dict(sorted(shallow.data.params.items())))
print("metrics:", {k: round(v, 6) for k, v in sorted(shallow.data.metrics.items())})

# %%
check("ex07-mlflow-projects", only=["shallow-run", "shallow-depth"])

# %% [markdown]
# ## Exercise 2: the same run, twice
#
# Run the `main` entry point of the copy twice with the same parameters: `-P n_estimators=50
# -P max_depth=4 -P seed=<seed>`, with `--env-manager local` as before. Keep the two run ids in
# `first_id` and `second_id`. The code under the exercise compares the runs: same parameters,
# same data (MLflow's digest of the rows), and then the metrics should agree to the last digit.

# %%
### BEGIN SOLUTION
command = [sys.executable, "-m", "mlflow", "run", str(project), "-e", "main", "--env-manager", "local",
           "-P", "n_estimators=50", "-P", "max_depth=4"]
first_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed}"], env=project_env, capture_output=True,
                                    text=True, timeout=600))
second_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed}"], env=project_env, capture_output=True,
                                     text=True, timeout=600))
### END SOLUTION
first, second = mlflow.get_run(first_id), mlflow.get_run(second_id)
for label, run in [("first ", first), ("second", second)]:
    print(label, {k: round(v, 6) for k, v in sorted(run.data.metrics.items())})
digests = [[d.dataset.digest for d in run.inputs.dataset_inputs] for run in (first, second)]
print(f"same params: {first.data.params == second.data.params}   same data digest: {digests[0] == digests[1]}   "
      f"identical metrics: {first.data.metrics == second.data.metrics}")

# %% [markdown]
# The grader does the same comparison over every run of `main` in the experiment: runs that agree
# on `n_estimators`, `max_depth`, `random_state`, `test_size` and the data's digest must agree on
# `accuracy` and `f1_macro`, and at least one such configuration must have run twice. An unseeded
# split or forest fails it, and so does a parameter that changes between the two runs.

# %%
check("ex07-mlflow-projects", only=["main-params", "reproducible"])

# %% [markdown]
# ## Check everything
#
# `python -m grading check ex07-mlflow-projects --reproduce` also re-runs the course's own project
# (`projects/forest-classifier`, entry point `main`) with the parameters your `shallow` run logged,
# in a scratch store, and compares the metrics: the new entry point only changed the defaults.

# %%
check("ex07-mlflow-projects")

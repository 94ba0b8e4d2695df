# %% [markdown]
# # Exercises 09 · Versions, aliases and loading by name
#
# Section 09 registered models, moved the alias `champion` and loaded a model by alias. Here you
# do it for two candidates: register both, point `champion` at the better one and `challenger`
# at the other, then load the champion by its name alone and test it once.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The tracking URI comes from `MLFLOW_TRACKING_URI`
# (`make lab` sets it).

# %% tags=["parameters"]
experiment_name: str = "ex09-signatures-registry"  # experiment that receives the runs
registered_model_name: str = "ex09-classifier"  # registry name for both versions
seed: int = 42  # seeds the models; logged as random_state (the split's seed is fixed in course/labdata)

# %%
import warnings

import mlflow
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course.labdata import ex09 as lab_data
from course.learner import named
from course.tracking import use_experiment
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
registered_model_name = named(registered_model_name)
experiment = use_experiment(experiment_name)
client = mlflow.MlflowClient()
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

# %% [markdown]
# ## Two candidates
#
# Two scaled logistic regressions on the wine data, each in a run tagged
# `purpose=registry-candidate` with its `val_accuracy` and a model with a signature. Run this
# cell as it is; `candidates` maps each run id to its `(val_accuracy, model_uri)`.

# %%
X_train, X_val, X_test, y_train, y_val, y_test = lab_data.split()  # the grader scores on the same rows
candidates = {}
for C in (0.001, 1.0):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, random_state=seed)).fit(X_train, y_train)
    with mlflow.start_run(run_name=f"logreg-C{C}", tags={"purpose": "registry-candidate"}) as run:
        mlflow.log_params({"C": C, "random_state": seed})
        val_accuracy = accuracy_score(y_val, model.predict(X_val))
        mlflow.log_metric("val_accuracy", val_accuracy)
        info = mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3),
                                        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    candidates[run.info.run_id] = (val_accuracy, info.model_uri)
    print(f"C={C:<6} val_accuracy={val_accuracy:.4f}")

# %% [markdown]
# ## Exercise 1: register both, and name the champion
#
# Register each candidate's model as `registered_model_name` with `mlflow.register_model(uri,
# name)`: two versions of one registered model. Then point the alias `champion` at the version
# whose run has the higher `val_accuracy`, with `client.set_registered_model_alias(name,
# "champion", version)`. Keep the champion's `ModelVersion` in `champion_version`.

# %%
### BEGIN SOLUTION
versions = {run_id: mlflow.register_model(uri, registered_model_name) for run_id, (_, uri) in candidates.items()}
best_run_id = max(candidates, key=lambda run_id: candidates[run_id][0])
champion_version = versions[best_run_id]
client.set_registered_model_alias(registered_model_name, "champion", champion_version.version)
### END SOLUTION
print("champion is version", champion_version.version)

# %%
check("ex09-signatures-registry", only=["champion"])

# %% [markdown]
# ## Exercise 2: the challenger
#
# Point a second alias, `challenger`, at the other version, the one with the lower
# `val_accuracy`. An alias names one version at a time, and one version may carry several.

# %%
### BEGIN SOLUTION
other_run_id = min(candidates, key=lambda run_id: candidates[run_id][0])
client.set_registered_model_alias(registered_model_name, "challenger", versions[other_run_id].version)
### END SOLUTION
print("aliases:", client.get_registered_model(registered_model_name).aliases)

# %%
check("ex09-signatures-registry", only=["challenger"])

# %% [markdown]
# ## Exercise 3: load the champion by name, and test it once
#
# Load `models:/<registered_model_name>@champion` with `mlflow.pyfunc.load_model`, without using
# a run id or a version number. Score it on the test rows, once, and log that accuracy as
# `test_accuracy` in a new run tagged `purpose=champion-test`.

# %%
### BEGIN SOLUTION
champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
test_accuracy = accuracy_score(y_test, champion.predict(X_test))
with mlflow.start_run(run_name="champion-test", tags={"purpose": "champion-test"}):
    mlflow.log_metric("test_accuracy", test_accuracy)
### END SOLUTION
print(f"champion's test accuracy: {test_accuracy:.4f}")

# %%
check("ex09-signatures-registry", only=["champion-test"])

# %% [markdown]
# ## Check everything

# %%
check("ex09-signatures-registry")

# %% [markdown]
# # 10 · Quiz
#
# Ten multiple-choice questions: the module's five classic questions, with answers corrected
# for MLflow 3.17, and five on behaviour that changed in MLflow 3. Put a letter in each
# parameter below (or pass them with papermill, `-p q1 b`), then run the notebook. Your answers
# are logged to MLflow, and the grader scores them like any other section, with a pointer to
# the section to reread for each one it marks wrong.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "course-quiz"  # experiment that receives your answers
q1: str = ""  # your answer to question 1 (a, b, c or d)
q2: str = ""  # your answer to question 2
q3: str = ""  # your answer to question 3
q4: str = ""  # your answer to question 4
q5: str = ""  # your answer to question 5
q6: str = ""  # your answer to question 6
q7: str = ""  # your answer to question 7
q8: str = ""  # your answer to question 8
q9: str = ""  # your answer to question 9
q10: str = ""  # your answer to question 10

# %% [markdown]
# ## The questions
#
# **1.** What does `mlflow.sklearn.log_model(clf, name="model")` record, with no other arguments?
# - a) the model, its environment files and a signature inferred from the training data
# - b) the model files, the `MLmodel` file and the environment files, but no signature
# - c) one pickle file of the estimator, and nothing else at all
# - d) the model and a signature, but no environment files
#
# **2.** Where does MLflow keep a run's artifacts?
# - a) in the tracking database, in a table next to the run's params and metrics
# - b) always in a `./mlruns` folder beside the notebook that logged them
# - c) in the artifact store named by the experiment's artifact location
# - d) in an S3 bucket, which MLflow needs for any artifact
#
# **3.** How do you compare runs in the MLflow 3.17 UI?
# - a) open the experiment, which shows its runs table; tick runs and click Compare
# - b) it cannot compare runs; use `mlflow.search_runs` and a plot instead
# - c) switch the experiment to "Model training", tick runs and click Compare
# - d) run `mlflow runs compare` and open the page it prints
#
# **4.** What is an MLflow Project?
# - a) a folder whose `MLproject` file declares entry points, parameters and an environment
# - b) another name for a registered model, with all of its versions and aliases
# - c) a Docker image that MLflow builds from an experiment's best run
# - d) an experiment whose runs share one parent run, a set of tags and one artifact location
#
# **5.** What makes a run reproducible?
# - a) logging every metric it computes, at every step, with a timestamp
# - b) calling `np.random.seed(42)` at the top of the notebook, before any data is loaded
# - c) a recorded code commit, data version, parameters with seeds and environment
# - d) saving the executed notebook with its outputs next to the model files
#
# **6.** How is scikit-learn 1.9.1 pinned in a project's `python_env.yaml`?
# - a) `scikit-learn=1.9.1`
# - b) `scikit-learn==1.9.1`
# - c) `scikit-learn:1.9.1`
# - d) `scikit-learn>=1.9,<2`
#
# **7.** In MLflow 3, where does `log_model(..., name="model")` put the model?
# - a) among the run's artifacts, in a folder named `model/`
# - b) straight into the model registry, as a new version of a registered model named `model`
# - c) in a LoggedModel with an id of its own (`models:/m-...`), outside the run's artifacts
# - d) in the tracking database, as a binary blob attached to the run
#
# **8.** With `MLFLOW_TRACKING_URI` unset, where does MLflow 3.17 log?
# - a) to `sqlite:///mlflow.db`, a file in the current working directory
# - b) to a `./mlruns` file store in the current working directory
# - c) to a server at `http://localhost:5000`, which must be running
# - d) nowhere: it raises an error until a tracking URI is set
#
# **9.** Where do you read the version of a DVC-tracked data file?
# - a) in the output of `dvc status data.csv --show-json`
# - b) in the `hash` field that `dvc status --json` prints
# - c) in the commit messages that `git log data.csv` shows
# - d) in the `md5` under `outs` in the `data.csv.dvc` pointer file
#
# **10.** How do you find which version of a registered model carries the alias `champion`?
# - a) `client.search_model_versions(f"name='{name}'")[0].aliases`
# - b) `client.get_model_version_by_alias(name, "champion")`
# - c) look for the version whose stage is "Production"
# - d) `mlflow.get_alias(name, "champion")`, new in MLflow 3

# %%
import mlflow

from course.learner import named
from course.tracking import use_experiment

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name, tracking_uri)
answers = {f"q{n}": globals()[f"q{n}"].strip().lower() for n in range(1, 11)}
unknown = {q: a for q, a in answers.items() if a not in ("", "a", "b", "c", "d")}
if unknown:
    raise ValueError(f"answer each question with a, b, c or d (or leave it empty): {unknown}")
print("your answers:", {q: a or "-" for q, a in answers.items()})

# %% [markdown]
# ## Log the answers
#
# One run holds the answers as parameters; a new attempt is a new run, and the grader reads the
# latest.

# %%
with mlflow.start_run(run_name="quiz-answers"):
    mlflow.log_params({q: a or "-" for q, a in answers.items()})
    mlflow.set_tag("purpose", "quiz")
print("answers logged")

# %% [markdown]
# ## Check yourself
#
# The grader scores the logged answers, one point each, and gives a hint for each one it marks
# wrong. The right answers are not in this notebook, and the grader's checks hold only salted
# digests of them.

# %%
from grading import check

check("10-quiz")

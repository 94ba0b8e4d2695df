# %% [markdown]
# # 10 · Quiz
#
# Ten multiple-choice questions: the module's five classic questions, with answers corrected
# for MLflow 3.17, and five on behaviour that changed in MLflow 3. Put a letter in each
# parameter below (or pass them with papermill, `-p q1 b`), then run the notebook. Each answer
# is checked here, with an explanation, and all answers are logged to MLflow so the grader can
# score the quiz like any other section.
#
# The notebook keeps only fingerprints of the right answers, so reading the code gives nothing
# away.

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
# - a) the model, its environment files and its signature, always
# - b) the model files, the `MLmodel` description and environment files (`requirements.txt`, `python_env.yaml`, `conda.yaml`); a signature only when `signature=` or `input_example=` is given
# - c) only a pickle of the estimator
# - d) the model and its signature, but no environment
#
# **2.** Where does MLflow keep a run's artifacts?
# - a) always inside the tracking database
# - b) always in `./mlruns`
# - c) only in S3
# - d) in the artifact store named by the experiment's artifact location: for a server that proxies artifacts, the `--artifacts-destination` it was started with (clients see `mlflow-artifacts:/` URIs); for an embedded store, a local folder unless you choose one
#
# **3.** How do you compare runs in the MLflow 3.17 UI?
# - a) the experiment page opens on the runs table; select runs and press Compare
# - b) you cannot; comparison needs the API
# - c) the experiment opens in its GenAI view, so switch to "Model training" (or open the link with `?workflowType=machine_learning`), select runs in the Runs table and press Compare
# - d) with `mlflow runs compare`
#
# **4.** What is an MLflow Project?
# - a) a folder with an `MLproject` file that declares entry points with typed parameters and an environment file, run with `mlflow run <folder> -P name=value`
# - b) another name for a registered model
# - c) a Docker image that MLflow builds
# - d) an experiment with several runs
#
# **5.** What makes a run reproducible?
# - a) logging its metrics
# - b) calling `np.random.seed` at the top
# - c) saving the notebook
# - d) recording the code version (git commit), the data version (the md5 in the `.dvc` file), every parameter including seeds, and the environment, and then checking by re-running that the metrics match
#
# **6.** How is scikit-learn 1.9.1 pinned in a project's `python_env.yaml`?
# - a) `scikit-learn=1.9.1`
# - b) `scikit-learn==1.9.1`
# - c) `scikit-learn:1.9.1`
# - d) `scikit-learn>1.9.1`
#
# **7.** In MLflow 3, where does `log_model(..., name="model")` put the model?
# - a) in the run's artifacts, under `model/`
# - b) straight into the model registry
# - c) in a LoggedModel with its own id (`models:/m-...`), whose files sit under the experiment's `models/` folder, so the run's artifact list stays empty
# - d) in the tracking database, as a blob
#
# **8.** With `MLFLOW_TRACKING_URI` unset, where does MLflow 3.17 log?
# - a) to `sqlite:///mlflow.db` in the current working directory
# - b) to a `./mlruns` file store
# - c) to `http://localhost:5000`
# - d) nowhere: it raises an error
#
# **9.** Where do you read the version of a DVC-tracked data file?
# - a) `dvc status data.csv --show-json`
# - b) the hash field of `dvc status --json`
# - c) `git log data.csv`
# - d) the `md5` under `outs` in `data.csv.dvc`
#
# **10.** How do you find which version carries the alias `champion` in MLflow 3.17?
# - a) `client.search_model_versions(...)[0].aliases`
# - b) `client.get_registered_model(name).aliases`, or `client.get_model_version_by_alias(name, "champion")`
# - c) look for the version in stage "Production"
# - d) `mlflow.get_alias(name)`

# %%
import hashlib

import mlflow

from course.tracking import use_experiment

experiment = use_experiment(experiment_name, tracking_uri)

# Fingerprints of the right answers: sha256("<question>:<letter>"), first 16 hex digits.
FINGERPRINTS = {
    "q1": "de5bd8bd9e3b0d55", "q2": "a65159c53aa91ad7", "q3": "b84980d782d93f85", "q4": "773017f7778f4b23",
    "q5": "a0b5031d0c197ffb", "q6": "c884d7d23d349fd0", "q7": "d7613b2518502e3a", "q8": "bfb84d7252f59249",
    "q9": "d1e64c9f0b17aa31", "q10": "edc662cb41df36c1",
}
EXPLANATIONS = {
    "q1": "A signature is saved only from signature= or input_example=; without them there is none, and no warning.",
    "q2": "Artifacts live in the artifact store, never in the tracking database; the experiment's artifact location decides where.",
    "q3": "MLflow 3.17's UI opens experiments in the GenAI view; the runs table is under 'Model training'.",
    "q4": "MLproject declares entry points, typed parameters and the environment; `mlflow run` runs them.",
    "q5": "Code, data, parameters with seeds and environment together, confirmed by a re-run that matches.",
    "q6": "python_env.yaml lists pip requirement specifiers, and pip pins with `==`; conda's single `=` is rejected.",
    "q7": "MLflow 3 makes each logged model a LoggedModel; `runs:/<id>/model` still resolves to it.",
    "q8": "Since MLflow 3.7 the default is a SQLite file in the working directory, so set the URI explicitly.",
    "q9": "The .dvc file records the md5 of the content; `dvc status` only reports changes, and --show-json is not an option.",
    "q10": "search_model_versions returns empty alias lists in 3.17; ask the registered model or look the alias up.",
}
answers = {q: globals()[q].strip().lower() for q in FINGERPRINTS}


def is_right(question: str, answer: str) -> bool:
    return hashlib.sha256(f"{question}:{answer}".encode()).hexdigest()[:16] == FINGERPRINTS[question]


# %% [markdown]
# ## Your answers, checked

# %%
score = 0
for question, answer in answers.items():
    if not answer:
        print(f"{question:>4}: not answered yet")
        continue
    right = is_right(question, answer)
    score += right
    print(f"{question:>4}: {answer} is {'right' if right else 'not right'}. {EXPLANATIONS[question]}")
print(f"\nscore: {score}/{len(answers)}")

# %% [markdown]
# ## Log the answers
#
# One run holds the answers as parameters and the score as a metric; a new attempt is a new run,
# and the grader reads the latest.

# %%
with mlflow.start_run(run_name="quiz-answers"):
    mlflow.log_params({q: a or "-" for q, a in answers.items()})
    mlflow.log_metric("score", score)
    mlflow.set_tag("purpose", "quiz")
print("answers logged")

# %% [markdown]
# ## Check yourself
#
# The grader scores the logged answers one point each and gives a hint for each one it marks
# wrong.

# %%
from grading import check

check("10-quiz")

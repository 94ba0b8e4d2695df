# %% [markdown]
# # 05 · Plots, tables and files: artifacts
#
# Parameters and metrics are numbers in a database. Everything else a run produces, such as a
# confusion matrix, the feature importances, a table of predictions, is an **artifact**: a file
# stored with the run in the artifact store, listed and viewed in the run's **Artifacts** tab.
#
# MLflow logs common objects directly, with no file left on your disk:
#
# | call | logs | as |
# |---|---|---|
# | `mlflow.log_figure(fig, "x.png")` | a matplotlib (or plotly) figure | an image |
# | `mlflow.log_dict(d, "x.json")` | a dict | JSON (or YAML, by extension) |
# | `mlflow.log_table(df, "x.json")` | a DataFrame | a table the UI can display and compare |
# | `mlflow.log_text(s, "x.txt")` | a string | a text file |
#
# Files that your own code writes (a text report, a folder of CSVs, anything) go up with
# `mlflow.log_artifact(path, artifact_path=...)` for one file and
# `mlflow.log_artifacts(folder, artifact_path=...)` for a whole folder. Write them into a
# temporary folder: files written into the notebook's folder are left behind, and two notebooks
# writing the same name at once overwrite each other.
#
# Afterwards you list the run's artifacts and download them back, as a colleague or a grader
# would.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "iris-artifacts"  # experiment that receives the run
seed: int = 42  # seeds numpy, random, the split and the forest; logged as random_state
n_estimators: int = 100  # number of trees in the forest
test_size: float = 0.2  # fraction of the data held out for evaluation

# %%
import json
import random
import shutil
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, classification_report, log_loss
from sklearn.model_selection import train_test_split

from course.learner import named
from course.tracking import use_experiment

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
random.seed(seed)
np.random.seed(seed)
experiment = use_experiment(experiment_name, tracking_uri)
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")

iris = load_iris(as_frame=True)
X, y = iris.data, iris.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed)
clf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed).fit(X_train, y_train)
y_pred = clf.predict(X_test)
print(f"accuracy: {accuracy_score(y_test, y_pred):.4f}")

# %% [markdown]
# ## Build the three artifacts
#
# - a **confusion matrix** (rows: true class, columns: predicted class), as a figure;
# - the **feature importances**, keyed by the real feature names rather than `feature_0`;
# - a **per-class report** (precision, recall, F1, support) as a table.

# %%
fig, ax = plt.subplots(figsize=(4.5, 4))
ConfusionMatrixDisplay.from_predictions(
    y_test, y_pred, display_labels=iris.target_names, ax=ax, colorbar=False
)
ax.set_title("Iris test set")
fig.tight_layout()

importances = {
    name: round(float(value), 6)
    for name, value in sorted(zip(X.columns, clf.feature_importances_), key=lambda kv: -kv[1])
}

report = classification_report(y_test, y_pred, target_names=iris.target_names, output_dict=True)
per_class = (
    pd.DataFrame({name: report[name] for name in iris.target_names})
    .T.reset_index(names="class")
    .round(4)
)
print(json.dumps(importances, indent=2))
print(per_class.to_string(index=False))

# %% [markdown]
# ## Log them with the run

# %%
with mlflow.start_run(run_name="rf-with-artifacts") as run:
    mlflow.log_params({"n_estimators": n_estimators, "random_state": seed, "test_size": test_size})
    mlflow.log_metric("accuracy", accuracy_score(y_test, y_pred))
    mlflow.log_figure(fig, "confusion_matrix.png")
    mlflow.log_dict(importances, "feature_importances.json")
    mlflow.log_table(per_class, artifact_file="per_class_metrics.json")
    # Files this code writes itself: one with log_artifact, a folder with log_artifacts.
    with tempfile.TemporaryDirectory() as scratch:
        report_file = Path(scratch) / "classification_report.txt"
        report_file.write_text(classification_report(y_test, y_pred, target_names=iris.target_names))
        mlflow.log_artifact(str(report_file), artifact_path="reports")
        predictions_dir = Path(scratch) / "predictions"
        predictions_dir.mkdir()
        X_test.assign(true_class=y_test, predicted_class=y_pred).to_csv(predictions_dir / "test.csv", index=False)
        (predictions_dir / "README.txt").write_text("One row per test flower: features, true and predicted class.\n")
        mlflow.log_artifacts(str(predictions_dir), artifact_path="predictions")
    mlflow.sklearn.log_model(
        clf,
        name="model",
        input_example=X_train.head(5),
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],  # named: inference costs seconds (section 02)
    )
plt.close(fig)
print("Logged run:", run.info.run_name)

# %% [markdown]
# ## List and download them back
#
# `MlflowClient().list_artifacts(run_id)` lists a run's files (the model is not among them: in
# MLflow 3 it is a LoggedModel of its own, see section 02). `mlflow.artifacts.download_artifacts`
# copies files from the artifact store to a local folder, whether that store is a folder, a
# tracking server's proxy or an S3 bucket.

# %%
client = mlflow.MlflowClient()
for item in client.list_artifacts(run.info.run_id):
    print(item.path + ("/" if item.is_dir else ""), "(empty!)" if item.file_size == 0 else "")

# %%
download_dir = Path(tempfile.mkdtemp(prefix="artifacts-"))
local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(download_dir)))
print(sorted(p.name for p in local.iterdir()))

downloaded_importances = json.loads((local / "feature_importances.json").read_text())
print("Feature importances survive the round trip:", downloaded_importances == importances)

# %% [markdown]
# The table comes back as a DataFrame with `mlflow.load_table`, and the image is an ordinary PNG:

# %%
loaded_table = mlflow.load_table("per_class_metrics.json", run_ids=[run.info.run_id])
print(loaded_table.to_string(index=False))
# The table is stored as JSON, which keeps values but not dtypes: a float column whose values
# are all whole numbers (precision 1.0) comes back as integers.
print("dtypes logged:", dict(per_class.dtypes.astype(str)))
print("dtypes loaded:", dict(loaded_table.dtypes.astype(str)))

# %%
from IPython.display import Image

picture = Image(filename=str(local / "confusion_matrix.png"))  # reads the file now
shutil.rmtree(download_dir)  # the downloaded copies have served their purpose
picture

# %% [markdown]
# ## A metric over steps
#
# A metric logged with `step=` keeps every value: `mlflow.log_metric(key, value, step=n)` adds a
# point to the metric's history, and the run page's **Model metrics** tab draws the history as
# a curve (pick the step as the x-axis). Here a forest grows ten trees at a time
# (`warm_start=True` keeps the trees it has) and logs its test log loss after each stage: the
# accuracy on these 30 test flowers is 1.0 from the start, but the predicted probabilities
# change with every stage, so the log loss draws a curve. The run's `data.metrics` holds only
# the latest value; `get_metric_history` returns the curve.

# %%
with mlflow.start_run(run_name="forest-growing") as growing:
    mlflow.log_params({"random_state": seed, "trees_per_stage": 10, "test_size": test_size})
    forest = RandomForestClassifier(n_estimators=10, warm_start=True, random_state=seed)
    for n_trees in range(10, 101, 10):
        forest.set_params(n_estimators=n_trees).fit(X_train, y_train)
        mlflow.log_metric("test_log_loss", log_loss(y_test, forest.predict_proba(X_test)), step=n_trees)

history = mlflow.MlflowClient().get_metric_history(growing.info.run_id, "test_log_loss")
print("history (trees, log loss):", [(m.step, round(m.value, 4)) for m in sorted(history, key=lambda m: m.step)])
print("run.data.metrics keeps the last value only:", mlflow.get_run(growing.info.run_id).data.metrics)

# %% [markdown]
# ## Check yourself
#
# - Which call logs a DataFrame so that the UI can show it as a table?
# - How do you log a metric so that the UI can draw its curve, and how do you read it back?
# - Why log a figure with `log_figure` instead of `savefig` plus `log_artifact`?
# - The model was logged in the same run. Why is it not in `list_artifacts`?
# - How would a colleague get `confusion_matrix.png` from a run on a remote server?
#
# Then let the grader confirm what this notebook logged. It reads the tracking store, in a
# separate process, and lists each check with its points and, for a failure, what to do.

# %%
from grading import check

check("05-plots-artifacts")

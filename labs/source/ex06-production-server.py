# %% [markdown]
# # Exercises 06 · Log through the team server, and find your model in its bucket
#
# Section 06 ran a team stack: an S3 bucket for files and one `mlflow server` in front of it,
# which alone holds the bucket's keys. Here the first cell starts such a stack for you, and you
# use it as a team member would: you log through the server, with no keys of your own. Then you
# change hats and, as the bucket's administrator, find your model's files among the objects.
#
# The stack is small on purpose. Its server keeps metadata in this course's store (the one
# `MLFLOW_TRACKING_URI` names, so the self-checks can read it) instead of PostgreSQL, and its
# files in a SeaweedFS bucket started on 127.0.0.1 for this notebook. (On a class server, whose
# database you cannot reach, it keeps them in a store of your own, `~/course/own-server-store`,
# and your instructor grades this set from your handed-in notebook.)
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. Run the last cells too: they back the bucket up and stop
# the stack.

# %% tags=["parameters"]
experiment_name: str = "ex06-team"  # experiment you create through the team server
seed: int = 42  # seeds numpy and the model; logged as random_state (the split's seed is fixed in course/labdata)

# %%
import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import sklearn
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from course import stack
from course.labdata import ex06 as lab_data
from course.learner import named
from course.tracking import artifact_root_for, own_server_store
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
np.random.seed(seed)
# The labels are integers, and inferring the output schema warns about missing values they cannot hold.
warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
store_uri = own_server_store()  # MLFLOW_TRACKING_URI's SQLite store; your own one on a class server
X_train, X_val, X_test, y_train, y_val, y_test = lab_data.split()  # the grader scores on the same rows

stack_folder = Path(tempfile.mkdtemp(prefix="ex06-stack-"))
s3 = stack.start_s3(stack_folder)  # SeaweedFS with a bucket named "mlflow", and its own keys
destination = f"s3://{s3.bucket}/team"  # the server writes every file under this prefix
# The keys go into the server's environment only; this notebook never sets them.
server = stack.start_mlflow(stack_folder, store_uri, destination, extra_env=s3.env())
server_url = server.url


def stop_stack() -> None:
    server.service.stop()
    s3.service.stop()
    shutil.rmtree(stack_folder, ignore_errors=True)


atexit.register(stop_stack)  # a kernel that stops early still stops the stack
print("team server:", server_url)
print("its artifacts destination:", destination)
print("this notebook holds the bucket's keys:", any(key in os.environ for key in s3.env() if key.startswith("AWS_")))

# %% [markdown]
# ## Exercise 1: log a model through the team server
#
# 1. Point this notebook at the team server with `mlflow.set_tracking_uri(server_url)` and
#    create the experiment `experiment_name` through it (`mlflow.set_experiment`). Do not give
#    it an `artifact_location`: the server then gives it an `mlflow-artifacts:/` location, and
#    every file goes through the server into the bucket.
# 2. Fit `LogisticRegression(max_iter=500, random_state=seed)` on `X_train, y_train`.
# 3. In one run, log the parameter `random_state`, the metric `accuracy` on the test rows
#    (`X_test, y_test`), and the model with `mlflow.sklearn.log_model(model, name="model",
#    input_example=X_train.head(3), pip_requirements=[f"scikit-learn=={sklearn.__version__}"])`.
#    The example gives it a signature; the named requirement spares a second Python that would
#    load the model only to find it. Keep the run's id in `run_id` and what `log_model` returns
#    in `model_info`.

# %%
### BEGIN SOLUTION
mlflow.set_tracking_uri(server_url)
mlflow.set_experiment(experiment_name)
model = LogisticRegression(max_iter=500, random_state=seed).fit(X_train, y_train)
with mlflow.start_run(run_name="through-the-team-server") as run:
    mlflow.log_param("random_state", seed)
    mlflow.log_metric("accuracy", accuracy_score(y_test, model.predict(X_test)))
    model_info = mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3),
                                          pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
run_id = run.info.run_id
### END SOLUTION
print("experiment's artifact location:", mlflow.get_experiment_by_name(experiment_name).artifact_location)
print("the model's files:", mlflow.get_logged_model(model_info.model_id).artifact_location)

# %% [markdown]
# The self-check asks the team server, which reads the model's files from the bucket for you.

# %%
check("ex06-production-server", tracking_uri=server_url, only=["team-experiment", "team-model", "team-truthful"])

# %% [markdown]
# ## Exercise 2: find the model in the bucket
#
# Now you are the bucket's administrator: `s3.client()` is a boto3 client with the keys, and
# `s3.keys(prefix)` lists every object key under a prefix of the bucket `s3.bucket`.
#
# 1. Find the key of your model's `MLmodel` file among the objects under `team/`. In MLflow 3 a
#    logged model is an entity of its own, with an id (`model_info.model_id`); its files are not
#    inside the run's folder.
# 2. Read that object from the bucket (`s3.client().get_object(Bucket=..., Key=...)["Body"]`),
#    parse it with `yaml.safe_load`, and print the signature's inputs.
# 3. Record where you found it: tag the run with `bucket_key` set to the key, with
#    `MlflowClient.set_tag`, which tags a finished run as well.

# %%
### BEGIN SOLUTION
key = next(k for k in s3.keys("team/") if k.endswith(f"/models/{model_info.model_id}/artifacts/MLmodel"))
mlmodel = yaml.safe_load(s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read())
print("signature inputs:", mlmodel["signature"]["inputs"])
mlflow.MlflowClient().set_tag(run_id, "bucket_key", key)
### END SOLUTION
print("bucket_key:", mlflow.get_run(run_id).data.tags.get("bucket_key"))

# %%
check("ex06-production-server", tracking_uri=server_url, only=["bucket-key"])

# %% [markdown]
# ## Back up the bucket, then stop the stack
#
# The store holds your runs' metadata; the bucket holds their files. One without the other is a
# broken record, so a backup takes both. Run this cell as it is: it copies every object under
# `team/` into the `artifacts` folder beside the store's database, the folder `make ui` serves
# files from (an `mlflow-artifacts:/<path>` URI is `artifacts/<path>` there). Then it stops the
# server and the S3 store by their process ids and removes the stack's folder.

# %%
backup = artifact_root_for(store_uri)
objects = s3.keys("team/")
for key in objects:
    target = backup / key.removeprefix("team/")
    target.parent.mkdir(parents=True, exist_ok=True)
    s3.client().download_file(s3.bucket, key, str(target))
print(len(objects), "objects copied from the bucket to the store's artifacts folder")
stop_stack()
mlflow.set_tracking_uri(store_uri)
print("server stopped:", not server.service.running(), "| S3 stopped:", not s3.service.running())

# %% [markdown]
# ## Check everything
#
# The self-check now reads the store and the backup directly, with the stack stopped.

# %%
check("ex06-production-server")

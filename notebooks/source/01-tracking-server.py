# %% [markdown]
# # 01 · The tracking server: where MLflow keeps your runs
#
# Everything MLflow records goes to one of two places:
#
# | store | holds | typical choices |
# |---|---|---|
# | **backend store** | metadata: experiments, runs, parameters, metrics, tags, model registry | SQLite for one person, PostgreSQL or MySQL for a team |
# | **artifact store** | files: models, plots, tables, data samples | a local folder, S3 (or an S3-compatible server), Azure Blob, GCS |
#
# A **tracking server** (`mlflow server`) sits in front of both. Clients speak HTTP to it;
# it writes metadata to the backend store and, with *artifact proxying* (on by default),
# streams files into the artifact store for them, so learners' laptops need no cloud
# credentials.
#
# In this notebook you will:
#
# 1. see what MLflow does when you tell it nothing, and why the course never relies on that;
# 2. start a real `mlflow server` from Python on a free port;
# 3. wait until it reports healthy, point the client at it and log a smoke-test run;
# 4. find the run's artifact on disk, behind the proxy;
# 5. stop the server by its process id.

# %% tags=["parameters"]
tracking_uri: str = ""  # MLflow tracking URI; empty means $MLFLOW_TRACKING_URI, else the course's SQLite store
experiment_name: str = "smoke-test"  # experiment that receives the smoke-test run
seed: int = 42  # seed for every random source; logged as a parameter
server_port: int = 0  # port for the notebook's own server; 0 picks a free one
startup_timeout: int = 90  # seconds to wait for the server's /health endpoint

# %%
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from course import paths
from course.learner import named
from course.tracking import artifact_root_for, resolve_uri

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
random.seed(seed)
np.random.seed(seed)

store_uri, source = resolve_uri(tracking_uri)
print(f"Store for this notebook: {store_uri}  (from {source})")

# %% [markdown]
# ## 1. What happens when you tell MLflow nothing
#
# With `MLFLOW_TRACKING_URI` unset, MLflow 3.7 and later use **`sqlite:///mlflow.db` in the
# current working directory**. A notebook started from another folder therefore writes to a
# different database, and its runs seem to vanish. (If an old `./mlruns` folder holds
# file-store data, MLflow picks that instead.)
#
# The plain file store (`file:./mlruns`, or a bare path) is in maintenance mode: since MLflow
# 3.13 it raises an error unless `MLFLOW_ALLOW_FILE_STORE=true` is set. The error says how to
# leave it: `mlflow migrate-filestore --source ./mlruns --target sqlite:///ABSOLUTE/PATH/mlflow.db`
# copies the old runs into a SQLite store once.
#
# The cell below asks a fresh Python process, started in an empty folder with no
# `MLFLOW_TRACKING_URI`, what it would use, then tries the file store.

# %%
probe = """
import textwrap
import mlflow
print("default URI:", mlflow.get_tracking_uri().replace(__import__("os").getcwd(), "<cwd>"))
mlflow.set_tracking_uri("file:./mlruns")
try:
    mlflow.search_experiments()
except mlflow.exceptions.MlflowException as exc:
    print("file store refused:")
    print(textwrap.fill(str(exc), width=96, initial_indent="  ", subsequent_indent="  "))
"""
clean_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
with tempfile.TemporaryDirectory() as empty_dir:
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=empty_dir, env=clean_env,
        capture_output=True, text=True, timeout=120,
    )
print(result.stdout.strip())

# %% [markdown]
# So the course always names its store explicitly. Every notebook has a `tracking_uri`
# parameter; when it is empty the notebook uses `MLFLOW_TRACKING_URI`, and when that is unset
# too it uses the course's own SQLite file, `.course/mlflow.db` at the top of the repository,
# with artifacts in `.course/artifacts/`. No notebook ever writes a stray `mlflow.db` into
# whatever folder its kernel started in.
#
# ## 2. Start a tracking server
#
# The syllabus starts the server with `--default-artifact-root ./mlruns --host 0.0.0.0`.
# On MLflow 3 that is not what you want:
#
# - `--artifacts-destination` is where a *proxying* server stores files. `--default-artifact-root`
#   is the location the server hands to clients, who then write there directly, which only
#   works when every client can reach that path.
# - `--host 0.0.0.0` listens on every network interface. On your own machine, `127.0.0.1`
#   (the default) keeps the server private.
# - `--workers 1` and `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` make a single-user server
#   start in seconds instead of half a minute.
#
# The server below uses this notebook's store as its backend, so the smoke-test run lands in the
# same database as everything else you log. If `tracking_uri` already names a running server
# (`http://...`), the notebook uses that one and starts nothing.

# %%
def free_port() -> int:
    """Ask the OS for a port nobody is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


own_server = not store_uri.startswith(("http://", "https://"))
server = None
if own_server:
    port = server_port or free_port()
    server_url = f"http://127.0.0.1:{port}"
    artifacts_dir = artifact_root_for(store_uri)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    server_log = open(Path(tempfile.gettempdir()) / f"mlflow-server-{port}.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", store_uri,
            "--artifacts-destination", str(artifacts_dir),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", "1",
        ],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=server_log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops its workers too
    )
    print(f"Started mlflow server, PID {server.pid}, at {server_url}")
else:
    server_url = store_uri
    print(f"Using the server that is already running at {server_url}")

# %% [markdown]
# ## 3. Wait for `/health`
#
# A server process that has started is not yet a server that answers. `GET /health` returns
# `OK` once it can serve requests. Poll it, and give up with a clear message rather than hang.

# %%
def wait_for_health(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"mlflow server exited with code {server.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.read().decode().strip() == "OK":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url}/health did not answer OK within {timeout} s")


wait_for_health(server_url, startup_timeout)
print("Server is healthy:", server_url)

# %% [markdown]
# ## 4. Point the client at the server and log a smoke-test run
#
# `mlflow.set_tracking_uri()` (or the `MLFLOW_TRACKING_URI` variable) is all a client needs.
# The run below logs a parameter, a metric and a small text artifact. Its artifact URI starts
# with `mlflow-artifacts:/`: the client uploads through the server, which writes into the
# artifact store.

# %%
import mlflow

from course.tracking import use_experiment

experiment = use_experiment(experiment_name, server_url)
with mlflow.start_run(run_name="smoke-test") as run:
    mlflow.log_param("seed", seed)
    mlflow.log_metric("smoke_value", 1.0)
    mlflow.log_text("The tracking server is reachable.\n", "smoke/hello.txt")
    artifact_uri = mlflow.get_artifact_uri()

print("Run status:  ", mlflow.get_run(run.info.run_id).info.status)
print("Artifact URI:", artifact_uri.split(":/")[0] + ":/...")
print("Artifacts:   ", [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "smoke")])

# %% [markdown]
# Behind the proxy the file is an ordinary file in the artifact store (here a folder beside
# the database; on a team server an S3 bucket):

# %%
if own_server:
    on_disk = sorted(artifacts_dir.rglob("hello.txt"))
    print("Found on disk:", [p.relative_to(artifacts_dir).parts[-2:] for p in on_disk if run.info.run_id in str(p)])

# %% [markdown]
# ## 5. "The UI shows no experiments": ask the doctor
#
# When runs seem to vanish, the cause is nearly always the URI: another folder's `mlflow.db`, a
# server that is not the one you logged to, a typo in an experiment's name. The course's doctor,
# `python -m grading doctor`, checks the usual causes in order and prints a fix for each problem
# (it only reads; it creates nothing). Here it is run twice on purpose-made mistakes: a store in
# a folder nobody logged to, and this server with the experiment's name mistyped.

# %%
def doctor(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "grading", "doctor", *args], capture_output=True, text=True,
                          timeout=120, cwd=paths.ROOT)
    print(f"$ python -m grading doctor {' '.join(args)}   (exit code {done.returncode})")
    print(done.stdout.strip(), "\n")


with tempfile.TemporaryDirectory() as elsewhere:
    doctor("--tracking-uri", f"sqlite:///{elsewhere}/mlflow.db")
doctor("--tracking-uri", server_url, "--experiment", experiment_name[:-2] + experiment_name[:-3:-1])  # last two swapped

# %% [markdown]
# ## 6. Stop the server by its process id
#
# A server you start is a server you stop. Because it runs in its own process group, signalling
# the group stops the server and any workers it started. Afterwards `/health` no longer answers.

# %%
import signal

if own_server:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    server_log.close()
    try:
        urllib.request.urlopen(f"{server_url}/health", timeout=2)
        print("Server still answers!")
    except OSError:
        print(f"Server PID {server.pid} stopped; /health no longer answers.")

# %% [markdown]
# ## Check yourself
#
# - Which store holds a run's metrics, and which holds its model files?
# - What URI does MLflow use when `MLFLOW_TRACKING_URI` is unset, and why does that make runs
#   "disappear" when you start Jupyter from another folder?
# - What does `--artifacts-destination` do that `--default-artifact-root` does not?
# - Why poll `/health` instead of sleeping for a fixed time?
# - How do you make sure a server you started is really gone?
#
# Then let the grader confirm what this notebook logged. It reads the tracking store, in a
# separate process, and lists each check with its points and, for a failure, what to do.
# (Section 01's server has stopped, so the check reads the store it wrote to.)

# %%
from grading import check

check("01-tracking-server", tracking_uri=store_uri)

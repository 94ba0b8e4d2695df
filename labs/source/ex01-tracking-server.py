# %% [markdown]
# # Exercises 01 · Your own tracking server, and its artifact proxy
#
# Section 01 started `mlflow server` on this course's store and logged a run through it. Here
# you do it yourself: start a server, point a client at it, create an experiment through it and
# log a file that travels through the server's artifact proxy. Then you stop the server by its
# process id.
#
# Fill in each cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError` line), run
# it, then run the self-check below it. The store comes from `MLFLOW_TRACKING_URI` (`make lab`
# sets it); the server you start uses that same store as its backend. On a class server, where
# `MLFLOW_TRACKING_URI` is the class's server, your server gets a store of your own instead, in
# `~/course/own-server-store`; your instructor grades this set from your handed-in notebook.

# %% tags=["parameters"]
experiment_name: str = "ex01-proxied"  # experiment you create through your server
seed: int = 42  # seeds numpy; logged as random_state (nothing here draws random numbers)

# %%
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
import numpy as np

from course.learner import named
from course.tracking import artifact_root_for, own_server_store
from grading import check

experiment_name = named(experiment_name)  # your username comes first on a class server; see course/learner.py
np.random.seed(seed)
store_uri = own_server_store()  # MLFLOW_TRACKING_URI's SQLite store; your own one on a class server
artifacts_dir = artifact_root_for(store_uri)  # beside the store's database: where the grader looks
print("store:", store_uri)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no answer from {url}/health within {timeout:.0f} s")

# %% [markdown]
# ## Exercise 1: start the server and create an experiment through it
#
# 1. Start `mlflow server` in the background with `subprocess.Popen([sys.executable, "-m",
#    "mlflow", "server", ...], start_new_session=True)`, on `127.0.0.1` and a `free_port()`,
#    with `store_uri` as its `--backend-store-uri` and `artifacts_dir` as its
#    `--artifacts-destination`. Keep the `Popen` in `server` and the address
#    `http://127.0.0.1:<port>` in `server_url`; call `wait_for_health(server_url)`. (Adding
#    `--workers 1` and the environment variable `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` makes
#    it start faster.)
# 2. Point this notebook's client at the server with `mlflow.set_tracking_uri(server_url)`, and
#    create the experiment `experiment_name` with `mlflow.set_experiment`. Created through the
#    server, its artifact location is `mlflow-artifacts:/...`: clients send files to the server,
#    which writes them to `artifacts_dir`.

# %%
### BEGIN SOLUTION
port = free_port()
server_url = f"http://127.0.0.1:{port}"
server = subprocess.Popen(
    [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
     "--artifacts-destination", str(artifacts_dir), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
    env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
)
wait_for_health(server_url)
mlflow.set_tracking_uri(server_url)
experiment = mlflow.set_experiment(experiment_name)
### END SOLUTION
print("artifact location:", mlflow.get_experiment_by_name(experiment_name).artifact_location)

# %%
check("ex01-tracking-server", only=["proxied-experiment"])

# %% [markdown]
# ## Exercise 2: a run whose file goes through the proxy
#
# In `experiment_name`, through the server, log a run with the parameter `random_state` (`seed`)
# and a text file `hello.txt` (`mlflow.log_text`). The client never touches `artifacts_dir`
# itself: it uploads to the server. Keep the run's id in `run_id`.

# %%
### BEGIN SOLUTION
with mlflow.start_run(run_name="through-the-proxy") as run:
    mlflow.log_param("random_state", seed)
    mlflow.log_text("logged through the server's artifact proxy\n", "hello.txt")
run_id = run.info.run_id
### END SOLUTION
print("artifact URI:", mlflow.get_run(run_id).info.artifact_uri)
print("files on the server's side:", sorted(p.name for p in artifacts_dir.rglob("hello.txt")))

# %%
check("ex01-tracking-server", only=["proxied-file"])

# %% [markdown]
# ## Stop the server by its process id
#
# The server runs in its own session, so signalling its process group stops its worker too.
# Run this cell as it is; afterwards nothing answers on the port.

# %%
os.killpg(server.pid, signal.SIGTERM)
server.wait(timeout=30)
try:
    urllib.request.urlopen(f"{server_url}/health", timeout=2)
    print("still answering")
except OSError:
    print("stopped: nothing answers on", server_url.rsplit(":", 1)[0] + ":<port>")

# %% [markdown]
# ## Check everything
#
# The self-check reads the store directly, so it works with the server stopped.

# %%
mlflow.set_tracking_uri(store_uri)
check("ex01-tracking-server")

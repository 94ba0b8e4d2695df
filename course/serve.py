"""Serve the course store for learners: ``python -m course.serve [--lab]``.

Starts ``mlflow server`` on the course's SQLite store (artifacts proxied from
``.course/artifacts``) and, with ``--lab``, JupyterLab with
``MLFLOW_TRACKING_URI`` pointing at that server. Ctrl-C stops both.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

from course import paths
from course.stack import free_port as any_free_port, port_is_free
from course.tracking import artifact_root_for

STARTUP_TIMEOUT = 120


def free_port(preferred: int) -> int:
    return preferred if preferred and port_is_free(preferred) else any_free_port()


def start_server(store_uri: str, port: int) -> subprocess.Popen:
    artifacts = artifact_root_for(store_uri)
    artifacts.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
         "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        start_new_session=True,
    )


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = STARTUP_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.read().strip() == b"OK":
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true", help="also start JupyterLab, pointed at the server")
    parser.add_argument("--port", type=int, default=5000, help="MLflow port (default 5000, or a free one if taken)")
    parser.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port (default 8888, or a free one)")
    args = parser.parse_args(argv)

    # Ctrl-C and `kill` both stop the servers cleanly. The handlers are set explicitly because a
    # process started in the background by a script inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    store_uri = paths.sqlite_uri(paths.default_store_dir())
    paths.default_store_dir().mkdir(parents=True, exist_ok=True)
    port = free_port(args.port)
    url = f"http://127.0.0.1:{port}"
    print(f"Starting the MLflow server on {store_uri} (first start takes a few seconds)...", flush=True)
    server = start_server(store_uri, port)
    processes = [server]
    try:
        if not wait_healthy(url, server):
            print(f"error: the MLflow server did not become healthy within {STARTUP_TIMEOUT} s; "
                  "is another process using the store?", file=sys.stderr)
            return 2
        print(f"MLflow UI:        {url}")
        print(f"Runs of an experiment: {url}/#/experiments/<id>?workflowType=machine_learning")
        print(f"In a shell:       export MLFLOW_TRACKING_URI={url}")
        if args.lab:
            lab_port = free_port(args.lab_port)
            lab = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1",
                 "--port", str(lab_port), f"--ServerApp.root_dir={paths.ROOT}"]
                # Containers and CI run as root, which JupyterLab refuses unless told.
                + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                env={**os.environ, "MLFLOW_TRACKING_URI": url},
                start_new_session=True,
            )
            processes.append(lab)
            print(f"JupyterLab:       http://127.0.0.1:{lab_port}/lab (the login token is printed below)")
            print("                  open notebooks/ or labs/; asked for a kernel, pick Python 3 (ipykernel)")
        print("Press Ctrl-C to stop.", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        names = {server.pid: "the MLflow server"} | ({processes[1].pid: "JupyterLab"} if args.lab else {})
        gone = next(p for p in processes if p.poll() is not None)
        print(f"error: {names[gone.pid]} exited with code {gone.returncode}; its output above says why", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
        print("Stopped.")


if __name__ == "__main__":
    sys.exit(main())

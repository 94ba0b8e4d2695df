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

from course import paths, stack
from course.tracking import artifact_root_for

STARTUP_TIMEOUT = 120


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
    artifacts = artifact_root_for(store_uri)
    artifacts.mkdir(parents=True, exist_ok=True)
    print(f"Starting the MLflow server on {store_uri} (first start takes a few seconds)...", flush=True)
    try:
        server = stack.start_mlflow(paths.default_store_dir() / "server", store_uri, str(artifacts),
                                    port=stack.port_or_free(args.port), timeout=STARTUP_TIMEOUT)
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    services = [server.service]
    try:
        url = server.url
        print(f"MLflow UI:        {url}")
        print(f"Runs of an experiment: {url}/#/experiments/<id>?workflowType=machine_learning")
        print(f"In a shell:       export MLFLOW_TRACKING_URI={url}")
        print(f"Server log:       {server.service.log}")
        if args.lab:
            lab_port = stack.port_or_free(args.lab_port)
            lab = subprocess.Popen(  # its output stays on this terminal: the login token is in it
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1",
                 "--port", str(lab_port), f"--ServerApp.root_dir={paths.ROOT}"]
                # Containers and CI run as root, which JupyterLab refuses unless told.
                + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                env={**os.environ, "MLFLOW_TRACKING_URI": url},
                start_new_session=True,
            )
            services.append(stack.Service("JupyterLab", lab, None))
            print(f"JupyterLab:       http://127.0.0.1:{lab_port}/lab (the login token is printed below)")
            print("                  open notebooks/ or labs/; asked for a kernel, pick Python 3 (ipykernel)")
        print("Press Ctrl-C to stop.", flush=True)
        while all(service.running() for service in services):
            time.sleep(1)
        gone = next(service for service in services if not service.running())
        log = f"; see {gone.log}" if gone.log else "; its output above says why"
        print(f"error: {gone.name} exited with code {gone.process.returncode}{log}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        print("Stopped.")


if __name__ == "__main__":
    sys.exit(main())

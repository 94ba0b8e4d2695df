"""Fail fast, in one line, when a tracking URI cannot work."""
from __future__ import annotations

import base64
import concurrent.futures
import configparser
import os
import urllib.error
import urllib.request
from pathlib import Path

from course import uris

from grading.errors import UsageError, first_line

START_HINT = (
    "start one with `make ui` (serves the course store) or "
    "`mlflow server --host 127.0.0.1 --port 5000`, or leave out --tracking-uri to use the course's SQLite store"
)


def ensure_reachable(uri: str, timeout: float = 10.0) -> None:
    if uris.is_server(uri):
        _check_server(uri, timeout)
    elif uris.scheme(uri) == "sqlite":
        _check_sqlite(uri)
    elif uris.is_file_store(uri):
        raise UsageError(
            f"{uri} is a file store, which MLflow refuses since 3.13; use sqlite:///ABSOLUTE/PATH/mlflow.db"
        )
    else:
        probe_store(uri, timeout)


def _check_server(uri: str, timeout: float) -> None:
    problem = server_problem(uri, timeout)
    if problem:
        what, fix = problem
        raise UsageError(f"{what}; {fix}")


def server_problem(uri: str, timeout: float = 10.0) -> tuple[str, str] | None:
    """(what is wrong, what to do) for a tracking server, or None when it serves the API.

    /health answers whatever the Host header says, so an API request is made too: that is where
    the server's Host-header check answers 403."""
    base = uri.rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=timeout) as response:
            body = response.read(100).decode(errors="replace").strip()
        if body != "OK":
            return f"{base}/health answered {body!r}, not OK", "check that the URL points at an MLflow server"
        probe = urllib.request.Request(f"{base}/api/2.0/mlflow/experiments/search?max_results=1",
                                       headers=_auth_headers())
        with urllib.request.urlopen(probe, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            username, password = _credentials()
            what = f"the server at {uri} answered 401 Unauthorized: " + (
                f"it does not accept the login given for user {username!r}" if username and password
                else "it requires a login")
            return what, ("set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to your account on it "
                          "(ask whoever runs the server for one)")
        if exc.code == 403:
            host = uris.host(uri)
            return (f"the server at {uri} answered 403 Forbidden: its Host-header check rejects {host!r}",
                    f"restart the server with --allowed-hosts {host} (or set MLFLOW_SERVER_ALLOWED_HOSTS) to the "
                    "host name and port clients use, e.g. the service name other containers use")
        return f"{exc.url} answered HTTP {exc.code}", "check that the URL points at an MLflow server"
    except (urllib.error.URLError, OSError) as exc:
        return f"no MLflow tracking server answers at {uri} ({getattr(exc, 'reason', exc)})", START_HINT


def _credentials() -> tuple[str | None, str | None]:
    """Username and password as MLflow's client finds them: the environment, else ~/.mlflow/credentials."""
    file_user = file_password = None
    config = configparser.ConfigParser()
    try:
        config.read(Path.home() / ".mlflow" / "credentials")
        if config.has_section("mlflow"):
            file_user = config["mlflow"].get("mlflow_tracking_username")
            file_password = config["mlflow"].get("mlflow_tracking_password")
    except (configparser.Error, OSError, RuntimeError):  # RuntimeError: no home folder
        pass  # an unreadable file logs in no one; the server's 401 then says what to set
    return (os.environ.get("MLFLOW_TRACKING_USERNAME") or file_user,
            os.environ.get("MLFLOW_TRACKING_PASSWORD") or file_password)


def _auth_headers() -> dict[str, str]:
    # The probe must log in as MLflow's client will, or a server with auth looks broken.
    username, password = _credentials()
    if username and password:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _check_sqlite(uri: str) -> None:
    database = uris.sqlite_file(uri)
    if database is None:
        raise UsageError(f"{uri} is not a SQLite URI with a path; use sqlite:///ABSOLUTE/PATH/mlflow.db")
    folder = database.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder for {uri}: {exc.strerror}; choose a writable path") from None


def probe_store(uri: str, timeout: float = 10.0) -> None:
    """Open the store with MLflow's client and make one query, within the timeout."""
    from mlflow import MlflowClient

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: MlflowClient(tracking_uri=uri).search_experiments(max_results=1))
    try:
        future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise UsageError(f"the tracking store {uri} did not answer within {timeout:.0f} s; is the database running?") from None
    except Exception as exc:  # drivers raise many types; the first line says enough
        first = first_line(exc) or type(exc).__name__
        if "out-of-date database schema" in first:
            raise UsageError(f"the tracking store {uri} has an older schema than this MLflow's; "
                             f"back it up, then run `mlflow db upgrade {uri}`") from None
        raise UsageError(f"cannot use the tracking store {uri}: {first[:200]}") from None
    finally:
        pool.shutdown(wait=False)

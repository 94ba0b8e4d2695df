"""Fail fast, in one line, when a tracking URI cannot work."""
from __future__ import annotations

import concurrent.futures
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from grading.errors import UsageError

START_HINT = (
    "start one with `make ui` (serves the course store) or "
    "`mlflow server --host 127.0.0.1 --port 5000`, or leave out --tracking-uri to use the course's SQLite store"
)


def ensure_reachable(uri: str, timeout: float = 10.0) -> None:
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        _check_server(uri, timeout)
    elif scheme == "sqlite":
        _check_sqlite(uri)
    elif scheme in ("", "file") or len(scheme) == 1:  # a bare path, or a Windows drive letter
        raise UsageError(
            f"{uri} is a file store, which MLflow refuses since 3.13; use sqlite:///ABSOLUTE/PATH/mlflow.db"
        )
    else:
        _check_database(uri, timeout)


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
        with urllib.request.urlopen(f"{base}/api/2.0/mlflow/experiments/search?max_results=1", timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code == 403:
            host = urlparse(uri).netloc
            return (f"the server at {uri} answered 403 Forbidden: its Host-header check rejects {host!r}",
                    f"restart the server with --allowed-hosts {host} (or set MLFLOW_SERVER_ALLOWED_HOSTS) to the "
                    "host name and port clients use, e.g. the service name other containers use")
        return f"{exc.url} answered HTTP {exc.code}", "check that the URL points at an MLflow server"
    except (urllib.error.URLError, OSError) as exc:
        return f"no MLflow tracking server answers at {uri} ({getattr(exc, 'reason', exc)})", START_HINT


def _check_sqlite(uri: str) -> None:
    if not uri.startswith("sqlite:///") or uri == "sqlite:///":
        raise UsageError(f"{uri} is not a SQLite URI with a path; use sqlite:///ABSOLUTE/PATH/mlflow.db")
    folder = Path(uri[len("sqlite:///"):]).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder for {uri}: {exc.strerror}; choose a writable path") from None


def _check_database(uri: str, timeout: float) -> None:
    from mlflow import MlflowClient

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: MlflowClient(tracking_uri=uri).search_experiments(max_results=1))
    try:
        future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise UsageError(f"the tracking store {uri} did not answer within {timeout:.0f} s; is the database running?") from None
    except Exception as exc:  # drivers raise many types; the first line says enough
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot use the tracking store {uri}: {first[:200]}") from None
    finally:
        pool.shutdown(wait=False)

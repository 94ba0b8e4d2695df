"""Tracking and artifact URIs, parsed in one place.

A SQLite URI's path is percent-decoded, as SQLAlchemy decodes it when it opens the database.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

SQLITE_PREFIX = "sqlite:///"


def scheme(uri: str) -> str:
    """"http", "sqlite", "file", "s3", "mlflow-artifacts"...; "" for a bare path."""
    return urlparse(uri).scheme


def is_proxied(uri: str) -> bool:
    """An artifact URI of the tracking server's own proxy, ``mlflow-artifacts:/PATH``: with a host
    (``mlflow-artifacts://HOST/...``) a client would send its login to that host instead."""
    parsed = urlparse(uri)
    return parsed.scheme == "mlflow-artifacts" and not parsed.netloc


def is_server(uri: str) -> bool:
    return scheme(uri) in ("http", "https")


def is_file_store(uri: str) -> bool:
    """A bare path, a file: URI or a Windows drive letter: a file store, which MLflow 3.13+ refuses."""
    found = scheme(uri)
    return found in ("", "file") or len(found) == 1


def host_port(uri: str) -> str:
    """HOST:PORT of a server URI, with the scheme's default port when it names none."""
    parsed = urlparse(uri)
    return f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"


def host(uri: str) -> str:
    """host:port of a server URI."""
    return urlparse(uri).netloc


def sqlite_file(uri: str) -> Path | None:
    """The database file a ``sqlite:///PATH`` URI names; None for any other URI."""
    if not uri.startswith(SQLITE_PREFIX) or uri == SQLITE_PREFIX:
        return None
    return Path(unquote(uri[len(SQLITE_PREFIX):].split("?", 1)[0]))


def local_path(uri: str) -> Path | None:
    """The local file or folder a ``file://`` URI or a bare absolute path names; None when remote."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    return Path(uri) if uri.startswith("/") else None

"""Create learner accounts on a tracking server with basic auth: ``python -m course.accounts``.

    MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=... \\
        python -m course.accounts --tracking-uri http://HOST:5000 learners.csv

learners.csv has one learner a line, ``username,password`` (a first line ``username,password`` is a
header and skipped). Each user that does not exist yet is created; one that exists is kept as it is,
password included, so the command can run again after lines are added. The admin's credentials come
from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, as for any MLflow client.

It talks to the auth app's REST endpoints with the standard library: importing MLflow's client
takes seconds, and its retries would turn an unreachable server into minutes of waiting.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from course import learner, uris
from course.errors import CourseError

# The basic-auth app's routes (mlflow/server/auth/routes.py).
GET_USER = "/api/2.0/mlflow/users/get"
CREATE_USER = "/api/2.0/mlflow/users/create"
LIST_USERS = "/api/2.0/mlflow/users/list"
CURRENT_USER = "/api/2.0/mlflow/users/current"
TIMEOUT = 10.0


CLASS_APP = "course-class"  # MLflow's --app-name for the class server (course/class_server.py)
CLASS_HEADER = "X-Course-Class-Server"  # on its every answer, so a client can tell it from plain basic-auth
SERVER_USER = "course-mlflow"  # the system user the class server runs as, when started as root


def server_settings(folder: Path, admin: str, password: str) -> dict[str, str]:
    """The environment of an `mlflow server --app-name course-class`: an auth config in folder
    (learners see only their own work; a login is checked once a minute, not per request) and a
    key for the UI's forms. The same settings as docs/accounts.md."""
    import secrets

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "basic_auth.ini"
    config.write_text(f"""[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///{folder / 'auth.db'}
admin_username = {admin}
admin_password = {password}
auth_cache_ttl_seconds = 60
""")
    os.chmod(config, 0o600)
    return {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)}


@contextlib.contextmanager
def class_stack(folder: Path, admin: str, password: str, **options):
    """A class's server as docs/accounts.md sets one up: PostgreSQL, S3 and `mlflow server --app-name
    course-class`, run as its own user (SERVER_USER, when started as root) in a view that holds its
    own folder alone. options go to course.stack.production_stack."""
    from course import stack

    settings = server_settings(stack.server_folder(folder), admin, password)
    user = SERVER_USER if os.geteuid() == 0 else None
    with stack.production_stack(folder, app_name=CLASS_APP, extra_env=settings, server_user=user,
                                **{"backend": "postgres", **options}) as running:
        yield running


def is_class_server(uri: str) -> bool:
    """Whether the server at uri runs the class app (its answers carry CLASS_HEADER), even to a
    request without a login."""
    request = urllib.request.Request(uri.rstrip("/") + CURRENT_USER)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            headers = response.headers
    except urllib.error.HTTPError as exc:
        headers = exc.headers
    except (urllib.error.URLError, OSError):
        return False
    return headers.get(CLASS_HEADER) == "1"


class AccountsError(CourseError):
    """Bad input or a server that cannot take the accounts; printed as one line, exit 2."""


def read_learners(path: Path) -> list[tuple[str, str]]:
    """(username, password) per line of the CSV file, checked before any request is made."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise AccountsError(f"{path} does not exist; pass a CSV file with one `username,password` a line") from None
    except IsADirectoryError:
        raise AccountsError(f"{path} is a folder; pass a CSV file with one `username,password` a line") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AccountsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    learners: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        fields = [field.strip() for field in row]
        if not any(fields):
            continue
        if number == 1 and [f.lower() for f in fields] == ["username", "password"]:
            continue
        if len(fields) != 2 or not all(fields):
            raise AccountsError(f"{path} line {number}: expected `username,password`, got {len(fields)} field(s)"
                                f"{'' if all(fields) else ' with an empty one'}")
        username, password = fields
        if learner.prefix(username) != username + "-":
            raise AccountsError(f"{path} line {number}: {username!r} cannot start experiment names; use only letters, "
                                "digits and . _ @ + -, and no hyphen first or last")
        if username in seen:
            raise AccountsError(f"{path} line {number}: {username!r} is already on line {seen[username]}")
        seen[username] = number
        learners.append((username, password))
    if not learners:
        raise AccountsError(f"{path} lists no learners; add one `username,password` a line")
    return learners


class AuthServer:
    """The admin's view of the auth app on one tracking server."""

    def __init__(self, uri: str, username: str, password: str):
        self.uri = uri.rstrip("/")
        self.admin = username
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {pair}"}

    def _request(self, path: str, payload: dict | None = None, query: dict | None = None) -> tuple[int, dict]:
        url = self.uri + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            status, body = exc.code, _json(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise AccountsError(f"no MLflow server answers at {self.uri} ({getattr(exc, 'reason', exc)}); "
                                "check --tracking-uri and that the server runs") from None
        if status == 401:
            raise AccountsError(f"the server at {self.uri} answered 401 Unauthorized for user {self.admin!r}; "
                                "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's")
        if status == 403:
            raise AccountsError(f"the server at {self.uri} answered 403 Forbidden: {self.admin!r} is not an admin "
                                "(or the server's Host-header check rejects this address); use the admin account")
        return status, body

    def exists(self, username: str) -> bool:
        status, body = self._request(GET_USER, query={"username": username})
        if status == 200:
            return True
        if body.get("error_code") == "RESOURCE_DOES_NOT_EXIST":
            return False
        if status == 404:  # a server without the auth app has no such route
            raise AccountsError(f"{self.uri} manages no users; start it with `mlflow server --app-name basic-auth`")
        raise AccountsError(f"looking up {username!r} on {self.uri} failed: HTTP {status} {_message(body)}")

    def is_admin(self) -> bool:
        """Whether this login is an admin (a learner's may list the accounts too, but sees only their own work)."""
        status, body = self._request(CURRENT_USER)
        if status != 200:
            raise AccountsError(f"asking {self.uri} who {self.admin!r} is failed: HTTP {status} {_message(body)}")
        return bool((body.get("user") or {}).get("is_admin"))

    def users(self) -> list[dict]:
        """Every account on the server: {"username": ..., "is_admin": ...} each."""
        status, body = self._request(LIST_USERS)
        if status == 404:
            raise AccountsError(f"{self.uri} manages no users; start it with `mlflow server --app-name basic-auth`")
        if status != 200 or not isinstance(body.get("users"), list):
            raise AccountsError(f"listing the users of {self.uri} failed: HTTP {status} {_message(body)}")
        return [u for u in body["users"] if isinstance(u, dict) and isinstance(u.get("username"), str)]

    def create(self, username: str, password: str) -> None:
        status, body = self._request(CREATE_USER, payload={"username": username, "password": password})
        if status != 200:
            raise AccountsError(f"cannot create {username!r}: HTTP {status} {_message(body)}")


def clashing_names(existing: list[str], new: list[str]) -> tuple[str, str] | None:
    """Two accounts, one with the other's name and a hyphen first (alice, alice-b), at least one of
    them new: a name like alice-b-lab04 would then be claimed by both. (shorter, longer) or None."""
    everyone = sorted(set(existing) | set(new))
    for shorter in everyone:
        for longer in everyone:
            if longer.startswith(shorter + "-") and (shorter in new or longer in new):
                return shorter, longer
    return None


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"message": raw.decode(errors="replace").strip()[:200]}
    return value if isinstance(value, dict) else {}


def _message(body: dict) -> str:
    return " ".join(str(body.get("message", "")).split())[:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.accounts", description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="the server, http(s)://HOST:PORT (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("learners", type=Path, help="CSV file, one `username,password` a line")
    args = parser.parse_args(argv)
    try:
        learners = read_learners(args.learners)
        uri = args.tracking_uri or ""
        if not uri:
            raise AccountsError("pass --tracking-uri (or set MLFLOW_TRACKING_URI) to the server's http(s):// address")
        if not uris.is_server(uri):
            raise AccountsError(f"--tracking-uri must be the server's http(s):// address, not {uri!r}")
        admin = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
        if not admin or not password:
            raise AccountsError("set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's credentials")
        server = AuthServer(uri, admin, password)
        clash = clashing_names([u["username"] for u in server.users()], [u for u, _ in learners])
        if clash:
            raise AccountsError(f"{clash[1]!r} would own every name that starts {clash[0]!r} does too "
                                f"({clash[1]}-lab04 is also {clash[0]}'s \"{clash[1][len(clash[0]) + 1:]}-lab04\"); "
                                f"rename {clash[1]!r}")
        for username, learner_password in learners:
            if server.exists(username):
                print(f"kept     {username} (exists; password unchanged)", flush=True)
            else:
                server.create(username, learner_password)
                print(f"created  {username}", flush=True)
    except AccountsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

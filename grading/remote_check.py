"""Self-checks graded outside the learner's view: ``python -m grading.remote_check --tracking-uri URL --port N``.

Some expectations hold answers: the quiz's are salted digests, and with four choices a question,
trying each recovers them in milliseconds. The class hub keeps such files out of learners' views
(:func:`holds_answers`) and runs this service instead. A learner's self-check posts its target to
it with the learner's own MLflow login (HTTP basic auth); the service checks the login with the
MLflow server, grades as ``python -m grading check`` does with that login (so it reads only what
the learner may read, under the learner's names), and answers with the report, which says which
answers are wrong and where to reread, never what is right.

It listens on 127.0.0.1 (learners reach it through their network's relay, course.hub.relay), grades
a few requests at a time, and limits failed logins as the hub does (course.ratelimit).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from course import ratelimit
from course.accounts import AccountsError, AuthServer
from grading.engine.expectations import FOLDER, targets

PATH = "/check"
CHECK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # never an option of the command line
BODY_CAP = 16 * 1024
REPLY_CAP = 1024 * 1024
AT_ONCE = 2  # checks graded at the same time; the others wait their turn
TIMEOUT = 300.0


def holds_answers(path: Path) -> bool:
    """Whether an expectations file checks a value against a digest (the answer, salted and hashed)."""
    def digests(value) -> bool:
        if isinstance(value, dict):
            return "sha256" in value or any(digests(v) for v in value.values())
        return isinstance(value, list) and any(digests(v) for v in value)

    try:
        return digests(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError):
        return False


def grade(uri: str, username: str, password: str, target: str, only: list[str]) -> dict:
    """`python -m grading check` as the learner, in a process of its own; its exit code and output."""
    argv = [sys.executable, "-m", "grading", "check", target, "--tracking-uri", uri, "--format", "json"]
    for check_id in only:
        argv += ["--only", check_id]
    with tempfile.TemporaryDirectory(prefix="remote-check-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8",
               "MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password,
               "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_LOGGING_LEVEL": "WARNING"}
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TIMEOUT,
                                  stdin=subprocess.DEVNULL, cwd=home)
        except subprocess.TimeoutExpired:
            return {"code": 2, "stdout": "", "stderr": f"error: the grader did not finish within {TIMEOUT:.0f} s"}
    return {"code": done.returncode, "stdout": done.stdout[:REPLY_CAP], "stderr": done.stderr[-4000:]}


class Service(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, uri: str):
        super().__init__(("127.0.0.1", port), Handler)
        self.uri = uri
        self.logins = ratelimit.Logins()
        self.turns = threading.BoundedSemaphore(AT_ONCE)
        self.known = set(targets(FOLDER))


class Handler(BaseHTTPRequestHandler):
    server: Service

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write(f"{self.address_string()} {format % args}\n")  # never a password: it is in a header

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, message: str) -> None:
        self._reply(status, {"code": 2, "stdout": "", "stderr": f"error: {message}"})

    def _login(self) -> tuple[str, str] | None:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (username, password) if scheme.lower() == "basic" and username and password else None

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path != PATH:
            return self._refuse(HTTPStatus.NOT_FOUND, f"post a self-check to {PATH}")
        login = self._login()
        if login is None:
            return self._refuse(HTTPStatus.UNAUTHORIZED, "send your MLflow login (MLFLOW_TRACKING_USERNAME and _PASSWORD)")
        address = self.client_address[0]
        if self.server.logins.refused(*login, address):
            return self._refuse(HTTPStatus.TOO_MANY_REQUESTS, "too many failed logins; wait and try again")
        try:
            size = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(size)) if 0 < size <= BODY_CAP else None
        except ValueError:
            request = None
        target, only = (request or {}).get("target"), (request or {}).get("only") or []
        if target not in self.server.known or not isinstance(only, list) or \
                not all(isinstance(c, str) and CHECK_ID.fullmatch(c) for c in only):
            return self._refuse(HTTPStatus.BAD_REQUEST, "send {\"target\": a section or lab id, \"only\": [check ids]}")
        try:
            AuthServer(self.server.uri, *login).is_admin()
        except AccountsError as exc:
            if "401" in str(exc):
                self.server.logins.failed(login[0], address)
                return self._refuse(HTTPStatus.UNAUTHORIZED, "the MLflow server does not accept this login")
            return self._refuse(HTTPStatus.BAD_GATEWAY, str(exc))
        self.server.logins.succeeded(*login)
        with self.server.turns:
            self._reply(HTTPStatus.OK, grade(self.server.uri, *login, target, only))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.remote_check", description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True, help="the class's MLflow server")
    parser.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    try:
        service = Service(args.port, args.tracking_uri)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"listening {service.server_address[1]}", flush=True)
    service.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The class's MLflow server: ``mlflow server --app-name course-class``.

MLflow's basic-auth app (accounts, per-experiment permissions), with three rules a server that a
whole class shares needs and basic-auth lacks. pyproject.toml registers the app under MLflow's
``mlflow.app`` entry point; :func:`create_app` adds the rules to basic-auth's own app, after its
login check, and changes nothing else.

- **Artifacts stay behind the server's proxy.** An experiment's artifact location is the server's
  own (``mlflow-artifacts:``) or none. A local path would have the server read and write files
  there as itself, whatever symlinks a learner planted.
- **A name belongs to the account it starts with.** ``alice-lab04`` and ``alice-lab04-classifier``
  are alice's: nobody else creates an experiment or a registered model under that name, or
  renames one to it, even before alice's first login. Admins are exempt. Where two accounts
  could claim a name (``alice`` and ``alice-b``), the longer account name owns it.
- **A model version comes from the server's own files** (a logged model, a run's artifacts).
- **Logins are rate-limited** per account and per address (course.ratelimit): past the limit, a
  login is refused with 429 before basic-auth spends CPU on its password.
- **The roster is the instructor's.** Only an admin lists the accounts.
- **A run's user is its creator.** The server writes the login into a new run's ``user_id`` (and
  its ``mlflow.user`` tag), whatever the client sent, so ``grade-class`` can tell whose runs are whose.
"""
from __future__ import annotations

import json

from flask import Response, g, request
from mlflow.protos.model_registry_pb2 import CreateModelVersion, CreateRegisteredModel, RenameRegisteredModel
from mlflow.protos.service_pb2 import CreateExperiment, CreateRun, UpdateExperiment
from mlflow.server import app as flask_app
from mlflow.server import auth, handlers
from mlflow.server.auth import routes

from course import ratelimit, uris
from course.accounts import CLASS_HEADER
PROXIED = "mlflow-artifacts:/"
SOURCES = (PROXIED, "models:/", "runs:/")  # what a model version may come from: the server's own files
USER_TAG = "mlflow.user"
# The field of each request that names the new thing; the artifact location goes with CreateExperiment.
NAMED = {CreateExperiment: ("experiment", "name"), UpdateExperiment: ("experiment", "new_name"),
         CreateRegisteredModel: ("registered model", "name"), RenameRegisteredModel: ("registered model", "new_name")}


def _routes() -> dict[str, type]:
    """Every path (REST and the UI's ajax) that serves one of the requests the rules cover."""
    covered = {*NAMED, CreateRun, CreateModelVersion}
    return {path: handler for path, handler, _ in handlers.get_endpoints(lambda rc: rc if rc in covered else None)
            if handler in covered}


ROUTES = _routes()
# A learner has no need of the class's roster (basic-auth lets any account list every other).
ADMINS_ONLY = {routes.LIST_USERS, routes.AJAX_LIST_USERS}


def owner(name: str, accounts: list[str]) -> str | None:
    """The account a name belongs to: the longest account name that starts it, then a hyphen."""
    claims = [account for account in accounts if name.startswith(account + "-")]
    return max(claims, key=len) if claims else None


def refusal(message: str) -> Response:
    body = {"error_code": "PERMISSION_DENIED", "message": message}
    return Response(json.dumps(body), status=403, mimetype="application/json")


def enforce() -> Response | None:
    """Runs after basic-auth's check, so the caller is a known, logged-in account."""
    # The route Flask matched, not the raw path: no spelling of the path can step around a rule.
    rule = request.url_rule.rule if request.url_rule is not None else None
    if rule in ADMINS_ONLY and not auth.store.get_user(g.mlflow_authenticated_user).is_admin:
        return refusal("only an admin lists the accounts on this class server")
    kind = ROUTES.get(rule)
    if kind is None or request.method != "POST":
        return None  # health checks and static files come here too, with no login at all
    username = g.mlflow_authenticated_user
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        # MLflow would decode a JSON string holding JSON a second time, past these rules.
        return refusal("send the request's body as a JSON object")
    if kind is CreateRun:
        body["user_id"] = username  # the parsed body is cached: MLflow's handler reads this same dict
        tags = [t for t in body.get("tags") or [] if not (isinstance(t, dict) and t.get("key") == USER_TAG)]
        body["tags"] = [*tags, {"key": USER_TAG, "value": username}]
        return None
    if kind is CreateModelVersion:
        source = str(body.get("source") or "")
        if not (uris.is_proxied(source) or source.startswith(SOURCES[1:])):
            return refusal(f"a model version's source on this class server is one of its own models ({', '.join(SOURCES)})")
        return None
    location = body.get("artifact_location") if kind is CreateExperiment else None
    if location and not uris.is_proxied(str(location)):
        return refusal(f"artifact locations on this class server are the server's own ({PROXIED}); "
                       "leave artifact_location out")
    what, field = NAMED[kind]
    name = body.get(field)
    if not isinstance(name, str) or auth.store.get_user(username).is_admin:
        return None  # a missing name is MLflow's own error to report
    accounts = [user.username for user in auth.store.list_users()]
    if owner(name, accounts) != username:
        return refusal(f"{what} names on this class server start with your username and a hyphen: "
                       f"name it {username}-...; {name!r} is not yours")
    return None


LOGINS = ratelimit.Logins()  # per worker process: with N workers, N times the limits


def _basic_login() -> tuple[str, str] | None:
    given = request.authorization
    if given is None or given.type != "basic" or given.username is None:
        return None
    return given.username, given.password or ""


def limit() -> Response | None:
    """Runs before basic-auth's check: a login past the limits is refused without one."""
    login = _basic_login()
    if login is None or not LOGINS.refused(*login, request.remote_addr or ""):
        return None
    body = {"error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": f"too many failed logins for this account or address; wait {ratelimit.WINDOW_SECONDS:.0f} s"}
    return Response(json.dumps(body), status=429, mimetype="application/json",
                    headers={"Retry-After": f"{ratelimit.WINDOW_SECONDS:.0f}"})


def settle(response: Response) -> Response:
    """Count what came of a login, and say on every answer which app this is."""
    login = _basic_login()
    if login is not None:
        if response.status_code == 401:
            LOGINS.failed(login[0], request.remote_addr or "")
        elif g.get("mlflow_authenticated_user") == login[0]:  # basic-auth checked it and let it in
            LOGINS.succeeded(*login)
    response.headers[CLASS_HEADER] = "1"
    return response


def create_app():
    """basic-auth's app, with :func:`limit` before its own check and :func:`enforce` after it (Flask
    runs them in the order they were added), and :func:`settle` on every answer."""
    flask_app.before_request(limit)
    served = auth.create_app(flask_app)
    flask_app.before_request(enforce)
    flask_app.after_request(settle)
    return served

"""The hub's login: one account per learner, the one the MLflow server already has.

A login is accepted when the MLflow server accepts the same username and password (basic auth on
its users/current endpoint, which also says whether the account is an admin: MLflow's admins are
the hub's admins). Failed logins are rate-limited per account and per address (course.ratelimit). The password is kept as the user's auth state, which JupyterHub encrypts with
JUPYTERHUB_CRYPT_KEY, and reaches only that learner's own server, as MLFLOW_TRACKING_PASSWORD.
"""
from __future__ import annotations

import asyncio
import pwd
import re

from jupyterhub.auth import Authenticator, LocalAuthenticator
from traitlets import Unicode, default

from course import ratelimit
from course.accounts import AccountsError, AuthServer

# A system user made for the course carries this comment, so an existing account (root, postgres)
# with a learner's name is never taken over.
LEARNER_COMMENT = "course learner"
NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")  # what useradd takes, and MLflow's experiment names can carry
# Guesses stop here, before they reach the MLflow server (which limits them too, course.class_server).
LOGINS = ratelimit.Logins()


class Refused(Exception):
    """The MLflow server does not accept this username and password."""


def mlflow_login(uri: str, username: str, password: str) -> bool:
    """Whether the account is an MLflow admin; Refused for a wrong password or an unknown user."""
    try:
        return AuthServer(uri, username, password).is_admin()
    except AccountsError as exc:
        if "401" in str(exc):
            raise Refused(username) from None
        raise


class MLflowLogin(Authenticator):
    """The login alone: for a hub whose spawner makes no system users (KubeSpawner on Kubernetes)."""

    tracking_uri = Unicode(help="The MLflow server whose accounts are the hub's").tag(config=True)

    @default("allow_all")
    def _allow_all(self):
        return True  # every account of the MLflow server is a member of the class

    async def authenticate(self, handler, data):
        username, password = (data or {}).get("username", ""), (data or {}).get("password", "")
        if not NAME.fullmatch(username) or not password:
            return None
        address = getattr(getattr(handler, "request", None), "remote_ip", "") or ""
        if LOGINS.refused(username, password, address):
            self.log.warning("login refused for %s from %s: too many failed logins; not checked", username, address)
            return None
        try:
            admin = await asyncio.to_thread(mlflow_login, self.tracking_uri, username, password)
        except Refused:
            LOGINS.failed(username, address)
            self.log.warning("login refused for %s: the MLflow server does not accept that password", username)
            return None
        except AccountsError as exc:
            self.log.error("cannot check %s's login: %s", username, exc)
            return None
        if not self.may_become(username):
            return None
        LOGINS.succeeded(username, password)
        return {"name": username, "admin": admin,
                "auth_state": {"mlflow_username": username, "mlflow_password": password}}

    def may_become(self, username: str) -> bool:
        return True

    async def pre_spawn_start(self, user, spawner):
        state = await user.get_auth_state()
        if not state:
            raise RuntimeError(f"{user.name} has no MLflow login in the hub; log out and log in again")
        spawner.environment.update({
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_TRACKING_USERNAME": state["mlflow_username"],
            "MLFLOW_TRACKING_PASSWORD": state["mlflow_password"],
        })


class MLflowAuthenticator(MLflowLogin, LocalAuthenticator):
    """The login, and a system user for each learner (course.hub's local processes run as them)."""

    home_base = Unicode("/home", help="Where learners' homes are made (a volume of their own in a container)").tag(
        config=True)

    @default("create_system_users")
    def _create_system_users(self):
        return True

    @default("add_user_cmd")
    def _add_user_cmd(self):
        # JupyterHub appends the name. Homes are private: no learner reads another's notebooks.
        return ["useradd", "--create-home", "--base-dir", self.home_base, "--user-group", "--key", "HOME_MODE=0700",
                "--shell", "/usr/sbin/nologin", "--comment", LEARNER_COMMENT]

    def may_become(self, username: str) -> bool:
        try:
            account = pwd.getpwnam(username)
        except KeyError:
            return True
        if account.pw_gecos == LEARNER_COMMENT:
            return True
        self.log.error("login refused for %s: a system account of that name exists and is not a course learner's",
                       username)
        return False

"""Who is in the class: the accounts CSV (passwords unused), or every non-admin account on the server."""
from __future__ import annotations

from pathlib import Path

from course import accounts
from grading.errors import UsageError


def learners(uri: str, table: Path | None, admin: tuple[str, str]) -> list[str]:
    try:
        if not accounts.AuthServer(uri, *admin).is_admin():
            raise UsageError(f"{admin[0]!r} is not an admin on {uri}, so the learners' work is hidden from it; set "
                             "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's account")
        if table is not None:
            return [username for username, _ in accounts.read_learners(table)]
        server = accounts.AuthServer(uri, *admin)
        return sorted(u["username"] for u in server.users() if not u.get("is_admin"))
    except accounts.AccountsError as exc:
        raise UsageError(str(exc)) from None

"""Errors a user can fix: each prints as one line and exits with code 2."""


class UsageError(Exception):
    """Bad input or unreachable infrastructure; the message says what to do."""

    exit_code = 2

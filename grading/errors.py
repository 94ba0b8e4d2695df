"""Errors a user can fix: each prints as one line and exits with code 2 (course.errors.CourseError)."""
from __future__ import annotations

from course.errors import CourseError


def first_line(error: object, width: int = 200) -> str:
    """The first non-empty line of an exception's message (or any text), cut to width; "" if none."""
    lines = str(error).strip().splitlines()
    return lines[0][:width] if lines else ""


class UsageError(CourseError):
    """Bad input or unreachable infrastructure; the message says what to do."""
